"""The package graph: every module imports on its own and in any order, imports go one way (no
circle among the package's modules), and production code never imports the test builders.

The graph is read from the source with `ast`, so it covers imports inside functions too (a lazy
import that closes a circle is still a circle a reader has to untangle). An edge goes to the module
named (`from . import data` -> the `data` module; `from .x import y` -> `x`, or `x.y` where that is
a module); the parent packages Python initializes on the way are not counted as edges.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Source folders of the package. `finetune/` sits at the repository's top but installs as
# `llava_cli.finetune` (pyproject's package-dir), so its modules are named that way here.
PACKAGES = [name for name in ("llava_cli", "finetune") if (ROOT / name / "__init__.py").is_file()]
INSTALLED_AS = {"finetune": ["llava_cli", "finetune"]}
TEST_ONLY = ("llava_cli.testing",)  # builders of tiny models for tests: never imported by production code
TEST_TOP_LEVEL = {"tests", "conftest", "factories", "finetune_factories", "review_factories"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    parts = INSTALLED_AS.get(parts[0], [parts[0]]) + parts[1:]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


MODULES = all_modules()


def is_type_checking_block(node) -> bool:
    test = getattr(node, "test", None) if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(name: str, path: Path) -> set[str]:
    """Absolute names of everything `path` imports (at the top and inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    typing_only = {id(n) for block in ast.walk(tree) if is_type_checking_block(block) for s in block.body for n in ast.walk(s)}
    for node in ast.walk(tree):
        if id(node) in typing_only:  # `if TYPE_CHECKING:` imports never run
            continue
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in MODULES else base)
    return out


