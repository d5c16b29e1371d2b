"""`benchmarks/record.py`: the table of record regenerates from the committed JSON and never picks on test."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from benchmark_scripts import load_script

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


@pytest.fixture(scope="module")
def record() -> ModuleType:
    return load_script("record")


@pytest.fixture(scope="module")
def payload(record: ModuleType) -> dict[str, Any]:
    return record.record()


def _rows(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for rows in payload["datasets"].values() for row in rows]


def test_results_md_and_json_regenerate_identically(record: ModuleType, payload: dict[str, Any]) -> None:
    assert (RESULTS / "RESULTS.md").read_text() == record.markdown(payload), "run python benchmarks/record.py"
    stored = json.loads((RESULTS / "RESULTS.json").read_text())
    assert stored == json.loads(json.dumps(payload)), "run python benchmarks/record.py"


def test_every_dataset_has_a_baseline_and_a_generative_row(payload: dict[str, Any]) -> None:
    for dataset in ("ml-100k", "office", "scientific", "beauty"):
        families = {row["family"] for row in payload["datasets"][dataset]}
        assert {"popularity", "SASRec", "compact generative"} <= families, dataset


def test_every_row_has_seeds_time_commit_and_command(payload: dict[str, Any]) -> None:
    for row in _rows(payload):
        assert row["seeds"], row["row"]
        assert row["test"]["train_s"][0] is not None
        assert row["commits"] and all(
            len(c) >= 7 and c not in ("unknown", "uncommitted") for c in row["commits"]
        )
        assert row["command"].startswith("python benchmarks/")
        assert "--seeds " + " ".join(map(str, row["seeds"])) in row["command"]
        source = json.loads((RESULTS.parent.parent / row["source"]).read_text())
        budget = [o for o in source.get("overrides", []) if o.startswith("training.max_minutes=")]
        if budget:  # a wall-clock budget that is part of the row's identity travels with its command
            assert f"--max-minutes {float(budget[0].partition('=')[2]):g}" in row["command"]


def test_spread_is_the_sample_std_of_the_per_seed_values(payload: dict[str, Any]) -> None:
    checked = 0
    for row in _rows(payload):
        source = json.loads((RESULTS.parent.parent / row["source"]).read_text())
        if "datasets" in source:
            dataset = next(d for d, rows in payload["datasets"].items() if row in rows)
            runs = [r for r in source["datasets"][dataset][row["row"]]["runs"] if "test" in r]
            values = [r["test"]["all" if "all" in r["test"] else "ndcg@10"] for r in runs]
            values = [v["ndcg@10"] if isinstance(v, dict) else v for v in values]  # llm_direct: per group
        elif "entries" in source:  # alignment.py: the row is RECIPE+OBJECTIVE[ (held-out)]
            objective = "+" + row["row"].split("+")[1].split(" ")[0]
            start = "held-out-last" if row["row"].endswith("(held-out)") else "sft"
            (entry,) = [
                e for e in source["entries"].values()
                if row["row"].startswith(e["recipe"]) and e.get("start", "sft") == start and row["command"] == e["command"]
            ]  # fmt: skip
            values = [s["rows"][objective]["ndcg@10"] for s in entry["seeds"]]
        else:
            values = [r["ndcg@10"] for r in source["runs"]]
        mean, std = row["test"]["ndcg@10"]
        assert mean == pytest.approx(statistics.fmean(values))
        if len(values) > 1:
            assert std == pytest.approx(statistics.stdev(values))  # ddof=1
            checked += 1
        else:
            assert std is None
    assert checked >= 10


def test_stored_aggregates_are_sample_std(record: ModuleType) -> None:
    baselines = json.loads((RESULTS / "baselines.json").read_text())
    for models in baselines["datasets"].values():
        for entry in models.values():
            values = [r["test"]["ndcg@10"] for r in entry["runs"]]
            assert entry["summary"]["ndcg@10"][1] == pytest.approx(statistics.stdev(values))
    for path in (RESULTS / "generative").glob("*.json"):
        row = json.loads(path.read_text())
        values = [r["ndcg@10"] for r in row["runs"]]
        stored = row["rows"][row["recipe"]]["ndcg@10_std"]
        assert stored == (pytest.approx(statistics.stdev(values)) if len(values) > 1 else None), path.name


def _candidate(record: ModuleType, name: str, test: float, valid: float | None, fixed: bool) -> Any:
    runs = tuple(
        {"ndcg@10": test, "train_s": 1.0, "seed": s, "commit": "abcdef0", "valid": valid} for s in (0, 1)
    )
    return record.Candidate("office", "SASRec", name, "x.json", runs, "python benchmarks/x.py", fixed)


def test_validation_chooses_never_test(record: ModuleType) -> None:
    better_on_test = _candidate(record, "a", test=0.9, valid=0.1, fixed=True)
    better_on_valid = _candidate(record, "b", test=0.1, valid=0.2, fixed=False)
    listed, basis = record.select([better_on_test, better_on_valid])
    assert [c.name for c in listed] == ["b"] and "validation" in basis


def test_without_validation_figures_nothing_is_chosen(record: ModuleType) -> None:
    shipped_a = _candidate(record, "a", test=0.1, valid=None, fixed=True)
    shipped_b = _candidate(record, "b", test=0.2, valid=0.3, fixed=True)
    screen = _candidate(record, "c", test=0.9, valid=None, fixed=False)
    listed, basis = record.select([shipped_a, screen, shipped_b])
    assert [c.name for c in listed] == ["a", "b"] and "none chosen" in basis


def test_a_row_no_family_claims_stops_the_command(record: ModuleType) -> None:
    with pytest.raises(SystemExit, match="FAMILY_RULES"):
        record.family_of("generative", "office-atomic-t5")


def test_the_readme_block_is_replaced_between_its_markers_only(record: ModuleType, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("intro\n")
    assert not record.write_readme_block(readme, "table")
    assert readme.read_text() == "intro\n"
    readme.write_text(f"intro\n{record.BEGIN}\nold\n{record.END}\noutro\n")
    assert record.write_readme_block(readme, "new table")
    assert readme.read_text() == f"intro\n{record.BEGIN}\nnew table\n{record.END}\noutro\n"


def test_the_readme_block_is_the_generated_one(record: ModuleType, payload: dict[str, Any]) -> None:
    text = record.README.read_text()
    if record.BEGIN not in text:
        pytest.skip("README.md has no results markers")
    block = text.split(record.BEGIN, 1)[1].split(record.END, 1)[0]
    assert block.strip() == record.glance(payload).strip(), "run python benchmarks/record.py"


def test_llm_direct_rows_take_their_columns_from_the_per_user_ranks(
    record: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    ranks = [1, 3, 0, 7, 12, 5]
    (tmp_path / "per_user").mkdir()
    pd.DataFrame({"user": range(6), "rank": ranks}).to_parquet(tmp_path / "per_user" / "a.parquet")
    run = {"seed": 0, "threads": 1, "commit": "abcdef1", "train_s": 5.0, "valid": {"ndcg@10": 0.1}}
    run["test"] = {"all": {"ndcg@10": 0.2}}
    rows = {
        "sasrec-ce": {"runs": [{**run, "per_user": "per_user/a.parquet"}]},
        "sasrec-text-minilm": {"runs": [{**run, "per_user": "per_user/a.parquet"}]},
        "sasrec-text-smollm2": {"runs": [{k: v for k, v in run.items() if k != "test"}]},
    }
    path = tmp_path / "llm_direct.json"
    path.write_text(json.dumps({"datasets": {"office": rows}}))
    monkeypatch.setattr(record, "REPO", tmp_path)  # sources are named relative to the repository
    (found,) = record.llm_direct_candidates(path)
    assert (found.family, found.name) == ("LM-enhanced SASRec", "sasrec-text-minilm"), (
        "baseline, untested: out"
    )
    (values,) = found.runs
    assert values["hr@5"] == pytest.approx(3 / 6) and values["hr@10"] == pytest.approx(4 / 6)
    assert values["ndcg@5"] == pytest.approx((1 + 1 / 2 + 1 / 2.584962500721156) / 6)
    assert values["valid"] == 0.1
    assert (
        found.command
        == "python benchmarks/llm_direct.py --datasets office --rows sasrec-text-minilm --seeds 0 --threads 1"
    )


def test_aligned_rows_enter_with_their_validation_figures_and_start(
    record: ModuleType, tmp_path: Path
) -> None:
    import pandas as pd

    per_user = tmp_path / "alignment" / "per_user"
    per_user.mkdir(parents=True)
    seeds = []
    for seed in (0, 1):
        pd.DataFrame({"user": [0, 1, 2, 3], "rank": [1, 0, 3, 11]}).to_parquet(
            per_user / f"stem-dpo-seed{seed}.parquet"
        )
        rows = {
            "sft": {"valid_ndcg@10": 0.1, "train_s": 5.0},
            "+dpo": {"valid_ndcg@10": 0.2 + seed, "train_s": 2.0},
        }
        seeds.append({"seed": seed, "rows": rows, "commit": "abc"})
    entry = {"recipe": "office-atomic-compact", "start": "held-out-last", "command": "python x", "commit": "abc",
             "rows": {"sft": {}, "+dpo": {}}, "seeds": seeds}  # fmt: skip
    (tmp_path / "alignment.json").write_text(json.dumps({"entries": {"stem": entry}}))
    (only,) = record.alignment_candidates(tmp_path / "alignment.json")
    assert (only.dataset, only.family) == ("office", "aligned generative")
    assert only.name == "office-atomic-compact+dpo (held-out)" and only.mean("valid") == 0.7
    assert only.runs[0]["hr@10"] == 0.5 and only.runs[0]["hr@5"] == 0.5  # ranks 1 and 3 of 4 users
