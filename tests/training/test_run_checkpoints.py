"""A run's checkpoints refuse to resume in a way that would silently train differently."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from genrec.errors import GenrecError
from genrec.training import checkpoint as ckpt

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("run_tiny", HERE / "run_tiny.py")
assert _spec and _spec.loader
run_tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_tiny)


def test_a_sharded_runs_checkpoint_is_not_resumed_unsharded(tmp_path: Path) -> None:
    """Its optimizer state lives in the engine's shards: resuming without them would reset the optimizer."""
    assert run_tiny.make_trainer(tmp_path, 12, sharded=True).train(halt_at_step=6).halted
    with pytest.raises(GenrecError, match="written by a sharded run"):
        run_tiny.make_trainer(tmp_path, 12).train()


def test_a_run_without_a_weight_average_is_not_resumed_with_one(tmp_path: Path) -> None:
    assert run_tiny.make_trainer(tmp_path, 12).train(halt_at_step=6).halted
    with pytest.raises(GenrecError, match="without a weight average"):
        run_tiny.make_trainer(tmp_path, 12, ema_decay=0.9).train()


def test_staging_directories_of_a_killed_run_are_removed_and_the_run_resumes(tmp_path: Path) -> None:
    assert run_tiny.make_trainer(tmp_path, 12).train(halt_at_step=6).halted
    stale = ckpt.checkpoints_root(tmp_path) / ".step-00000007.x.tmp"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half a file")
    result = run_tiny.make_trainer(tmp_path, 12).train()
    assert not stale.exists()
    assert result.state.step == 12 and result.state.stopped == "completed"
