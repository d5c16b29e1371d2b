"""The CLI's stage commands: each is a thin wrapper over the Python API, so these check the wiring only."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from genrec.cli import app

runner = CliRunner()

TINY_TRAIN = [
    "data.dataset=ml-100k", "backbone.num_layers=1", "backbone.hidden_size=16", "backbone.num_heads=2",
    "backbone.intermediate_size=32", "training.max_steps=2", "training.batch_size=32",
    "training.eval_every=0", "training.progress=false", "training.num_threads=1", "training.eval_users=20",
    "decoding.num_beams=5",
]  # fmt: skip


def test_evaluate_writes_a_run_directory_and_compare_reads_two(tmp_path: Path) -> None:
    for seed in (0, 1):
        result = runner.invoke(
            app,
            ["evaluate", "ml-100k", "popularity", "-o", str(tmp_path / f"run{seed}"), "--seed", str(seed)],
        )
        assert result.exit_code == 0, result.output
        assert "ndcg@10" in result.output
    for name in ("config.json", "metrics.json", "metrics.md", "per_user.parquet", "curves.png"):
        assert (tmp_path / "run0" / name).is_file(), name
    result = runner.invoke(
        app, ["compare", str(tmp_path / "run0"), str(tmp_path / "run1"), "--bootstrap", "200"]
    )
    assert result.exit_code == 0, result.output
    assert "paired t-test" in result.output
    # two pairs: pooled over two seeds (run0 vs run1 and run1 vs run0 cancel out exactly)
    pooled = [str(tmp_path / r) for r in ("run0", "run1", "run1", "run0")]
    result = runner.invoke(app, ["compare", *pooled, "--bootstrap", "200"])
    assert result.exit_code == 0, result.output
    assert "2 seeds pooled" in result.output, result.output
    result = runner.invoke(app, ["compare", *pooled[:3]])
    assert result.exit_code != 0
    assert "pairs" in str(result.exception) + result.output


def test_evaluate_unknown_option_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["evaluate", "ml-100k", "sasrec", "-o", str(tmp_path), "--set", "nope=1"])
    assert result.exit_code != 0
    assert "nope" in str(result.exception) + result.output


def test_tokenize_atomic_writes_identifiers_and_stats(tmp_path: Path) -> None:
    result = runner.invoke(app, ["tokenize", "ml-100k", "atomic", "-o", str(tmp_path / "ids")])
    assert result.exit_code == 0, result.output
    stats = json.loads((tmp_path / "ids" / "stats.json").read_text())
    assert stats["items"] == 1682 and stats["unique_rate"] == 1.0


def test_train_then_recommend_from_the_saved_run(tmp_path: Path) -> None:
    args = ["train", "office-atomic-compact", "-o", str(tmp_path / "run"), "--no-test"]
    for value in TINY_TRAIN:
        args += ["--set", value]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "model").is_dir()
    out = tmp_path / "recs.jsonl"
    result = runner.invoke(
        app,
        [
            "recommend",
            "--model",
            str(tmp_path / "run" / "model"),
            "--users",
            "test",
            "-o",
            str(out),
            "-k",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 943
    assert all(len(row["items"]) == 3 for row in rows)


def test_recipes_lists_the_shipped_configs() -> None:
    result = runner.invoke(app, ["recipes"])
    assert result.exit_code == 0
    assert "ml100k-semantic-compact" in result.output
