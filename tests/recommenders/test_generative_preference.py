"""Preference training end to end: an SFT run -> DPO / S-DPO -> a new run directory that loads and serves."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genrec.data import LeaveOneOutSplit
from genrec.errors import GenrecError
from genrec.io.files import read_json
from genrec.recommenders.generative import GenerativeRecommender
from genrec.recommenders.generative_preference import PREFERENCE_FILE, align, align_run
from genrec.recommenders.run_dir import load_run, save_run
from genrec.training.config import config_from_dict
from genrec.training.preference_data import PreferenceConfig


def _tiny_sft(split: LeaveOneOutSplit, output_dir: Path) -> GenerativeRecommender:
    config = config_from_dict(
        {
            "identifiers": {"kind": "atomic"},
            "backbone": {"num_layers": 1, "hidden_size": 16, "num_heads": 2, "intermediate_size": 32},
            "training": {
                "max_steps": 4, "batch_size": 16, "eval_every": 0, "progress": False, "num_threads": 1,
                "checkpoint_every": 0,
            },
            "decoding": {"num_beams": 5, "batch_size": 32},
        }
    )  # fmt: skip
    rec = GenerativeRecommender(config, output_dir=output_dir)
    rec.fit(split.train_data())
    return rec


@pytest.fixture(scope="module")
def sft_run(tiny_split: LeaveOneOutSplit, tmp_path_factory: pytest.TempPathFactory) -> Path:
    rec = _tiny_sft(tiny_split, tmp_path_factory.mktemp("sft-train"))
    run = tmp_path_factory.mktemp("runs") / "sft"
    return save_run(rec, tiny_split.data.catalogue, run, dataset="tiny", train=tiny_split.train_data())


def test_one_epoch_of_dpo_writes_a_run_that_loads_and_recommends(
    sft_run: Path, tiny_split: LeaveOneOutSplit, tmp_path: Path
) -> None:
    sft_files = {p.name: p.stat().st_mtime_ns for p in sft_run.rglob("*")}
    config = PreferenceConfig(objective="dpo", negatives=1, epochs=1, lr=1e-2, batch_size=16, beta=0.5)
    out = tmp_path / "dpo"
    summary = align_run(sft_run, out, config, tiny_split.train_data(), tiny_split.valid_set())
    assert summary["pairs_per_epoch"] == tiny_split.num_users and summary["steps"] == 4
    assert [row["epoch"] for row in summary["validation"]] == [0, 1]  # the SFT score, then each epoch
    assert summary["best_epoch"] in (0, 1) and summary["wall_time_s"] > 0
    assert read_json(out / PREFERENCE_FILE)["config"]["objective"] == "dpo"

    rec, catalogue, info = load_run(out)
    assert isinstance(rec, GenerativeRecommender) and info.dataset == "tiny" and info.has_fallback
    assert rec.metrics["preference"]["config"] == config.to_dict()
    assert "training" in rec.metrics  # the SFT record is kept
    histories = tiny_split.valid_histories()[:8]
    recs = rec.recommend(histories, k=5)
    for row, history in zip(recs.items.tolist(), histories, strict=True):
        assert len(set(row)) == 5 and all(0 <= i < len(catalogue) and i not in history for i in row)
    assert {p.name: p.stat().st_mtime_ns for p in sft_run.rglob("*")} == sft_files  # SFT run untouched
    with pytest.raises(GenrecError, match="not empty"):
        align_run(sft_run, out, config, tiny_split.train_data(), None)


def test_sdpo_with_hard_negatives_changes_the_weights_and_keeps_the_best(
    tiny_split: LeaveOneOutSplit, tmp_path: Path
) -> None:
    rec = _tiny_sft(tiny_split, tmp_path / "sft")
    before = {k: v.clone() for k, v in rec.model.state_dict().items()}
    config = PreferenceConfig(objective="sdpo", negatives=3, negative_source="model", epochs=2, lr=1e-2)
    summary = align(rec, tiny_split.train_data(), None, config)  # no validation: the last epoch is kept
    assert summary["best_epoch"] == 2 and len(summary["validation"]) == 2
    assert all(row["loss"] > 0 for row in summary["validation"])
    changed = [not torch.equal(before[k], v) for k, v in rec.model.state_dict().items()]
    assert any(changed)
    assert not rec.model.training


@pytest.mark.parametrize(("scores", "best_epoch"), [([0.5, 0.4], 0), ([0.1, 0.3, 0.2], 1)])
def test_the_best_validated_weights_are_kept(
    scores: list[float], best_epoch: int, tiny_split: LeaveOneOutSplit, tmp_path: Path
) -> None:
    """Scripted validation scores: epoch 0 (SFT) best -> SFT weights back; else the best epoch's weights."""
    rec = _tiny_sft(tiny_split, tmp_path / "sft")
    snapshots: list[dict[str, torch.Tensor]] = []
    script = iter(scores)

    def validate(model: torch.nn.Module) -> dict[str, float]:
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return {"hr@10": 0.0, "ndcg@10": next(script)}

    rec._validator = lambda subset: validate  # type: ignore[method-assign]
    config = PreferenceConfig(negatives=2, epochs=len(scores) - 1, lr=1e-2)
    summary = align(rec, tiny_split.train_data(), tiny_split.valid_set(), config)
    assert summary["best_epoch"] == best_epoch
    assert [row["ndcg@10"] for row in summary["validation"]] == scores
    for name, value in rec.model.state_dict().items():
        torch.testing.assert_close(value, snapshots[best_epoch][name])
    assert not torch.equal(
        snapshots[0]["model.embed_tokens.weight"], snapshots[-1]["model.embed_tokens.weight"]
    )
