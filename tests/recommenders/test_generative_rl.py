"""GRPO end to end on a tiny SFT run, and a killed preference run resuming to the uninterrupted result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from genrec.data import LeaveOneOutSplit
from genrec.errors import GenrecError
from genrec.io.files import read_json
from genrec.recommenders.generative import GenerativeRecommender
from genrec.recommenders.generative_preference import REWARDS_FILE, align, align_run
from genrec.recommenders.run_dir import load_run, save_run
from genrec.training import checkpoint as ckpt
from genrec.training.preference_data import PreferenceConfig
from recommenders.test_generative_preference import _tiny_sft


@pytest.fixture(scope="module")
def sft_run(tiny_split: LeaveOneOutSplit, tmp_path_factory: pytest.TempPathFactory) -> Path:
    rec = _tiny_sft(tiny_split, tmp_path_factory.mktemp("sft-train"))
    run = tmp_path_factory.mktemp("runs") / "sft"
    return save_run(rec, tiny_split.data.catalogue, run, dataset="tiny", train=tiny_split.train_data())


def test_grpo_trains_on_its_own_rollouts_and_logs_reward_curves(
    tiny_split: LeaveOneOutSplit, tmp_path: Path
) -> None:
    rec = _tiny_sft(tiny_split, tmp_path / "sft")
    before = {k: v.clone() for k, v in rec.model.state_dict().items()}
    config = PreferenceConfig(objective="grpo", group_size=4, epochs=2, lr=1e-2, batch_size=32, kl_coef=0.1)
    summary = align(rec, tiny_split.train_data(), None, config)
    assert summary["pairs_per_epoch"] == tiny_split.num_users and summary["steps"] == 2 * 2  # 64 targets / 32
    for row in summary["validation"]:
        assert (
            0.0 <= row["zero_advantage_share"] <= 1.0
            and 0.0 <= row["rollout_ndcg"] <= row["rollout_hit_rate"] <= 1.0
        )
        assert row["kl"] >= 0.0 and -1.0 <= row["reward"] <= 1.0
    assert summary["validation"][1]["kl"] > 0  # the policy moved away from the reference
    assert any(not torch.equal(before[k], v) for k, v in rec.model.state_dict().items())


def test_grpo_run_directory_has_reward_curves_and_beyond_accuracy(
    sft_run: Path, tiny_split: LeaveOneOutSplit, tmp_path: Path
) -> None:
    config = PreferenceConfig(objective="grpo", group_size=3, epochs=1, lr=1e-3, batch_size=64)
    out = tmp_path / "grpo"
    summary = align_run(sft_run, out, config, tiny_split.train_data(), tiny_split.valid_set())
    curves = read_json(out / REWARDS_FILE)
    assert [c["epoch"] for c in curves] == [1] and set(curves[0]) >= {"reward", "zero_advantage_share", "kl"}
    lists = summary["beyond_accuracy"]
    for model in ("sft", "aligned"):
        assert 0 < lists[model]["coverage@10"] <= 1 and 0 <= lists[model]["gini@10"] < 1
        assert 0 <= lists[model]["popularity_percentile@10"] <= 1
    assert lists["sft"]["ndcg@10"] == pytest.approx(summary["validation"][0]["ndcg@10"])
    assert set(summary["validation"][1]) >= {
        "coverage@10",
        "gini@10",
        "popularity_percentile@10",
    }  # per epoch
    assert not (out / "checkpoints").exists()  # a finished run keeps no checkpoints
    rec, _, _ = load_run(out)
    assert (
        isinstance(rec, GenerativeRecommender) and rec.metrics["preference"]["config"]["objective"] == "grpo"
    )


def _weights(run: Path) -> dict[str, torch.Tensor]:
    rec, _, _ = load_run(run)
    return {k: v.detach().clone() for k, v in rec.model.state_dict().items()}  # type: ignore[attr-defined]


def _without_time(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "wall_time_s"}


@pytest.mark.parametrize("objective", ["sdpo", "grpo"])
def test_a_killed_run_resumes_to_the_uninterrupted_result(
    objective: str,
    sft_run: Path,
    tiny_split: LeaveOneOutSplit,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = PreferenceConfig(
        objective=objective, negatives=2, negative_source="model", group_size=3, epochs=3, lr=5e-3,
        batch_size=32, eval_users=32,
    )  # fmt: skip
    train, valid = tiny_split.train_data(), tiny_split.valid_set()
    full = align_run(sft_run, tmp_path / "full", config, train, valid)

    original = GenerativeRecommender._validator
    calls = {"n": 0}

    def dies_after_epoch_1(self: GenerativeRecommender, subset: Any) -> Any:
        validate = original(self, subset)

        def wrapped(model: torch.nn.Module) -> dict[str, float]:
            calls["n"] += 1
            if calls["n"] == 3:  # epoch 0 (SFT), epoch 1, then the kill during epoch 2's validation
                raise KeyboardInterrupt
            return validate(model)

        return wrapped

    monkeypatch.setattr(GenerativeRecommender, "_validator", dies_after_epoch_1)
    cut = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        align_run(sft_run, cut, config, train, valid)
    latest = ckpt.committed(cut, "latest")
    assert latest is not None and latest.name == "epoch-00001"
    monkeypatch.setattr(GenerativeRecommender, "_validator", original)

    other = config.model_copy(update={"lr": 1e-3})  # another recipe never resumes these checkpoints
    with pytest.raises(GenrecError, match="another preference run"):
        align_run(sft_run, cut, other, train, valid)
    resumed = align_run(sft_run, cut, config, train, valid)  # the same command again: resumes

    assert _without_time(resumed) == {**_without_time(full), "started_from": resumed["started_from"]}
    a, b = _weights(tmp_path / "full"), _weights(cut)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(GenrecError, match="not empty"):  # a finished run is never overwritten
        align_run(sft_run, cut, config, train, valid)


def test_the_epoch_record_matches_scripted_rollouts(tiny_split: LeaveOneOutSplit, tmp_path: Path) -> None:
    """Rollouts scripted: the target first for even-length histories, absent otherwise."""
    from genrec.recommenders.base import Recommendations
    from genrec.recommenders.generative_rl import grpo_epoch
    from genrec.training.preference_data import target_positions
    from genrec.training.preference_loss import frozen_reference

    rec = _tiny_sft(tiny_split, tmp_path / "sft")
    sequences = [list(s) for s in tiny_split.train_data().sequences]
    target_of = {tuple(s[:-1]): s[-1] for s in sequences}

    def scripted(histories: Any, k: int) -> Recommendations:
        rows = []
        for h in histories:
            t = target_of[tuple(h)]
            first = 0 if len(h) % 2 == 0 else 1
            rows.append([(t + j) % 16 for j in range(first, first + k)])
        return Recommendations(np.asarray(rows), np.zeros((len(rows), k)))

    rec.recommend = scripted  # type: ignore[method-assign]
    config = PreferenceConfig(objective="grpo", group_size=3, rank_weight=0.5, batch_size=64)
    optimizer = torch.optim.AdamW(rec.model.parameters(), lr=1e-3)
    targets = target_positions(sequences, "last")
    stats = grpo_epoch(rec, frozen_reference(rec.model), optimizer, sequences, targets, config, epoch=1)
    hit = np.mean([len(s[:-1]) % 2 == 0 for s in sequences])
    assert stats["rollout_hit_rate"] == pytest.approx(hit) and stats["rollout_ndcg"] == pytest.approx(hit)
    # a group sums to 1 - 0.5 with its hit, to -0.5 without: the mean over 3 items per group
    assert stats["reward"] == pytest.approx((hit * 0.5 + (1 - hit) * -0.5) / 3)
    assert stats["zero_advantage_share"] == 0.0 and stats["steps"] == 1
