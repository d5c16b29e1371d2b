"""`benchmarks/alignment.py`: choices on validation only, test figures of the chosen setting, one command."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from benchmark_scripts import load_script

from genrec.errors import ConfigError
from genrec.io.files import read_json

REPO = Path(__file__).resolve().parents[2]
TINY = [
    f"data.dataset={REPO / 'examples/own-data/shop.yaml'}", "backbone.num_layers=1", "backbone.hidden_size=16",
    "backbone.num_heads=2", "backbone.intermediate_size=32", "training.max_steps=2", "training.batch_size=32",
    "training.eval_every=0", "training.progress=false", "training.eval_users=20", "decoding.num_beams=5",
]  # fmt: skip


@pytest.fixture
def script() -> ModuleType:
    return load_script("alignment")


def test_the_choice_is_the_best_validation_figure_first_on_ties(script: ModuleType) -> None:
    cands = [{"valid_ndcg@10": 0.2, "n": 0}, {"valid_ndcg@10": 0.3, "n": 1}, {"valid_ndcg@10": 0.3, "n": 2}]
    assert script.choose(cands)["n"] == 1
    summary = {"best_epoch": 0, "validation": [{"epoch": 0, "ndcg@10": 0.1}, {"epoch": 1.0, "ndcg@10": 0.05}]}
    assert script.kept_validation(summary) == 0.1  # no epoch beat SFT: the SFT weights were handed back


def test_candidates_are_validated_preference_configs(script: ModuleType) -> None:
    config = script.parse_candidate("grpo:group_size=4,kl_coef=0.1", ["epochs=2"])
    assert (config.objective, config.group_size, config.kl_coef, config.epochs) == ("grpo", 4, 0.1, 2)
    with pytest.raises(SystemExit, match="objective"):
        script.parse_candidate("ppo", [])
    with pytest.raises(ConfigError, match="group_sise"):
        script.parse_candidate("grpo:group_sise=4", [])


def test_rows_store_mean_and_sample_std_over_seeds(script: ModuleType) -> None:
    seeds = [{"rows": {"sft": {k: v for k in script.ROW_KEYS}}} for v in (0.1, 0.3)]
    row = script.summarise(seeds)["sft"]
    assert row["ndcg@10"] == pytest.approx(0.2) and row["ndcg@10_std"] == pytest.approx(0.1414214, abs=1e-6)
    assert row["seeds"] == 2


def test_one_command_writes_every_row_on_a_tiny_config(script: ModuleType, tmp_path: Path) -> None:
    common = ["epochs=1", "eval_users=20", "batch_size=64", "lr=0.001"]
    argv = ["--recipe", "office-atomic-compact", "--seeds", "0", "--work-dir", str(tmp_path / "work"),
            "--results-dir", str(tmp_path / "results"), "--candidate", "dpo:negatives=1",
            "--candidate", "dpo:negatives=1,beta=0.5", "--candidate", "sdpo:negatives=2",
            "--candidate", "grpo:group_size=3",
            *(f"--common={c}" for c in common), *(f"--set={o}" for o in TINY)]  # fmt: skip
    entry = script.main(argv)
    assert list(entry["rows"]) == ["sft", "+dpo", "+sdpo", "+grpo"]
    seed = entry["seeds"][0]
    dpo = [c for c in seed["candidates"] if c["objective"] == "dpo"]
    assert seed["rows"]["+dpo"]["chosen"] == max(dpo, key=lambda c: c["valid_ndcg@10"])["config"]
    for name, row in seed["rows"].items():
        assert 0 <= row["ndcg@10"] <= row["hr@10"] <= 1 and 0 < row["coverage@10"] <= 1, name
        assert row["train_s"] > 0
    per_user = tmp_path / "results/alignment/per_user"
    frames = {p.name: pd.read_parquet(p) for p in per_user.glob("*.parquet")}
    assert len(frames) == 4 and all({"user", "rank", "ndcg@10"} <= set(f.columns) for f in frames.values())
    saved = read_json(tmp_path / "results/alignment.json")
    assert saved["entries"][next(iter(saved["entries"]))]["commit"]
    assert "| +grpo | 1 |" in (tmp_path / "results/alignment.md").read_text()
    again = script.main(argv)  # finished candidates are reused, not retrained
    assert again["seeds"][0]["candidates"] == seed["candidates"]
