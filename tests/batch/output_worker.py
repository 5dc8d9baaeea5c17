"""A batch run with a stand-in model, for the output-rule property test (tests/batch/test_output_property.py).

It goes through exactly what classify does with its output (claim_output: lock and proof; run_job:
resume, retry, append, sidecar), but `handle` labels each image with its variant and file name
after a short sleep instead of running a model, so a process starts in a fraction of a second
and can be killed at any moment of its run.

    python output_worker.py OUT INPUT_FOLDER VARIANT DELAY_S [--overwrite]

Exit codes as the CLI's: 0, 3 (error rows in the file), 1 (refused: the line is on stderr).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import polars as pl

from llava_cli.config import OutputConfig
from llava_cli.errors import LlavaCliError
from llava_cli.media.inputs import find_inputs
from llava_cli.batch.jobs import KEY_COLUMNS, run_job, sample_key
from llava_cli.media.video import FramePlan
from llava_cli.batch.ownership import claim_output

SCHEMA = {**KEY_COLUMNS, "label": pl.String, "error": pl.String}


def main(argv: list[str]) -> int:
    out, folder, variant, delay = argv[0], argv[1], argv[2], float(argv[3])
    output = OutputConfig(out=out, overwrite="--overwrite" in argv, quiet=True)
    items = find_inputs([folder])

    def handle(batch):
        time.sleep(delay)
        return [{**sample_key(s), "label": f"{variant}:{Path(s.source).name}", "error": None} for s in batch]

    try:
        with claim_output(output, SCHEMA, {"command": "worker", "--labels": variant}) as claim:
            run = run_job(claim=claim, items=items, plan=FramePlan(), output=output, info={"command": "worker"},
                          prepare=None, handle=handle, batch_size=2, workers=1)
    except LlavaCliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return run.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
