"""`benchmarks/llm_efficiency.py`: every variant changes the recipe; rows of an older recipe are labelled and rerun."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from benchmark_scripts import load_script

from genrec.training.config import load_config
from genrec.training.provenance import config_sha


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script("llm_efficiency")


@pytest.mark.parametrize("dataset", ["office", "scientific"])
def test_every_variant_loads_and_all_but_base_change_the_recipe(script: ModuleType, dataset: str) -> None:
    recipe = script._recipe(dataset, "atomic")
    shipped = load_config(recipe)
    for name, (_what, overrides) in script.VARIANTS.items():
        config = load_config(recipe, overrides)  # a ConfigError here names the bad override
        assert (config == shipped) == (name == "base"), name


def test_the_ml_100k_table_reaches_its_recipe(script: ModuleType) -> None:
    assert load_config(script._recipe("ml-100k", "atomic")).data.dataset == "ml-100k"


def _run(sha: str | None, overrides: list[str]) -> dict[str, Any]:
    return {
        "config_sha": sha,
        "overrides": overrides,
        "test": {"hr@10": 0.1, "ndcg@10": 0.05, "validity": 1.0},
        "training": {
            "tokens": 100,
            "wall_time_s": 10.0,
            "steps": 5,
            "stopped": "time_budget",
            "validation": [],
        },
    }


def test_markdown_marks_runs_of_an_older_recipe(script: ModuleType) -> None:
    budget = ["training.max_minutes=1.0", "training.num_threads=1", "training.progress=false"]
    current = config_sha("office-atomic-smollm2", budget)
    payload = {
        "dataset": "office",
        "ids": "atomic",
        "seed": 0,
        "minutes": 1.0,
        "command": "x",
        "machine": {"cpus": 2, "threads": 1},
        "runs": {"base": _run(current, budget), "lora@0ld": {**_run("0ld", budget), "switch": "LoRA then"}},
    }
    rows = {
        line.split(" | ")[0]: line for line in script.markdown(payload).splitlines() if line.startswith("| ")
    }
    assert "| base" in rows and "| lora@0ld (older recipe)" in rows
    assert "LoRA then" in rows["| lora@0ld (older recipe)"]


def test_markdown_lists_current_runs_in_variant_order_then_older_ones(script: ModuleType) -> None:
    budget = ["training.max_minutes=1.0", "training.num_threads=1", "training.progress=false"]
    lora = [*script.VARIANTS["lora"][1], *budget]
    payload = {
        "dataset": "office",
        "ids": "atomic",
        "seed": 0,
        "minutes": 1.0,
        "command": "x",
        "machine": {"cpus": 2, "threads": 1},
        "runs": {  # in the order two processes happened to write them
            "base@0ld": _run("0ld", budget),
            "lora": _run(config_sha("office-atomic-smollm2", lora), lora),
            "base": _run(config_sha("office-atomic-smollm2", budget), budget),
        },
    }
    names = [line.split(" | ")[0] for line in script.markdown(payload).splitlines() if line.startswith("| ")]
    assert names[1:] == ["| base", "| lora", "| base@0ld (older recipe)"]  # after the header row


def test_a_run_of_an_older_recipe_is_kept_aside_and_rerun(
    script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(script, "RESULTS", tmp_path)
    stem = tmp_path / "llm_efficiency-office-atomic-1threads"
    old = {"dataset": "office", "ids": "atomic", "seed": 0, "minutes": 1.0, "runs": {"base": _run(None, [])}}
    stem.with_suffix(".json").write_text(json.dumps(old))
    calls: list[list[str]] = []

    def fake_train(recipe: str, out: Path, seed: int, data_dir: Any, overrides: list[str]) -> dict[str, Any]:
        calls.append(overrides)
        run = _run(None, overrides)
        return {"test": run["test"], "training": run["training"]}

    monkeypatch.setattr(script, "train_command", fake_train)
    argv = [
        "--dataset",
        "office",
        "--variants",
        "base",
        "--minutes",
        "1",
        "--threads",
        "1",
        "--work-dir",
        str(tmp_path),
    ]
    script.main(argv)
    runs = json.loads(stem.with_suffix(".json").read_text())["runs"]
    assert set(runs) == {"base", "base@older"} and len(calls) == 1
    assert runs["base"]["config_sha"] == config_sha("office-atomic-smollm2", calls[0])
    script.main(argv)  # the current run is kept: nothing trains again
    assert len(calls) == 1
    assert "base@older (older recipe)" in stem.with_suffix(".md").read_text()


def test_two_variant_lists_side_by_side_keep_each_others_runs(script: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "table.json"
    head = {"dataset": "office", "ids": "atomic", "seed": 0, "minutes": 1.0}
    # process A started when the file held a stale `lora`; meanwhile B kept it aside and reran it
    a = {**head, "runs": {"lora": _run("0ld", []), "base": _run("new", [])}}
    on_disk = {**head, "runs": {"lora@0ld": _run("0ld", []), "lora": _run("b", []), "base": _run("0ld", [])}}
    path.write_text(json.dumps(on_disk))
    script.merge_concurrent_runs(path, a, trained={"base"})
    assert set(a["runs"]) == {"base", "lora", "lora@0ld"}
    assert a["runs"]["base"]["config_sha"] == "new"  # what A trained stays A's
    assert a["runs"]["lora"]["config_sha"] == "b"  # B's rerun replaces A's stale copy
    other_budget = {**head, "minutes": 15.0, "runs": {}}
    script.merge_concurrent_runs(path, other_budget, trained=set())
    assert other_budget["runs"] == {}  # a table of another budget is not merged
