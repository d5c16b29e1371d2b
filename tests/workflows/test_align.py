"""`align_command`: a trained run directory -> a preference-trained run directory on the same data."""

from __future__ import annotations

from pathlib import Path

import pytest

from genrec.errors import ConfigError
from genrec.recommenders.generative import GenerativeRecommender
from genrec.recommenders.run_dir import load_run
from genrec.workflows.align import align_command
from genrec.workflows.train import train_command

TINY = [
    "backbone.num_layers=1", "backbone.hidden_size=16", "backbone.num_heads=2", "backbone.intermediate_size=32",
    "training.max_steps=2", "training.batch_size=32", "training.eval_every=0", "training.progress=false",
    "training.num_threads=1", "training.eval_users=20", "decoding.num_beams=5",
]  # fmt: skip


def test_align_command_writes_a_loadable_run(tmp_path: Path) -> None:
    train_command(
        "office-atomic-compact", tmp_path / "sft", overrides=["data.dataset=ml-100k", *TINY], test=False
    )
    overrides = ["objective=sdpo", "negatives=2", "eval_users=20", "batch_size=64", "lr=0.001"]
    summary = align_command(tmp_path / "sft" / "model", tmp_path / "sdpo", overrides)
    assert summary["pairs_per_epoch"] == 943  # one target per ml-100k user
    assert [row["epoch"] for row in summary["validation"]] == [0, 1]
    rec, _, info = load_run(tmp_path / "sdpo")
    assert isinstance(rec, GenerativeRecommender) and info.dataset == "ml-100k"
    assert rec.recommend([[0, 1, 2]], k=5).items.min() >= 0
    with pytest.raises(ConfigError, match="objective"):
        align_command(tmp_path / "sft" / "model", tmp_path / "other", ["objective=ppo"])


def test_the_cli_reports_a_bad_preference_value(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from genrec.cli import app

    result = CliRunner().invoke(
        app, ["align", str(tmp_path), "-o", str(tmp_path / "out"), "--set", "beta=-1"]
    )
    assert isinstance(result.exception, ConfigError) and "beta" in str(result.exception)


@pytest.mark.parametrize(
    ("value", "field"),
    [("group_size=1", "group_size"), ("clip_epsilon=1.5", "clip_epsilon"), ("kl_coeff=0.1", "kl_coeff")],
)
def test_bad_or_unknown_grpo_values_are_errors_naming_the_key(tmp_path: Path, value: str, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        align_command(tmp_path / "missing", tmp_path / "out", ["objective=grpo", value])
