"""benchmarks/explanations.py: its figures, on a tiny catalogue with a random word-level LM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_scripts import load_script

from genrec.recommenders.grounded_explain import GroundedExplainer
from recommenders.grounded_fixtures import make_word_lm, shop_catalogue

bench = load_script("explanations")


def test_distinct_n_counts_unique_ngrams() -> None:
    assert bench.distinct_n(["a b a b"], 1) == pytest.approx(2 / 4)
    assert bench.distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)
    assert bench.distinct_n([], 2) == 0.0


def test_grounded_rows_are_all_true_and_free_text_lies_are_caught(tmp_path: Path) -> None:
    catalogue = shop_catalogue()
    model, tokenizer = make_word_lm(tmp_path / "lm", catalogue)
    grounded = GroundedExplainer(model, tokenizer, catalogue)
    pairs = [([0], 1), ([2], 3), ([0, 2], 5), ([3], 2)]
    summary, rows = bench.explain_pairs(catalogue, pairs, lambda h, i: grounded.explain(h, i).text)
    assert summary["explanations"] == 4
    assert summary["all_named_attributes_true"] == 1.0 and summary["names_unknown_item"] == 0.0
    assert summary["names_any_attribute"] == 1.0 and summary["unique_sentence_ratio"] == 1.0
    assert summary["ms_per_explanation"] > 0
    liar = bench.explain_pairs(catalogue, pairs, lambda h, i: "Made by Zeta, like “The Golden Quill”.")[0]
    assert liar["all_named_attributes_true"] == 0.75  # no Zeta item in the first pair
    assert liar["names_unknown_item"] == 1.0 and liar["unique_sentence_ratio"] == 0.25
    payload = {
        "command": "test",
        "datasets": {
            "shop": {
                "model": "x",
                "summary": {"grounded": summary},
                "examples": [{"item": "p2", "grounded": rows[0]["text"]}],
            }
        },
    }
    text = bench.markdown(payload)
    assert "| shop | grounded | 4 | 1.000 |" in text and rows[0]["text"] in text
    json.dumps(payload)


def test_a_partial_run_keeps_the_other_explainers_figures_with_their_command() -> None:
    previous = {
        "command": "old",
        "datasets": {
            "office": {
                "model": "sasrec",
                "summary": {"grounded": {"explanations": 100}, "free_text": {"explanations": 100}},
                "examples": [
                    {"item": "a", "grounded": "g0", "free_text": "f0"},
                    {"item": "b", "free_text": "f1"},
                ],
            }
        },
    }
    payload = {
        "command": "new",
        "datasets": {
            "office": {
                "model": "sasrec",
                "summary": {"grounded": {"explanations": 500, "command": "new"}},
                "examples": [{"item": "a", "grounded": "g"}, {"item": "c", "grounded": "h"}],
            }
        },
    }
    merged = bench.merge_previous(payload, previous)["datasets"]["office"]
    assert merged["summary"]["grounded"] == {"explanations": 500, "command": "new"}
    assert merged["summary"]["free_text"] == {"explanations": 100, "command": "old"}
    # examples join only where both runs explained the same item
    assert merged["examples"] == [
        {"item": "a", "grounded": "g", "free_text": "f0"},
        {"item": "c", "grounded": "h"},
    ]
