"""Check, before a GPU check spends device time, that this interpreter meets pyproject's requirements.

The device machine runs its own image's packages, not this project's pins, so a missing package
or an older version (its transformers 5.17 against the project's >= 5.24) would otherwise show up
as failed tests and a crashed benchmark minutes later. Every unmet requirement is listed at once.

    python3 benchmarks/check_requirements.py --extras fp8 --skip starlette,uvicorn
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def requirements(pyproject: Path, extras: list[str]) -> list[Requirement]:
    """The project's dependencies and those of `extras` that apply to this platform."""
    project = tomllib.loads(pyproject.read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    found = [Requirement(line) for line in lines]
    return [req for req in found if req.marker is None or req.marker.evaluate()]


def problem(req: Requirement) -> str | None:
    """Why `req` is not met (missing, or installed outside its range), or None when it is."""
    try:
        installed = version(req.name)
    except PackageNotFoundError:
        return f"MISSING  {req}"
    if req.specifier and not req.specifier.contains(installed, prereleases=True):
        return f"VERSION  {req.name} {installed} (needs {req.specifier})"
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extras", default="", help="comma-separated extras whose requirements count too")
    parser.add_argument("--skip", default="", help="comma-separated requirements the check does not use")
    args = parser.parse_args(argv)
    skip = {name.strip().lower() for name in args.skip.split(",") if name.strip()}
    extras = [name.strip() for name in args.extras.split(",") if name.strip()]
    failed = 0
    for req in requirements(PYPROJECT, extras):
        if req.name.lower() in skip:
            continue
        why = problem(req)
        print(why or f"ok       {req.name} {version(req.name)}")
        failed += why is not None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
