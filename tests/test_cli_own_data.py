"""The CLI on a user's own data: examples/own-data (a YAML data spec with renamed columns) end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from genrec.cli import app
from tiny_train import tiny_train_sets

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]
SPEC = "examples/own-data/shop.yaml"  # relative to the repository root, as a user would type it
USERS = 40


def recommend(model_dir: Path, users: str, output: Path) -> list[dict[str, Any]]:
    """Run ``genrec recommend`` and return its JSONL rows."""
    result = runner.invoke(
        app, ["recommend", "--model", str(model_dir), "--users", users, "-o", str(output), "-k", "3"]
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in output.read_text().splitlines()]


def test_evaluate_then_recommend_from_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    result = runner.invoke(app, ["evaluate", SPEC, "popularity", "-o", str(tmp_path / "pop")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "pop" / "metrics.json").read_text())
    assert metrics["test"]["users"] == USERS
    recorded = json.loads((tmp_path / "pop" / "model" / "model.json").read_text())["dataset"]
    assert recorded == str(REPO / SPEC)  # absolute: the run reloads its data from any directory
    monkeypatch.chdir(tmp_path)
    rows = recommend(tmp_path / "pop" / "model", "test", tmp_path / "recs.jsonl")
    assert len(rows) == USERS and all(len(row["items"]) == 3 for row in rows)
    assert rows[0]["titles"]  # the items file's titles reach the output
    # DATASET:SPLIT with a spec path as DATASET (the split is taken after the last colon)
    rows = recommend(tmp_path / "pop" / "model", f"{REPO / SPEC}:valid", tmp_path / "valid.jsonl")
    assert len(rows) == USERS


def test_tokenize_atomic_on_own_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = runner.invoke(app, ["tokenize", SPEC, "atomic", "-o", str(tmp_path / "ids")])
    assert result.exit_code == 0, result.output
    stats = json.loads((tmp_path / "ids" / "stats.json").read_text())
    assert stats["items"] == 30 and stats["unique_rate"] == 1.0
    identifiers = json.loads((tmp_path / "ids" / "identifiers.json").read_text())
    assert "C01" in identifiers  # the items file's own ids (column ``sku``)


def test_train_on_own_data_then_recommend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    args = ["train", "office-atomic-compact", "-o", str(tmp_path / "run"), "--no-test"]
    args += tiny_train_sets(SPEC, eval_users=10)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    config = (tmp_path / "run" / "config.yaml").read_text()
    assert f"dataset: {REPO / SPEC}" in config
    monkeypatch.chdir(tmp_path)
    rows = recommend(tmp_path / "run" / "model", "test", tmp_path / "recs.jsonl")
    assert len(rows) == USERS
    catalogue = {
        line.split(",")[0] for line in (REPO / "examples/own-data/items.csv").read_text().splitlines()
    }
    assert all(set(row["items"]) <= catalogue for row in rows)


def test_bad_spec_is_a_clear_error(tmp_path: Path) -> None:
    spec = tmp_path / "shop.yaml"
    spec.write_text("interactions: nowhere.csv\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", str(spec), "popularity", "-o", str(tmp_path / "run")])
    assert result.exit_code != 0
    message = str(result.exception)
    assert "shop.yaml" in message and "field 'interactions'" in message and "nowhere.csv" in message
