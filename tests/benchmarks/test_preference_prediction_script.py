"""`benchmarks/preference_prediction.py` end to end on tiny ratings and a tiny LM: rows, seeds, merging."""

from __future__ import annotations

import json
import statistics
import string
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from benchmark_scripts import load_script

from genrec.data.catalogue import Catalogue
from genrec.data.ratings import Ratings
from tiny_word_lm import save_tiny_llama, word_level_tokenizer

ITEMS = 12


def tiny_ratings() -> Ratings:
    rng = np.random.default_rng(0)
    n, users = 300, 10
    ids = [str(i) for i in range(ITEMS)]
    return Ratings(
        name="tiny",
        catalogue=Catalogue.from_records(ids, {i: {"title": f"m{i}"} for i in ids}),
        users=tuple(f"u{u}" for u in range(users)),
        user=rng.integers(0, users, size=n),
        item=rng.integers(0, ITEMS, size=n),
        rating=rng.integers(1, 6, size=n).astype(np.float32),
        timestamp=np.arange(n),
    )


@pytest.fixture
def script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_script("preference_prediction")
    words = [
        *["Liked", "movies", "Disliked", "Will", "the", "user", "like", "Answer", "none", "Yes", "No"],
        *string.punctuation,
    ]
    lm = tmp_path / "lm"
    save_tiny_llama(lm, word_level_tokenizer([*words, *(f"m{i}" for i in range(ITEMS))]), max_positions=256)
    monkeypatch.setattr(module, "load_movielens_ratings", tiny_ratings)
    monkeypatch.setattr(module, "LM_COMMON", {**module.LM_COMMON, "lm": str(lm), "keep_layers": 0})
    monkeypatch.setitem(module.LM_ROWS, "lm-16", (16, {"epochs": 2, "valid_every": 1}))
    monkeypatch.setattr(module, "MF_WEIGHT_DECAYS", (0.05,))
    monkeypatch.setattr(module, "SASREC_OPTIONS", {"epochs": 1, "hidden_size": 8, "inner_size": 16})
    return module


def test_rows_and_seeds_merge_into_one_results_file(script: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "results" / "pp.json"
    script.main(
        [
            "--rows",
            "item-mean",
            "lm-16",
            "--seeds",
            "0",
            "1",
            "--valid-n",
            "20",
            "--test-n",
            "25",
            "--out",
            str(out),
        ]
    )
    script.main(
        [
            "--rows",
            "mf",
            "sasrec",
            "lm-16",
            "--seeds",
            "0",
            "--valid-n",
            "20",
            "--test-n",
            "25",
            "--out",
            str(out),
        ]
    )
    results = json.loads(out.read_text())
    assert set(results["runs"]) == {"item-mean", "lm-16", "mf", "sasrec"}
    assert results["protocol"]["examples"] == {"train": 230, "valid": 30, "test": 30}
    assert results["protocol"]["dropped_no_history"] == {"train": 10, "valid": 0, "test": 0}, "first ratings"
    assert results["protocol"]["test_sample"] == 25
    lm = results["runs"]["lm-16"]
    assert set(lm) == {"0", "1"}, "the second invocation kept seed 0 and did not drop seed 1"
    assert lm["0"]["train_examples"] == 16 and 0.0 <= lm["0"]["test_auc"] <= 1.0
    assert lm["0"]["commit"] and "--rows item-mean lm-16" in lm["0"]["command"]
    summary = results["summary"]["lm-16"]
    values = [lm[s]["test_auc"] for s in ("0", "1")]
    assert summary["test_auc"]["mean"] == pytest.approx(statistics.fmean(values))
    assert summary["test_auc"]["std"] == pytest.approx(statistics.stdev(values))
    assert results["summary"]["item-mean"]["test_auc"]["std"] == pytest.approx(0.0), "deterministic baseline"
    assert results["summary"]["mf"]["test_auc"]["std"] is None, "one seed has no spread"
    table = out.with_suffix(".md").read_text()
    assert "| lm-16 | 16 | 2 |" in table and "| sasrec |" in table
