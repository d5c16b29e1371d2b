"""`benchmarks/locked_results.py`: rows from separate writers merge; derived fields and Markdown follow."""

from __future__ import annotations

import json
from pathlib import Path

from benchmark_scripts import load_script


def test_writers_merge_into_what_is_on_disk_and_the_markdown_follows(tmp_path: Path) -> None:
    module = load_script("locked_results")
    path, empty = tmp_path / "results" / "x.json", {"runs": {}}

    def count(results: dict) -> None:
        results["count"] = len(results["runs"])

    for seed in ("0", "1"):
        with module.locked_results(path, empty, lambda r: f"{sorted(r['runs'])}\n", count) as results:
            results["runs"][seed] = {"ndcg@10": 0.1}
    assert json.loads(path.read_text()) == {
        "runs": {"0": {"ndcg@10": 0.1}, "1": {"ndcg@10": 0.1}},
        "count": 2,
    }
    assert path.with_suffix(".md").read_text() == "['0', '1']\n" and empty == {"runs": {}}
