"""A killed run resumes from its last checkpoint to exactly the weights of an uninterrupted run."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from genrec.errors import GenrecError
from genrec.training import checkpoint as ckpt

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("run_tiny", HERE / "run_tiny.py")
assert _spec and _spec.loader
run_tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_tiny)


def weights(trainer: object) -> dict[str, torch.Tensor]:
    model = trainer.accelerator.unwrap_model(trainer.model)  # type: ignore[attr-defined]
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("sharded", [None, True], ids=["plain", "engine-state"])
def test_halted_run_resumes_to_identical_weights_and_validation_history(
    tmp_path: Path, sharded: bool | None
) -> None:
    """``engine-state`` is the DeepSpeed / FSDP path: model and optimizer go through accelerate's
    save_state/load_state, and the model handed back is a rebuilt copy holding the best weights."""
    opts = {"eval_every": 8, "patience": 0}
    full = run_tiny.make_trainer(tmp_path / "full", 24, sharded=sharded, **opts)
    full_result = full.train()
    halted = run_tiny.make_trainer(tmp_path / "cut", 24, sharded=sharded, **opts)
    assert halted.train(halt_at_step=13).halted
    latest = ckpt.committed(tmp_path / "cut", "latest")
    assert latest is not None and latest.name == "step-00000010"
    assert ("optimizer" in ckpt.load_state(latest)) is (sharded is None)
    assert (latest / "engine").is_dir() is bool(sharded)
    resumed = run_tiny.make_trainer(tmp_path / "cut", 24, sharded=sharded, **opts)
    result = resumed.train()
    assert result.state.step == full_result.state.step == 24
    assert_same(weights(full), weights(resumed))
    assert result.state.history == full_result.state.history
    assert result.state.best_step == full_result.state.best_step >= 8
    # the best checkpoint is kept and its weights are the model handed back
    best = ckpt.committed(tmp_path / "cut", "best")
    assert best is not None
    saved = load_file(str(best / ckpt.WEIGHTS))
    handed_back = weights(resumed)
    assert saved and all(torch.equal(saved[k], handed_back[k]) for k in saved)


def test_sigkilled_process_resumes_to_identical_weights(tmp_path: Path) -> None:
    steps = 200
    out = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "run_tiny.py"), str(out), str(steps), "--slow"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            name = ckpt.read_pointer(out).get("latest", "") if (out / "checkpoints").is_dir() else ""
            if name >= "step-00000020":
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = ckpt.read_pointer(out)["latest"]
    assert "step-00000020" <= killed_at < f"step-{steps:08d}"
    state = json.loads(json.dumps(ckpt.load_state(out / "checkpoints" / killed_at)["trainer"]))
    assert 20 <= state["step"] < steps

    resumed = run_tiny.make_trainer(out, steps)
    assert resumed.train().state.step == steps
    reference = run_tiny.make_trainer(tmp_path / "reference", steps)
    reference.train()
    assert_same(weights(reference), weights(resumed))


def test_a_multi_process_launch_that_came_up_single_process_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """accelerate ignores --use_fsdp without GPUs: each process would train alone as rank 0 into one dir."""
    trainer = run_tiny.make_trainer(tmp_path / "run", 4)
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(GenrecError, match="WORLD_SIZE"):
        trainer.train()
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_ema_run_resumes_to_identical_average_and_keeps_the_average_as_best(tmp_path: Path) -> None:
    opts = {"eval_every": 8, "patience": 0, "ema_decay": 0.9}
    full = run_tiny.make_trainer(tmp_path / "full", 24, **opts)
    full_result = full.train()
    halted = run_tiny.make_trainer(tmp_path / "cut", 24, **opts)
    assert halted.train(halt_at_step=13).halted
    latest = ckpt.committed(tmp_path / "cut", "latest")
    assert latest is not None and (latest / ckpt.EMA_WEIGHTS).is_file()
    assert ckpt.load_state(latest)["ema_n_averaged"] == 10
    resumed = run_tiny.make_trainer(tmp_path / "cut", 24, **opts)
    result = resumed.train()
    assert result.state.history == full_result.state.history
    assert_same(weights(full), weights(resumed))
    best = ckpt.committed(tmp_path / "cut", "best")
    assert best is not None
    saved = load_file(str(best / ckpt.WEIGHTS))
    raw = load_file(str(best.parent / ckpt.read_pointer(tmp_path / "cut")["latest"] / ckpt.WEIGHTS))
    handed_back = weights(resumed)
    assert all(torch.equal(saved[k], handed_back[k]) for k in saved)  # the average was kept and handed back
    assert any(not torch.equal(saved[k], raw[k]) for k in saved.keys() & raw.keys())  # not the raw ones


def test_ema_is_the_exponential_average_of_the_raw_trajectory_which_it_leaves_unchanged(
    tmp_path: Path,
) -> None:
    steps, decay = 6, 0.7
    plain_dir = tmp_path / "plain"
    trajectory = []
    for step in range(1, steps + 1):  # one step at a time, resuming: the raw weights after every step
        trainer = run_tiny.make_trainer(plain_dir, steps, checkpoint_every=1)
        trainer.train(halt_at_step=step)
        trajectory.append(weights(trainer))
    expected = dict(trajectory[0])
    for w in trajectory[1:]:
        expected = {k: decay * expected[k] + (1 - decay) * w[k] for k in expected}
    averaged = run_tiny.make_trainer(tmp_path / "ema", steps, ema_decay=decay)
    averaged.train()
    got = weights(averaged)
    for key in expected:
        assert torch.allclose(got[key], expected[key], atol=1e-6), key
    raw = load_file(str(ckpt.committed(tmp_path / "ema", "latest") / ckpt.WEIGHTS))  # type: ignore[operator]
    assert raw and all(torch.equal(raw[k], trajectory[-1][k]) for k in raw)


def test_ema_is_refused_under_a_sharding_engine(tmp_path: Path) -> None:
    trainer = run_tiny.make_trainer(tmp_path / "run", 4, sharded=True, ema_decay=0.9)
    with pytest.raises(GenrecError, match="ema_decay"):
        trainer.train()
