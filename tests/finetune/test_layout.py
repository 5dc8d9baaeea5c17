"""finetune's layout: installed as `llava_cli.finetune` (never a top-level `finetune`, a name PyPI
already has), every package listed for the wheel, and modules and functions small enough to read."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 50


def _setuptools() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_finetune_installs_inside_llava_cli():
    config = _setuptools()
    assert config["package-dir"] == {"llava_cli.finetune": "finetune"}
    assert not any(name == "finetune" or name.startswith("finetune.") for name in config["packages"])
    assert "recipes/*.yaml" in config["package-data"]["llava_cli.finetune"]


def test_every_package_folder_is_in_the_wheel():
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "llava_cli").rglob("__init__.py")}
    on_disk |= {"llava_cli." + ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "finetune").rglob("__init__.py")}
    assert on_disk == set(_setuptools()["packages"])


def test_the_package_is_importable_as_llava_cli_finetune():
    import llava_cli.finetune.api
    import llava_cli.finetune.data

    assert Path(llava_cli.finetune.__file__).resolve() == ROOT / "finetune" / "__init__.py"
    assert llava_cli.finetune.data.read_data.__module__ == "llava_cli.finetune.data"


def _long_functions(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            reason = re.search(r"\blong\b.*\bbecause\b", ast.get_docstring(node) or "", re.I | re.S)
            if length > MAX_FUNCTION_LINES and not reason:
                yield f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)"


def test_modules_and_functions_are_small():
    modules = sorted((ROOT / "finetune").rglob("*.py"))
    too_long = [f"{p.relative_to(ROOT)} ({n} lines)" for p in modules if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES]
    assert not too_long
    assert not [f for p in modules for f in _long_functions(p)]


def test_nothing_imports_a_top_level_finetune():
    pattern = re.compile(r"^\s*(from\s+finetune\b|import\s+finetune\b)", re.M)
    files = [p for folder in ("llava_cli", "finetune", "tests", "examples", "benchmarks") for p in (ROOT / folder).rglob("*.py")]
    assert not [str(p.relative_to(ROOT)) for p in files if pattern.search(p.read_text(encoding="utf-8"))]
