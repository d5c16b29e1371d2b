"""Learning-rate schedules over steps or fitted to the time budget: hand-computed factors, and the loop."""

from __future__ import annotations

import importlib.util
import itertools
import math
from pathlib import Path

import pytest
import torch

from genrec.errors import ConfigError
from genrec.training import checkpoint as ckpt
from genrec.training import loop
from genrec.training.config import TrainingConfig
from genrec.training.schedule import build_scheduler, lr_multiplier

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("run_tiny", HERE / "run_tiny.py")
assert _spec and _spec.loader
run_tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_tiny)


def test_warmup_then_cosine_and_linear_by_hand() -> None:
    # warm-up 10 of 110 steps: step 5 is half-way up; step 60 is half-way through the decay
    assert lr_multiplier("cosine", 5, 10, 110) == pytest.approx(0.5)
    assert lr_multiplier("cosine", 10, 10, 110) == pytest.approx(1.0)
    assert lr_multiplier("cosine", 60, 10, 110) == pytest.approx(0.5)
    assert lr_multiplier("cosine", 35, 10, 110) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert lr_multiplier("linear", 85, 10, 110) == pytest.approx(0.25)
    assert lr_multiplier("constant_with_warmup", 100, 10, 110, budget_fraction=0.9) == 1.0
    assert lr_multiplier("cosine", 110, 10, 110) == pytest.approx(0.0)


def test_the_budget_spent_drives_the_decay_when_it_is_ahead_of_the_steps() -> None:
    # 20 of 1,010 steps done but half the time gone: half-way down the cosine, a quarter left of linear
    assert lr_multiplier("cosine", 20, 10, 1010, budget_fraction=0.5) == pytest.approx(0.5)
    assert lr_multiplier("linear", 20, 10, 1010, budget_fraction=0.75) == pytest.approx(0.25)
    # steps ahead of the clock: the steps decide; an overrun budget holds the floor
    assert lr_multiplier("linear", 760, 10, 1010, budget_fraction=0.1) == pytest.approx(0.25)
    assert lr_multiplier("cosine", 20, 10, 1010, budget_fraction=1.7) == pytest.approx(0.0)
    # the warm-up always runs by steps
    assert lr_multiplier("cosine", 4, 10, 1010, budget_fraction=0.9) == pytest.approx(0.4)


@pytest.mark.parametrize("name", ["cosine", "linear", "constant_with_warmup"])
def test_with_no_budget_spent_the_factors_match_transformers_schedules(name: str) -> None:
    """The budget clock at time zero is the step schedule transformers builds (what ``steps`` runs)."""
    param = torch.nn.Parameter(torch.zeros(1))
    reference = build_scheduler(torch.optim.SGD([param], lr=1.0), name, 7, 50)
    for step in range(51):
        assert reference.get_last_lr()[0] == pytest.approx(lr_multiplier(name, step, 7, 50)), step
        reference.optimizer.step()
        reference.step()


def test_budget_clock_needs_a_time_budget() -> None:
    with pytest.raises(ConfigError, match="max_minutes"):
        TrainingConfig(schedule_clock="budget")
    with pytest.raises(ConfigError, match="schedule_clock"):
        TrainingConfig(schedule_clock="minutes", max_minutes=3)


def final_lr(output_dir: Path) -> float:
    latest = ckpt.committed(output_dir, "latest")
    assert latest is not None
    return float(ckpt.load_state(latest)["scheduler"]["_last_lr"][0])


@pytest.mark.parametrize("clock", ["steps", "budget"])
def test_a_time_capped_run_ends_at_the_floor_only_on_the_budget_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: str
) -> None:
    """A fake clock advancing 1 s per reading: a 0.5-minute budget stops the run long before its 400
    planned steps. Over the budget the learning rate has decayed to its floor; over the steps it has not."""
    ticks = itertools.count()
    monkeypatch.setattr(loop.time, "perf_counter", lambda: float(next(ticks)))
    trainer = run_tiny.make_trainer(
        tmp_path / clock, 400, max_minutes=0.5, schedule_clock=clock, checkpoint_every=0
    )
    result = trainer.train()
    assert result.state.stopped == "time_budget" and result.state.step < 100
    lr = final_lr(tmp_path / clock)
    if clock == "budget":
        assert lr == pytest.approx(0.0, abs=1e-9)
    else:
        assert lr > 0.9 * 3e-3  # run_tiny's peak learning rate, barely decayed
