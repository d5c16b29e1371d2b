"""Launch checks: a launch that would train wrongly is refused; DeepSpeed gets the settings it needs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from genrec.errors import GenrecError
from genrec.training.launch import check_launch, configure_deepspeed


def fake_accelerator(num_processes: int = 1, deepspeed_config: dict[str, Any] | None = None) -> Any:
    plugin = None if deepspeed_config is None else SimpleNamespace(deepspeed_config=deepspeed_config)
    return SimpleNamespace(num_processes=num_processes, state=SimpleNamespace(deepspeed_plugin=plugin))


def test_deepspeed_auto_settings_are_filled_and_explicit_ones_kept() -> None:
    config: dict[str, Any] = {"train_micro_batch_size_per_gpu": "auto"}
    configure_deepspeed(fake_accelerator(deepspeed_config=config), batch_size=16, grad_clip=0.0)
    assert config == {"train_micro_batch_size_per_gpu": 16, "gradient_clipping": 0.0}
    explicit: dict[str, Any] = {"train_micro_batch_size_per_gpu": 4, "gradient_clipping": 2.0}
    configure_deepspeed(fake_accelerator(deepspeed_config=explicit), batch_size=16, grad_clip=1.0)
    assert explicit == {"train_micro_batch_size_per_gpu": 4, "gradient_clipping": 2.0}
    configure_deepspeed(fake_accelerator(), batch_size=16, grad_clip=1.0)  # no DeepSpeed: nothing to do


def test_launch_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    check_launch(fake_accelerator(num_processes=2), ema_decay=0.0, sharded=False)
    with pytest.raises(GenrecError, match=r"launched as 2 processes \(WORLD_SIZE\)"):
        check_launch(fake_accelerator(num_processes=1), ema_decay=0.0, sharded=False)
    monkeypatch.delenv("WORLD_SIZE")
    check_launch(fake_accelerator(), ema_decay=0.9, sharded=False)
    with pytest.raises(GenrecError, match="ema_decay needs unsharded weights"):
        check_launch(fake_accelerator(), ema_decay=0.9, sharded=True)
