"""The error table (`llava_cli.commands._errors`): one `error:` line and a documented exit code."""

from __future__ import annotations

import pytest
import torch
import transformers
from factories import make_image
from typer.testing import CliRunner

from llava_cli.commands._errors import describe, out_of_memory_hint
from llava_cli.errors import EXIT_FAILURE, EXIT_USAGE, OutputError, UsageError, is_out_of_memory


def test_out_of_memory_is_recognized_by_type_and_by_text():
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 9 GB)"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))  # not what torch raises


def test_table_entries():
    flags = {"batch_size", "load_in_4bit"}
    assert describe(UsageError(["a", "b"]), flags) == (["a", "b"], EXIT_USAGE)
    assert describe(OutputError("cannot write"), flags) == (["cannot write"], EXIT_FAILURE)
    lines, code = describe(torch.OutOfMemoryError("CUDA out of memory"), flags)
    assert code == EXIT_FAILURE and lines == ["out of GPU memory; lower --batch-size or use --load-in-4bit"]
    assert describe(KeyError("bug"), flags) is None  # a bug keeps its traceback


def test_hint_names_only_the_commands_flags():
    assert "--batch-size" not in out_of_memory_hint({"max_new_tokens", "load_in_4bit"})  # chat
    assert out_of_memory_hint({"batch_size", "gradient_checkpointing"}) == (
        "lower --batch-size or use --gradient-checkpointing"  # finetune
    )


@pytest.mark.parametrize("raised", [torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
                                    RuntimeError("CUDA error: out of memory")])
def test_classify_out_of_memory_is_one_line_naming_batch_size(cli_app, tiny_model_dir, tmp_path, monkeypatch, raised):
    """A batch too large for the GPU is not a row error: the run stops with exit 1 and one line."""
    for i in range(3):
        make_image(tmp_path / f"img{i}.png", seed=i)

    def forward(self, *args, **kwargs):
        raise raised

    monkeypatch.setattr(transformers.LlavaForConditionalGeneration, "forward", forward)
    monkeypatch.delenv("LLAVA_CLI_DEBUG", raising=False)
    result = CliRunner().invoke(
        cli_app,
        ["classify", str(tmp_path), "--labels", "a,b", "--model", tiny_model_dir, "--dtype", "float32",
         "--batch-size", "2", "--out", str(tmp_path / "out.csv"), "--quiet"],
    )
    assert result.exit_code == EXIT_FAILURE, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors == ["error: out of GPU memory; lower --batch-size or use --load-in-4bit"]
    assert "Traceback" not in result.output
