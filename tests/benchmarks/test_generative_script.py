"""`benchmarks/generative.py`: a row's identity is its resolved config; labels in the combined table."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from benchmark_scripts import load_script

RECIPE = "office-atomic-compact"


@pytest.fixture
def script() -> ModuleType:
    return load_script("generative")


def test_combined_table_labels_overrides_and_older_configs(
    script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(script, "RESULTS", tmp_path)
    monkeypatch.setattr(script, "_harness_rows", lambda dataset: ({}, {}))
    run = {"seed": 0, "hr@10": 0.1, "ndcg@10": 0.05, "validity": 1.0, "train_s": 10.0}

    def write(name: str, sha: str | None, overrides: list[str]) -> None:
        payload = {"recipe": RECIPE, "dataset": "office", "config_sha": sha, "overrides": overrides}
        (tmp_path / f"{name}.json").write_text(json.dumps({**payload, "runs": [run]}))

    threads = ["training.num_threads=1"]
    write("a", script.config_sha(RECIPE, threads), threads)
    assert f"| {RECIPE} | 1 |" in script.combined_table()
    lr = ["training.lr=0.001", *threads]
    write("a", script.config_sha(RECIPE, lr), lr)
    assert f"| {RECIPE} (recipe + training.lr=0.001) | 1 |" in script.combined_table()
    write("a", "0123456789ab", threads)  # trained under values the recipe no longer has
    assert f"| {RECIPE}@0123456789ab (older recipe) | 1 |" in script.combined_table()
    write("b", "ba9876543210", lr)  # a second older config of the same recipe keeps its own row
    table = script.combined_table()
    assert f"| {RECIPE}@0123456789ab (older recipe) | 1 |" in table
    assert f"| {RECIPE}@ba9876543210 (recipe + training.lr=0.001) (older recipe) | 1 |" in table


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
    monkeypatch.setattr(script, "_harness_rows", lambda dataset: ({}, {}))
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
    table = script.combined_table()
    assert f"| {RECIPE} | 1 |" in table
    assert f"| {RECIPE} (test: 800 of 4905 users, sampled) | 1 |" in table


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
    table = script.combined_table()
    assert f"| {RECIPE} | 1 | " in table
    assert f"| {RECIPE} (trained on NVIDIA H200) | 1 |" in table


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
