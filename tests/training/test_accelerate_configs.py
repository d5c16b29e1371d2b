"""The multi-GPU launch configs shipped in configs/accelerate/ are valid for the pinned accelerate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.utils import DistributedType

from genrec.training.compact import build_compact_model, build_lm_tokenizer
from genrec.training.config import BackboneConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "accelerate"
EXPECTED = {
    "ddp.yaml": DistributedType.MULTI_GPU,
    "deepspeed-zero2.yaml": DistributedType.DEEPSPEED,
    "deepspeed-zero3.yaml": DistributedType.DEEPSPEED,
    "fsdp2.yaml": DistributedType.FSDP,
}


def test_every_shipped_config_is_listed() -> None:
    assert sorted(p.name for p in CONFIGS.glob("*.yaml")) == sorted(EXPECTED)


@pytest.fixture(scope="module")
def launch_options() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_config_loads_and_every_engine_key_is_a_launch_option(name: str, launch_options: str) -> None:
    config = load_config_from_file(str(CONFIGS / name))  # unknown top-level keys raise here
    assert config.distributed_type == EXPECTED[name]
    assert config.num_machines == 1 and not config.use_cpu
    # nested engine keys become `accelerate launch --KEY` options; a misspelt one would be ignored silently
    for key in {**(config.deepspeed_config or {}), **(config.fsdp_config or {})}:
        assert f"--{key} " in launch_options or f"--{key}\n" in launch_options, (name, key)


def test_fsdp_wraps_a_layer_class_the_backbones_have() -> None:
    config = load_config_from_file(str(CONFIGS / "fsdp2.yaml"))
    layer_class = config.fsdp_config["fsdp_transformer_layer_cls_to_wrap"]
    lm_tok = build_lm_tokenizer(["<a_0>", "<a_1>"])
    model = build_compact_model(
        BackboneConfig(num_layers=1, hidden_size=16, num_heads=2, intermediate_size=32), lm_tok, seed=0
    )
    assert layer_class in {type(m).__name__ for m in model.modules()}
