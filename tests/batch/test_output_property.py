"""Property test of the output rule (issue 12): random, seeded sequences of runs on one output.

Steps: a run to the end; a run killed with SIGKILL at a random moment; a run with other settings;
a second run while one is writing (then the first killed or finished); a run with --overwrite.
Whatever the sequence:

- no row is ever duplicated, and every row comes from the settings that own the file;
- a run that finishes leaves every input exactly once (the broken one as an error row, exit 3);
- a refused run changes no file, says so in one `error:` line, and exits 1;
- files that are not the run's own (an unrelated CSV, another run's output) never change.

The runs use tests/output_worker.py: the real claim/resume/write path with a stand-in model.
CI runs two short sequences; for a longer hunt: PROPERTY_STEPS=25 PROPERTY_SEEDS=1,2,3 pytest this file.
"""

from __future__ import annotations

import csv
import io
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from factories import make_image

WORKER = Path(__file__).with_name("output_worker.py")
ROOT = Path(__file__).resolve().parents[2]
N_GOOD = 11
STEPS = int(os.environ.get("PROPERTY_STEPS", "12"))


def start(out: Path, folder: Path, variant: str, delay: float, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(out), str(folder), variant, str(delay), *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def files(folder: Path) -> dict[str, bytes]:
    """Every file but lock files (a refused run may clear a lock left by a killed one)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and not p.name.endswith(".lock")}


def complete_rows(out: Path) -> list[list[dict]]:
    """The complete rows of each data file of `out` (a cut-off last line is not a row yet)."""
    tables = []
    if out.suffix == ".csv" and out.exists():
        text = out.read_bytes().decode()
        text = text[: text.rfind("\n") + 1]
        records = list(csv.DictReader(io.StringIO(text, newline="")))
        tables.append([{**r, "source": r["source"].removeprefix("'"), "error": r["error"] or None} for r in records])
    if out.suffix == ".jsonl" and out.exists():
        text = out.read_text()
        tables.append(pl.read_ndjson(io.StringIO(text[: text.rfind("\n") + 1])).to_dicts() if "\n" in text else [])
    if out.suffix == ".parquet":
        if out.exists():
            tables.append(pl.read_parquet(io.BytesIO(out.read_bytes())).to_dicts())
        partial = out.with_name(out.name + ".partial.jsonl")
        if partial.exists():
            text = partial.read_text()
            tables.append(pl.read_ndjson(io.StringIO(text[: text.rfind("\n") + 1])).to_dicts() if "\n" in text else [])
    return tables


def has_data(out: Path) -> bool:
    partial = out.with_name(out.name + ".partial.jsonl")
    return any(p.exists() and p.stat().st_size for p in (out, partial))


def check_rows(out: Path, owner: str | None, expect_complete: bool, inputs: list[str]) -> None:
    tables = complete_rows(out)
    for rows in tables:
        keys = [(r["source"], r["frame"]) for r in rows]
        assert len(keys) == len(set(keys)), f"duplicated rows in {out.name}"
        for r in rows:
            if r["error"] is None:
                assert r["label"] == f"{owner}:{Path(r['source']).name}", f"a row of another run: {r}"
    if expect_complete:
        (rows,) = tables[:1]
        assert sorted(r["source"] for r in rows) == sorted(inputs)
        assert [Path(r["source"]).name for r in rows if r["error"] is not None] == ["zz-broken.png"]


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize(("fmt", "seed"), [("csv", 12), ("parquet", 7)] + [(f, int(s)) for s in os.environ.get("PROPERTY_SEEDS", "").split(",") if s for f in ("csv", "parquet", "jsonl")])
def test_random_runs_never_lose_mix_or_touch_others(tmp_path, fmt, seed):
    rng = random.Random(seed)
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(N_GOOD):
        make_image(folder / f"im{i:02d}.png", size=(16, 12), seed=i)
    (folder / "zz-broken.png").write_bytes(b"not an image")
    inputs = sorted(str(p) for p in folder.iterdir())
    work = tmp_path / "out"
    work.mkdir()
    (work / "budget.csv").write_bytes(b"name,amount\nalice,10\ncarol,30")
    assert finish(start(work / f"other.{fmt}", folder, "Z", 0.0))[0] == 3  # another output beside it
    decoys = {name: data for name, data in files(work).items()}
    out = work / f"o.{fmt}"
    owner: str | None = None

    def must_refuse(variant: str) -> bool:
        return has_data(out) and owner is not None and owner != variant

    kinds = ["run", "kill", "other", "concurrent", "overwrite"]
    actions = kinds + rng.choices(kinds, [3, 4, 3, 2, 1], k=max(0, STEPS - len(kinds)))  # each kind at least once
    rng.shuffle(actions)
    for step, action in enumerate(actions):
        variant = (owner or "A") if action in ("run", "kill", "concurrent") else rng.choice("AB")
        before = files(work)
        refuse = must_refuse(variant) and action not in ("overwrite", "concurrent")
        if action == "concurrent":
            # the first run redoes the whole file (--overwrite), so it holds the lock for a while
            first = start(out, folder, variant, 0.15, "--overwrite")
            lock = work / f"o.{fmt}.lock"
            deadline = time.time() + 20
            while first.poll() is None and time.time() < deadline:  # until the first run holds the lock
                if lock.exists() and f"pid {first.pid}" in lock.read_text(errors="replace"):
                    break
                time.sleep(0.01)
            code, err = finish(start(out, folder, variant, 0.0))
            if first.poll() is None:  # the first run held the lock throughout: the second is refused
                assert code == 1 and err.count("\n") == 1 and "in use" in err, err
            if rng.random() < 0.5:
                first.send_signal(signal.SIGKILL)
                first.wait()
            else:
                code, err = finish(first)
                assert code == 3, err
            owner = variant
        elif action == "kill":
            proc = start(out, folder, variant, 0.05)
            time.sleep(rng.uniform(0.05, 1.2))
            proc.send_signal(signal.SIGKILL)
            code, err = finish(proc)
            if code == 1:  # it got to refuse before the kill
                assert refuse and err.startswith("error: "), err
            if refuse:
                assert files(work) == before, "a refused run changed a file"
            owner = owner if refuse else variant
        else:
            code, err = finish(start(out, folder, variant, 0.0, *(["--overwrite"] if action == "overwrite" else [])))
            if refuse:
                assert code == 1 and err.count("\n") == 1 and err.startswith("error: ") and "--overwrite" in err, err
                assert files(work) == before, "a refused run changed a file"
            else:
                assert code == 3, err
                owner = variant
        assert {name: data for name, data in files(work).items() if name in decoys} == decoys, f"step {step} ({action})"
        check_rows(out, owner, expect_complete=action in ("run", "other", "overwrite") and not refuse, inputs=inputs)

    code, err = finish(start(out, folder, owner or "A", 0.0))
    assert code == 3, err
    check_rows(out, owner or "A", expect_complete=True, inputs=inputs)
    assert {name: data for name, data in files(work).items() if name in decoys} == decoys
