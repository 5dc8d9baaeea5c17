"""The accelerate configs in examples/ are valid for accelerate and carry their launch command."""

from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file

CONFIGS = sorted((Path(__file__).parents[1] / "examples" / "accelerate").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_accelerate_config_loads(path):
    config = load_config_from_file(str(path))
    assert config.num_processes >= 2
    assert "accelerate launch --config_file examples/accelerate/" + path.name in path.read_text()


def test_there_are_configs():
    assert {p.name for p in CONFIGS} == {"multi_gpu.yaml", "zero3.yaml"}