def graph() -> dict[str, set[str]]:
    return {name: {m for m in imported_names(name, path) if m in MODULES and m != name} for name, path in MODULES.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


# The layers, low to high: the package's folders (docs/ARCHITECTURE.md has the same table). A module
# may import its own folder and anything on a lower layer; never a higher one, never a folder beside
# it on the same layer (model and media know nothing of each other; one command never reaches into
# another, except where ALLOWED_ACROSS says why).
LAYERS = [
    ("leaf", ("llava_cli", "llava_cli.errors", "llava_cli.columns", "llava_cli.quiet", "llava_cli.lazy")),
    ("output", ("llava_cli.output",)),
    ("config", ("llava_cli.config",)),
    ("model and media", ("llava_cli.model", "llava_cli.media")),
    ("batch", ("llava_cli.batch",)),
    ("commands", ("llava_cli.classify", "llava_cli.annotate", "llava_cli.chat", "llava_cli.evaluation",
                  "llava_cli.review", "llava_cli.finetune")),
    ("command line", ("llava_cli.commands",)),  # each command's flags -> its config -> its Python API
    ("app", ("llava_cli.cli",)),  # registers the commands
    ("entry point", ("llava_cli.__main__",)),
]
# finetune reports held-out label accuracy with classify's own scorer, so training and classify
# can never disagree on what a label's probability is.
ALLOWED_ACROSS = {("llava_cli.finetune", "llava_cli.classify")}


def folder_of(name: str) -> tuple[int, str]:
    """(layer rank, folder) of a module: the longest folder prefix in LAYERS that names it."""
    best = None
    for rank, (_, folders) in enumerate(LAYERS):
        for folder in folders:
            if (name == folder or name.startswith(folder + ".")) and (best is None or len(folder) > len(best[1])):
                best = (rank, folder)
    if best is None:
        raise AssertionError(f"{name} is in no layer: add its folder to LAYERS (and to docs/ARCHITECTURE.md)")
    return best


def layer_violations(edges: dict[str, set[str]]) -> list[str]:
    bad = []
    for name, deps in edges.items():
        if name.startswith(TEST_ONLY):
            continue
        rank, folder = folder_of(name)
        for dep in deps:
            dep_rank, dep_folder = folder_of(dep)
            if dep_folder == folder or dep_rank < rank or (folder, dep_folder) in ALLOWED_ACROSS:
                continue
            where = "a higher layer" if dep_rank > rank else "a folder beside it"
            bad.append(f"{name} imports {dep} ({where}: {LAYERS[dep_rank][0]})")
    return sorted(bad)


def test_every_module_is_in_a_layer():
    for name in MODULES:
        if not name.startswith(TEST_ONLY):
            folder_of(name)


def test_imports_go_down_the_layers():
    bad = layer_violations(graph())
    assert not bad, "\n".join(bad)


def test_layer_check_catches_an_upward_or_sideways_import():
    edges = {"llava_cli.model.scoring": {"llava_cli.batch.jobs", "llava_cli.media.video", "llava_cli.errors"},
             "llava_cli.classify.api": {"llava_cli.chat.session", "llava_cli.model.scoring"},
             "llava_cli.finetune.trainer": {"llava_cli.classify.api"}}
    assert layer_violations(edges) == [
        "llava_cli.classify.api imports llava_cli.chat.session (a folder beside it: commands)",
        "llava_cli.model.scoring imports llava_cli.batch.jobs (a higher layer: batch)",
        "llava_cli.model.scoring imports llava_cli.media.video (a folder beside it: model and media)",
    ]


def test_the_walk_sees_the_package():
    edges = graph()
    assert {"llava_cli.cli", "llava_cli.commands.classify_cmd", "llava_cli.evaluation.report"} <= set(edges)
    assert "llava_cli.commands.classify_cmd" in edges["llava_cli.cli"]
    assert "llava_cli.evaluation.metrics" in edges["llava_cli.evaluation.report"]  # `from . import metrics`


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle():
    cycle = find_cycle(graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_commands_never_import_the_app():
    for name, deps in graph().items():
        if name.startswith("llava_cli.commands"):
            assert "llava_cli.cli" not in deps, f"{name} imports llava_cli.cli"


def test_production_code_never_imports_test_builders():
    bad = []
    for name, path in MODULES.items():
        if name.startswith(TEST_ONLY):
            continue
        for imported in imported_names(name, path):
            if imported.startswith(TEST_ONLY) or imported.split(".")[0] in TEST_TOP_LEVEL:
                bad.append(f"{name} imports {imported}")
    assert not bad, "; ".join(bad)


def _import_in_order(names: list[str]) -> subprocess.CompletedProcess:
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    return subprocess.run([sys.executable, "-c", code, *names], cwd=ROOT, capture_output=True, text=True, timeout=300)


IMPORTABLE = sorted(n for n in MODULES if not n.endswith("__main__"))  # __main__ runs the CLI


@pytest.mark.parametrize("order", ["sorted", "reversed", "leaves-first", "shuffled"])
def test_every_module_imports_in_any_order(order):
    """Fresh interpreters import every module in several orders; none fails on a half-built module."""
    import random

    names = list(IMPORTABLE)
    if order == "reversed":
        names.reverse()
    elif order == "leaves-first":
        edges = graph()
        names.sort(key=lambda n: (len(edges[n]), n))
    elif order == "shuffled":
        random.Random(14).shuffle(names)
    result = _import_in_order(names)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("name", ["llava_cli.cli", "llava_cli.commands.classify_cmd", "llava_cli.commands._errors",
                                  "llava_cli.commands.options", "llava_cli.evaluation", "llava_cli.errors"])
def test_entry_modules_import_first(name):
    """The modules a user or a command reaches first import alone, in a fresh interpreter."""
    result = _import_in_order([name])
    assert result.returncode == 0, result.stderr[-3000:]


def test_command_folders_name_their_api_and_load_it_on_first_use():
    """`from llava_cli.classify import Classifier` (the README's API) works, and importing the folders alone
    loads no torch: `llava-cli --help` and the light modules stay light."""
    code = (
        "import sys\n"
        "import llava_cli.annotate, llava_cli.chat, llava_cli.classify, llava_cli.model\n"
        "assert 'torch' not in sys.modules, 'a command folder imported torch'\n"
        "from llava_cli.classify import Classifier, run_classify\n"
        "from llava_cli.model import load_model\n"
        "from llava_cli.chat import ChatSession\n"
        "from llava_cli.annotate import run_annotate\n"
        "assert 'torch' in sys.modules\n"
        "print(Classifier.__module__, run_classify.__module__, load_model.__module__, ChatSession.__module__, run_annotate.__module__)\n"
        "try:\n    llava_cli.classify.nothing\nexcept AttributeError as e:\n    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == [
        "llava_cli.classify.api llava_cli.classify.api llava_cli.model.loading llava_cli.chat.session llava_cli.annotate.api",
        "module 'llava_cli.classify' has no attribute 'nothing'",
    ]
