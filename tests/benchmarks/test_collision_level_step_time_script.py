"""`benchmarks/collision_level_step_time.py`: both layouts timed on their own first epoch, files written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from benchmark_scripts import load_script

from genrec.data.catalogue import Catalogue
from genrec.data.interactions import InteractionData


def test_times_both_layouts_and_the_shorter_one_has_fewer_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    n_items = 24
    index = {f"i{i}": [f"<a_{i % 4}>", f"<b_{i // 4}>"] for i in range(n_items)}
    index["i1"] = index["i0"]  # one shared code: two items need the collision level
    (tmp_path / "index.json").write_text(json.dumps(index))
    recipe = {
        "data": {"dataset": "tiny", "max_history": 6},
        "identifiers": {"kind": "prebuilt", "options": {"path": "index.json"}},
        "backbone": {"num_layers": 1, "hidden_size": 16, "num_heads": 2, "intermediate_size": 32},
        "training": {"batch_size": 8, "epochs": 1, "progress": False, "num_threads": 1},
    }
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    sequences = tuple(tuple((u + j) % n_items for j in range(4 + u % 5)) for u in range(40))
    data = InteractionData("tiny", Catalogue(tuple(index)), tuple(f"u{u}" for u in range(40)), sequences)
    script = load_script("collision_level_step_time")
    monkeypatch.setattr(script, "load_dataset", lambda name, data_dir=None: data)
    out = tmp_path / "results"
    argv = ["x", "--recipe", str(tmp_path / "recipe.yaml"), "--data-dir", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", [*argv, "--results-dir", str(out)])
    script.main()
    assert "`colliding` trains the same batches" in (out / "collision_level_step_time-recipe.md").read_text()
    payload = json.loads((out / "collision_level_step_time-recipe.json").read_text())
    rows = payload["rows"]
    assert rows["all"]["identifier_lengths"] == [3]
    assert rows["colliding"]["identifier_lengths"] == [2, 3]
    assert (
        rows["all"]["timed_batches"] == rows["colliding"]["timed_batches"] == rows["all"]["batches_per_epoch"]
    )
    assert 0 < rows["colliding"]["tokens"] < rows["all"]["tokens"]
    assert all(r["time_s"] > 0 for r in rows.values())
    assert payload["speedup_colliding_over_all"] == rows["all"]["time_s"] / rows["colliding"]["time_s"]
