"""`benchmarks/search_temperature.py`: validation rows per search temperature, the model left as it came."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from benchmark_scripts import load_script

from genrec.data.catalogue import Catalogue
from genrec.data.split import EvalSet, TrainData
from genrec.evaluation.evaluator import evaluate
from genrec.recommenders.generative import GenerativeRecommender
from genrec.training.config import config_from_dict


def test_rows_per_temperature_and_the_model_restored(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n_items = 20
    seqs = [[(int(s) + j) % n_items for j in range(6)] for s in rng.integers(0, n_items, 40)]
    users = tuple(f"u{u}" for u in range(len(seqs)))
    train = TrainData(Catalogue(tuple(f"i{i}" for i in range(n_items))), [s[:-2] for s in seqs], users)
    valid = EvalSet(users, [s[:-2] for s in seqs], np.array([s[-2] for s in seqs]))
    config = config_from_dict(
        {
            "identifiers": {"kind": "prebuilt", "options": {"path": "index.json"}},
            "backbone": {"num_layers": 1, "hidden_size": 16, "num_heads": 2, "intermediate_size": 32},
            "training": {
                "epochs": 3,
                "batch_size": 16,
                "eval_every": 0,
                "progress": False,
                "num_threads": 1,
                "checkpoint_every": 0,
                "loss_temperature": 0.5,
            },
            "decoding": {"num_beams": 10},
        }
    )
    # two tokens per item: a temperature re-weighs the steps (on one token it could not change a ranking)
    index = {f"i{i}": [f"<a_{i % 4}>", f"<b_{i // 4}>"] for i in range(n_items)}
    (tmp_path / "index.json").write_text(json.dumps(index))
    rec = GenerativeRecommender(config, data_dir=tmp_path, output_dir=tmp_path / "run")
    rec.fit(train, valid)
    as_trained = evaluate(rec, valid, k_max=10).metrics
    rows = load_script("search_temperature").temperature_rows(rec, valid, [0.5, 3.0])
    assert [(r["search_temperature"], r["num_beams"]) for r in rows] == [(0.5, 10), (3.0, 10)]
    assert rows[0]["ndcg@10"] == as_trained["ndcg@10"] and rows[0]["hr@5"] == as_trained["hr@5"]
    assert rows[1]["ndcg@10"] != as_trained["ndcg@10"]  # the hotter search really ranks differently
    wide = load_script("search_temperature").temperature_rows(rec, valid, [0.5], num_beams=[10, 20])
    assert [r["num_beams"] for r in wide] == [10, 20] and wide[0]["ndcg@10"] == as_trained["ndcg@10"]
    assert rec.config == config  # searched at its own temperature again afterwards
    assert evaluate(rec, valid, k_max=10).metrics["ndcg@10"] == as_trained["ndcg@10"]


def test_rows_merge_with_earlier_ones_of_the_same_model() -> None:
    merge_rows = load_script("search_temperature").merge_rows
    earlier = [{"search_temperature": 1.0, "ndcg@10": 0.1}, {"search_temperature": 0.5, "ndcg@10": 0.2}]
    new = [
        {"search_temperature": 0.5, "num_beams": 20, "ndcg@10": 0.3},
        {"search_temperature": 0.5, "num_beams": 50, "ndcg@10": 0.4},
    ]
    merged = merge_rows(earlier, new, trained_num_beams=20)
    # (0.5, 20) re-measured replaces the earlier row written without a width; (1.0, 20) stays
    assert [(r["search_temperature"], r["num_beams"], r["ndcg@10"]) for r in merged] == [
        (0.5, 20, 0.3),
        (0.5, 50, 0.4),
        (1.0, 20, 0.1),
    ]
