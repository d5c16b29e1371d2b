from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genrec.cli import app

runner = CliRunner()


def test_data_stats_ml100k() -> None:
    result = runner.invoke(app, ["data", "stats", "ml-100k"])
    assert result.exit_code == 0, result.output
    assert "943" in result.output and "1,682" in result.output and "100,000" in result.output


@pytest.mark.shared_data
def test_data_stats_office() -> None:
    result = runner.invoke(app, ["data", "stats", "office"])
    assert result.exit_code == 0, result.output
    for value in ("4,905", "2,420", "53,258"):
        assert value in result.output


def test_bad_data_dir_is_a_clear_error_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "genrec", "data", "stats", "office", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Office.inter.json" in proc.stdout and "GENREC_DATA_DIR" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_demo_prints_stats_and_popularity(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--seed", "0", "--output-dir", str(tmp_path), "--no-generative"])
    assert result.exit_code == 0, result.output
    assert "popularity" in result.output and "NDCG@10" in result.output
    assert (tmp_path / "config.json").is_file()
