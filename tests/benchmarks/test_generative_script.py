"""`benchmarks/generative.py`: a row's identity is its resolved config; what each seed records."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pandas as pd
import pytest
from benchmark_scripts import load_script

RECIPE = "office-atomic-compact"


@pytest.fixture
def script() -> ModuleType:
    return load_script("generative")


def test_a_row_stores_mean_and_sample_std_over_seeds_with_validation(script: ModuleType) -> None:
    runs = [
        {"seed": 0, "ndcg@10": 0.1, "train_s": 10.0, "valid_ndcg@10": 0.2},
        {"seed": 1, "ndcg@10": 0.3, "train_s": 30.0, "valid_ndcg@10": 0.4},
    ]
    row = script.summary(runs)
    assert row["ndcg@10"] == pytest.approx(0.2)
    assert row["ndcg@10_std"] == pytest.approx(0.1414214, abs=1e-6)  # ddof=1, not the population 0.1
    assert row["valid_ndcg@10"] == pytest.approx(0.3)
    assert script.summary(runs[:1])["ndcg@10_std"] is None  # one seed has no spread


def test_validation_takes_the_trainers_confirmation_only_when_it_covered_every_user(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    valid = SimpleNamespace(users=list(range(10)))
    scored: list[object] = []

    def evaluate(rec: object, eval_set: object, k_max: int) -> SimpleNamespace:
        scored.append(eval_set)
        return SimpleNamespace(metrics={"ndcg@10": 0.25})

    monkeypatch.setattr(script, "evaluate", evaluate)
    confirmed = {"validation_users": 10, "best": 0.1, "final": 0.3, "kept": "final"}
    assert script.validation_ndcg(None, valid, {"training": {"confirmed": confirmed}}) == (0.3, 10)
    assert not scored
    subset = {**confirmed, "validation_users": 5}  # a sample of the users: scored again on all of them
    assert script.validation_ndcg(None, valid, {"training": {"confirmed": subset}}) == (0.25, 10)
    assert script.validation_ndcg(None, valid, {"training": {"confirmed": None}}) == (0.25, 10)
    assert scored == [valid, valid]


def test_per_user_test_values_are_kept_beside_the_row(
    script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(script, "RESULTS", tmp_path)
    monkeypatch.setattr(script, "PER_USER", tmp_path / "per_user")
    run_dir = tmp_path / "run"
    assert script.keep_per_user(run_dir, "row", 0) is None  # a run that wrote none
    run_dir.mkdir()
    frame = pd.DataFrame({"user": ["a", "b"], "target": [1, 2], "rank": [1, 0], "ndcg@10": [1.0, 0.0]})
    frame.to_parquet(run_dir / "per_user.parquet")
    assert script.keep_per_user(run_dir, "row", 2) == "per_user/row-seed2.parquet"
    kept = pd.read_parquet(tmp_path / "per_user" / "row-seed2.parquet")
    assert list(kept.columns) == ["user", "rank", "ndcg@10"] and kept["ndcg@10"].tolist() == [1.0, 0.0]


def test_an_override_experiment_never_overwrites_the_recipes_row(
    script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(script, "RESULTS", tmp_path)
    bare = script.config_sha(RECIPE, [])
    assert script.results_file(RECIPE, bare) == tmp_path / f"{RECIPE}.json"
    (tmp_path / f"{RECIPE}.json").write_text(json.dumps({"recipe": RECIPE, "config_sha": bare, "runs": []}))
    lr = script.config_sha(RECIPE, ["training.lr=0.001"])
    assert script.results_file(RECIPE, lr) == tmp_path / f"{RECIPE}@{lr}.json"
    assert script.results_file(RECIPE, bare) == tmp_path / f"{RECIPE}.json"  # found by its config
    # the recipe's own row from an older version of the recipe is kept aside, not overwritten
    (tmp_path / f"{RECIPE}.json").write_text(json.dumps({"recipe": RECIPE, "config_sha": "0ld", "runs": []}))
    assert script.results_file(RECIPE, bare) == tmp_path / f"{RECIPE}.json"
    assert (tmp_path / f"{RECIPE}@0ld.json").is_file() and not (tmp_path / f"{RECIPE}.json").exists()


def _with_recipe_row(
    script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, dict[str, object]]:
    """Results in ``tmp_path`` holding the shipped recipe's full-test CPU row; its sha and header."""
    monkeypatch.setattr(script, "RESULTS", tmp_path)
    bare = script.config_sha(RECIPE, [])
    full = {"recipe": RECIPE, "dataset": "office", "config_sha": bare, "overrides": []}
    (tmp_path / f"{RECIPE}.json").write_text(json.dumps({**full, "runs": [{"seed": 0, "ndcg@10": 0.05}]}))
    return bare, full


