"""The CLI's stage commands: each is a thin wrapper over the Python API, so these check the wiring only."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from genrec.cli import app
from genrec.training.config import config_from_dict, load_config
from tiny_train import tiny_train_sets

runner = CliRunner()


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
    assert "SASRecConfig: unknown keys ['nope']; allowed:" in str(result.exception)


def test_tokenize_atomic_writes_identifiers_and_stats(tmp_path: Path) -> None:
    result = runner.invoke(app, ["tokenize", "ml-100k", "atomic", "-o", str(tmp_path / "ids")])
    assert result.exit_code == 0, result.output
    stats = json.loads((tmp_path / "ids" / "stats.json").read_text())
    assert stats["items"] == 1682 and stats["unique_rate"] == 1.0


def test_train_then_recommend_from_the_saved_run(tmp_path: Path) -> None:
    args = ["train", "office-atomic-compact", "-o", str(tmp_path / "run"), "--no-test"]
    args += tiny_train_sets("ml-100k", eval_users=20)
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


def test_every_recipe_genrec_recipes_lists_validates() -> None:
    result = runner.invoke(app, ["recipes"])
    assert result.exit_code == 0
    listed = result.output.split()
    assert "ml100k-semantic-compact" in listed and len(listed) >= 19
    for name in listed:
        config = load_config(name)  # a ConfigError names the recipe file and the bad key
        assert config_from_dict(config.to_dict()) == config, name


def test_a_bad_set_value_names_the_key_for_every_command(tmp_path: Path) -> None:
    train = ["train", "office-atomic-compact", "-o", str(tmp_path / "t"), "--set", "training.lr=0"]
    evaluate = ["evaluate", "ml-100k", "sasrec", "-o", str(tmp_path / "e"), "--set", "epochs=ten"]
    for args, message in (
        (train, "office-atomic-compact.yaml: training.lr: Input should be greater than 0"),
        (evaluate, "SASRecConfig.epochs: Input should be a valid integer (got 'ten')"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code != 0
        assert message in str(result.exception), result.exception
    assert not (tmp_path / "t").exists()
