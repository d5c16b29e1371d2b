"""confirm_best: the kept best weights and the final weights are scored again; the better is handed back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from genrec.errors import ConfigError
from genrec.training import checkpoint as ckpt
from genrec.training.config import config_from_dict
from genrec.training.confirm import confirm_best


def write(output_dir: Path, name: str, role: str, weight: float, ema: float | None = None) -> None:
    model = torch.nn.Linear(2, 1, bias=False)
    torch.nn.init.constant_(model.weight, weight)
    staging = ckpt.new_staging_dir(output_dir, name)
    ckpt.save_weights(staging, model)
    if ema is not None:
        torch.nn.init.constant_(model.weight, ema)
        ckpt.save_weights(staging, model, ckpt.EMA_WEIGHTS)
    ckpt.commit(output_dir, staging, name, role)


def holding(weight: float) -> torch.nn.Linear:
    """A model holding the best weights, as the trainer hands it back."""
    model = torch.nn.Linear(2, 1, bias=False)
    torch.nn.init.constant_(model.weight, weight)
    return model


def by_weight(scored: list[float]) -> Callable[[torch.nn.Module], dict[str, float]]:
    def score(model: torch.nn.Module) -> dict[str, float]:
        value = float(model.weight[0, 0])  # type: ignore[index]
        scored.append(value)
        return {"ndcg@10": value, "hr@10": 0.0}

    return score


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    write(tmp_path, "best-00000010", "best", weight=0.25)
    write(tmp_path, "step-00000030", "latest", weight=0.5, ema=0.125)
    return tmp_path


def test_final_weights_are_kept_when_they_score_higher(run: Path) -> None:
    model, scored = holding(0.25), []
    out = confirm_best(model, run, best_step=10, final_step=30, score=by_weight(scored))
    assert scored == [0.25, 0.5]
    assert out == {
        "metric": "ndcg@10",
        "best_step": 10,
        "best": 0.25,
        "final_step": 30,
        "final": 0.5,
        "kept": "final",
    }
    assert torch.equal(model.weight, torch.full((1, 2), 0.5))


def test_best_weights_are_restored_exactly_when_the_final_ones_score_lower(run: Path) -> None:
    model, scored = holding(0.25), []
    # the run kept a weight average: the final checkpoint's average (0.125) is what is compared
    out = confirm_best(model, run, best_step=10, final_step=30, score=by_weight(scored), averaged=True)
    assert scored == [0.25, 0.125]
    assert out is not None and out["kept"] == "best"
    assert torch.equal(model.weight, torch.full((1, 2), 0.25))


def test_a_tie_keeps_the_best_weights(tmp_path: Path) -> None:
    write(tmp_path, "best-00000010", "best", weight=0.25)
    write(tmp_path, "step-00000030", "latest", weight=0.25)
    model = holding(0.25)
    out = confirm_best(model, tmp_path, best_step=10, final_step=30, score=by_weight([]))
    assert out is not None and out["kept"] == "best"


def test_nothing_is_scored_when_the_best_weights_are_the_final_ones_or_there_is_no_best(
    run: Path, tmp_path: Path
) -> None:
    scored: list[float] = []
    assert confirm_best(holding(0.5), run, best_step=30, final_step=30, score=by_weight(scored)) is None
    write(tmp_path / "nobest", "step-00000030", "latest", weight=0.5)
    assert confirm_best(holding(0.5), tmp_path / "nobest", 10, 30, by_weight(scored)) is None
    assert scored == []


def test_confirm_users_must_not_be_negative() -> None:
    with pytest.raises(ConfigError, match="confirm_users"):
        config_from_dict({"training": {"confirm_users": -1}})