def test_a_row_tested_on_sampled_users_lives_apart_and_says_so(
    script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare, full = _with_recipe_row(script, tmp_path, monkeypatch)
    sampled = script.results_file(RECIPE, bare, test_users=800)
    assert sampled == tmp_path / f"{RECIPE}@{bare}+test800.json"
    run = {"seed": 0, "ndcg@10": 0.02, "users": 800, "users_total": 4905}
    sampled.write_text(json.dumps({**full, "test_users": 800, "runs": [run]}))
    assert script.results_file(RECIPE, bare) == tmp_path / f"{RECIPE}.json"  # the full-test row stays
    assert script.results_file(RECIPE, bare, test_users=800) == sampled
    _, notes = load_script("record").generative_command({**full, "test_users": 800, "runs": [run]}, [0])
    assert "tested on 800 sampled test users, not all" in notes


def test_a_row_trained_on_a_gpu_lives_apart_and_says_so(
    script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare, full = _with_recipe_row(script, tmp_path, monkeypatch)
    on_gpu = script.results_file(RECIPE, bare, accelerator="cuda")
    assert on_gpu == tmp_path / f"{RECIPE}@{bare}+cuda.json"  # never the CPU row's file: seeds stay apart
    machine = {"accelerator": "NVIDIA H200"}
    payload = {**full, "accelerator": "cuda", "machine": machine, "runs": [{"seed": 1, "ndcg@10": 0.04}]}
    on_gpu.write_text(json.dumps(payload))
    assert script.results_file(RECIPE, bare) == tmp_path / f"{RECIPE}.json"
    assert script.results_file(RECIPE, bare, accelerator="cuda") == on_gpu
    sampled = script.results_file(RECIPE, bare, test_users=800, accelerator="cuda")
    assert sampled == tmp_path / f"{RECIPE}@{bare}+test800+cuda.json"
    _, notes = load_script("record").generative_command(payload, [1])
    assert "trained on NVIDIA H200" in notes


def test_seeds_run_side_by_side_both_stay_in_the_results_file(script: ModuleType, tmp_path: Path) -> None:
    # `--seeds 1` and `--seeds 2` started together: each read a file holding seed 0 only
    out = tmp_path / f"{RECIPE}.json"
    row = {"hr@10": 0.1, "ndcg@10": 0.05, "validity": 1.0, "train_s": 10.0}
    on_disk = {"config_sha": "abc", "runs": [{**row, "seed": 0}, {**row, "seed": 1}]}  # seed 1 finished first
    out.write_text(json.dumps(on_disk))
    late = {"config_sha": "abc", "runs": [{**row, "seed": 0}, {**row, "seed": 2, "ndcg@10": 0.07}]}
    script._merge_concurrent_seeds(out, late)
    assert sorted(r["seed"] for r in late["runs"]) == [0, 1, 2]
    assert next(r for r in late["runs"] if r["seed"] == 2)["ndcg@10"] == 0.07  # its own row wins
    # a file from another config is not merged
    other = {"config_sha": "def", "runs": [{**row, "seed": 2}]}
    script._merge_concurrent_seeds(out, other)
    assert [r["seed"] for r in other["runs"]] == [2]


def test_every_dataset_name_reaches_its_shipped_recipes(script: ModuleType) -> None:
    from genrec.training.config import load_config

    assert script.recipe_name("ml-100k", "semantic", "smollm2") == "ml100k-semantic-smollm2"
    assert load_config(script.recipe_name("ml-100k", "title", "smollm2")).data.dataset == "ml-100k"
    assert script.recipe_name("office", "atomic", "compact") == "office-atomic-compact"
