"""`evaluate_command` writes a complete run directory."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from genrec.errors import ConfigError
from genrec.evaluation.compare import compare_command
from genrec.workflows import evaluate as command
from recommenders.tiny_data import make_tiny_data


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(command, "load_dataset", lambda name, data_dir=None: make_tiny_data())


def test_run_directory(tiny: None, tmp_path: Path) -> None:
    out = tmp_path / "run"
    overrides = ["epochs=2", "hidden_size=16", "num_threads=1", "loss=bce"]
    metrics = command.evaluate_command("tiny", "sasrec", out, seed=1, overrides=overrides, progress=False)
    for name in ("config.json", "metrics.json", "metrics.md", "per_user.parquet", "curves.png"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["model_config"]["loss"] == "bce" and config["model_config"]["max_len"] == 50
    assert set(metrics["test"]) >= {"hr@10", "ndcg@10", "coverage@10", "validity", "mrr"}
    # 16 items, k_max 20: slots past the non-history items are -1 padding, which counts as invalid.
    test = command.leave_one_out(make_tiny_data()).test_set()
    fillable = sum(min(20, 16 - len(set(h))) for h in test.histories)
    assert metrics["test"]["validity"] == pytest.approx(fillable / (20 * len(test)))
    assert len(pd.read_parquet(out / "per_user.parquet")) == 64
    assert "| ndcg@10 |" in (out / "metrics.md").read_text()
    reloaded = command.evaluate_command("tiny", "sasrec", tmp_path / "again", seed=1, overrides=overrides,
                                        load_dir=out / "model", progress=False)  # fmt: skip
    assert reloaded["test"]["ndcg@10"] == pytest.approx(metrics["test"]["ndcg@10"])
    assert compare_command(out, tmp_path / "again", n_bootstrap=200)["mean_difference"] == 0.0


def test_bad_override_fails_before_training(tiny: None, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="learning_rate"):
        command.evaluate_command("tiny", "sasrec", tmp_path, overrides=["learning_rate=0.1"])
