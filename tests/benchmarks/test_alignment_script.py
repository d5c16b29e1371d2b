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


@pytest.fixture
def report() -> ModuleType:
    return load_script("alignment_report")


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


def test_rows_store_mean_and_sample_std_over_seeds(report: ModuleType) -> None:
    seeds = [{"rows": {"sft": {k: v for k in report.ROW_KEYS}}} for v in (0.1, 0.3)]
    row = report.summarise(seeds)["sft"]
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


def test_seeds_from_separate_processes_merge_into_one_entry_with_a_paired_verdict(
    script: ModuleType, report: ModuleType, tmp_path: Path
) -> None:
    argv = ["--recipe", "office-atomic-compact", "--work-dir", str(tmp_path / "work"),
            "--results-dir", str(tmp_path / "results"), "--candidate", "dpo:negatives=1",
            "--common=epochs=1", "--common=eval_users=20", "--common=batch_size=64",
            *(f"--set={o}" for o in TINY)]  # fmt: skip
    script.main([*argv, "--seeds", "1"])
    entry = script.main(["--seeds", "0", *argv])
    assert [s["seed"] for s in entry["seeds"]] == [0, 1] and entry["rows"]["sft"]["seeds"] == 2
    assert entry["command"].endswith("--seeds 0 1") and entry["command"].count("--seeds") == 1
    paired = entry["versus_sft"]["+dpo"]
    assert paired["seeds"] == 2 and paired["ci_low"] <= paired["mean_difference"] <= paired["ci_high"]
    assert paired["mean_a"] == pytest.approx(entry["rows"]["sft"]["ndcg@10"])
    table = (tmp_path / "results/alignment.md").read_text()
    assert report.verdict(paired) in table and "seed 1:" in table


def test_a_screen_never_scores_test_users(script: ModuleType, tmp_path: Path) -> None:
    argv = ["--recipe", "office-atomic-compact", "--seeds", "0", "--work-dir", str(tmp_path / "work"),
            "--results-dir", str(tmp_path / "results"), "--candidate", "sdpo:negatives=2",
            "--candidate", "sdpo:negatives=2,beta=0.5", "--screen",
            "--common=epochs=1", "--common=eval_users=20", "--common=batch_size=64",
            *(f"--set={o}" for o in TINY)]  # fmt: skip
    entry = script.main(argv)
    assert all("ndcg@10" not in row and "valid_ndcg@10" in row for row in entry["rows"].values())
    assert (
        not (tmp_path / "results/alignment").exists() and not (tmp_path / "results/alignment.json").exists()
    )
    table = (tmp_path / "results/alignment_screens.md").read_text()
    assert (
        "sdpo (beta=0.5), seed 0: " in table
        and "sdpo (beta=1.0), seed 0: " in table
        and "test NDCG@10" not in table
    )


def test_a_verdict_needs_the_interval_to_exclude_zero(report: ModuleType) -> None:
    base = {"mean_a": 0.05, "mean_difference": 0.003}
    assert report.verdict({**base, "ci_low": 0.001, "ci_high": 0.005}).startswith("beats (+6.0%")
    assert report.verdict({**base, "ci_low": -0.001, "ci_high": 0.005}).startswith("level with")
    assert report.verdict(
        {**base, "mean_difference": -0.003, "ci_low": -0.005, "ci_high": -0.001}
    ).startswith("loses to")


def test_held_out_sequences_drop_each_users_last_training_item(script: ModuleType) -> None:
    assert script.held_out_sequences([[1, 2, 3], [4, 5], [6]]) == [[1, 2], [4], [6]]


def test_a_held_out_start_is_aligned_and_the_usual_sft_model_stays_the_control(
    script: ModuleType, tmp_path: Path
) -> None:
    argv = ["--recipe", "office-atomic-compact", "--seeds", "0", "--work-dir", str(tmp_path / "work"),
            "--results-dir", str(tmp_path / "results"), "--candidate", "dpo:negatives=1",
            "--start", "held-out-last", "--common=epochs=1", "--common=eval_users=20",
            "--common=batch_size=64", *(f"--set={o}" for o in TINY)]  # fmt: skip
    entry = script.main(argv)
    assert list(entry["rows"]) == ["sft", "held-out-last", "+dpo"] and entry["start"] == "held-out-last"
    work = next((tmp_path / "work").iterdir())
    held = read_json(work / "held-out-last/model/run.json")
    assert held and (work / "sft/model/run.json").is_file()  # two different SFT models
    candidate = entry["seeds"][0]["candidates"][0]
    assert read_json(Path(candidate["dir"]) / "preference.json")["started_from"].endswith(
        "held-out-last/model"
    )
    assert set(entry["versus_sft"]) == {"held-out-last", "+dpo"} and set(entry["versus_start"]) == {
        "sft",
        "+dpo",
    }
    assert "vs held-out-last" in (tmp_path / "results/alignment.md").read_text()
    again = script.main(argv)  # the held-out model and the candidate are reused
    assert again["rows"]["held-out-last"]["train_s"] == entry["rows"]["held-out-last"]["train_s"]


def test_a_candidates_label_names_only_the_settings_its_objective_uses(
    script: ModuleType, report: ModuleType
) -> None:
    configs = [script.parse_candidate(c, []).to_dict() for c in ("dpo:negatives=1", "grpo:group_size=4")]
    labels = list(report.candidate_labels(configs).values())
    assert labels == ["dpo (negatives=1)", "grpo (group_size=4)"]
