"""finetune's progress: a tqdm bar on a terminal; anywhere else (a log file, CI) one plain line per
logging step and no `\\r` frames."""

import io

from typer.testing import CliRunner

from finetune_factories import LABELS
from llava_cli.finetune.progress import LossLines, LossProgress, progress_callback


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_only_on_a_terminal():
    assert isinstance(progress_callback(4, _Terminal()), LossProgress)
    assert isinstance(progress_callback(4, io.StringIO()), LossLines)


def test_not_on_a_terminal_one_line_per_logging_step(cli_app, trainable_base, shapes_data, tmp_path):
    args = ["finetune", "--stage", "lora", "--model", trainable_base, "--data", str(shapes_data / "train"),
            "--labels", ",".join(LABELS), "--output", str(tmp_path / "out"), "--max-steps", "4",
            "--logging-steps", "2", "--val-split", "0.1", "--device", "cpu", "--dtype", "float32",
            "--lora-r", "8", "--lora-alpha", "16", "--batch-size", "4"]
    result = CliRunner().invoke(cli_app, args)  # stderr is not a terminal here
    assert result.exit_code == 0, result.output
    assert "\r" not in result.output and "\r" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("step ")]
    # logging_first_step: step 1, then every 2 steps; the closing evaluation is a line of its own
    train_lines = [line for line in lines if " loss " in line and "eval_" not in line]
    assert [line.split(" epoch")[0] for line in train_lines] == ["step 1/4", "step 2/4", "step 4/4"], lines
    assert all("samples/s " in line for line in train_lines)
    assert any("eval_loss " in line for line in lines) and any("eval_accuracy " in line for line in lines)
