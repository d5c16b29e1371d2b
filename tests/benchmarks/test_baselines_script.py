"""`benchmarks/baselines.py`: results saved per seed, --resume keeps finished seeds, --merge joins chains."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from benchmark_scripts import load_script


@pytest.fixture
def script() -> ModuleType:
    return load_script("baselines")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data" / "office"
    root.mkdir(parents=True)
    sequences = {str(u): [(u + j) % 9 for j in range(5 + u % 3)] for u in range(12)}
    (root / "Office.inter.json").write_text(json.dumps(sequences))
    items = {
        str(i): {"title": f"item {i}", "description": "", "brand": "", "categories": ""} for i in range(9)
    }
    (root / "Office.item.json").write_text(json.dumps(items))
    return tmp_path / "data"


def _run(script: ModuleType, data_dir: Path, out: Path, *args: str) -> dict:
    common = ["--datasets", "office", "--models", "popularity", "--data-dir", str(data_dir)]
    common += ["--output", str(out)]
    assert script.main([*common, *args]) == 0
    return json.loads((out / (args[args.index("--name") + 1] + ".json")).read_text())


def test_seeds_resume_and_merge(script: ModuleType, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    a = _run(script, data_dir, out, "--seeds", "0", "1", "--name", "a")
    assert [r["seed"] for r in a["datasets"]["office"]["popularity"]["runs"]] == [0, 1]
    assert all(r["threads"] == 2 for r in a["datasets"]["office"]["popularity"]["runs"])
    _run(script, data_dir, out, "--seeds", "2", "--name", "b", "--threads", "1")
    merged = _run(script, data_dir, out, "--seeds", "0", "--name", "c", "--merge", "a", "b")
    runs = merged["datasets"]["office"]["popularity"]["runs"]
    assert [r["seed"] for r in runs] == [0, 1, 2]
    hr = [r["test"]["hr@10"] for r in runs]
    assert merged["datasets"]["office"]["popularity"]["summary"]["hr@10"][0] == pytest.approx(sum(hr) / 3)
    assert "| office | popularity | 3 |" in (out / "c.md").read_text()
    # --resume with a subset of seeds keeps the others instead of dropping them.
    resumed = _run(script, data_dir, out, "--seeds", "1", "--name", "c", "--resume")
    assert [r["seed"] for r in resumed["datasets"]["office"]["popularity"]["runs"]] == [0, 1, 2]


def test_merge_refuses_other_settings(script: ModuleType, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _run(script, data_dir, out, "--seeds", "0", "--name", "a", "--set", "lr=0.01")
    with pytest.raises(SystemExit, match="other settings"):
        _run(script, data_dir, out, "--seeds", "0", "--name", "b", "--merge", "a")
