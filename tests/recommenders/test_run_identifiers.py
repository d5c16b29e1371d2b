"""A training run keeps its fitted identifiers: a resumed fit loads them instead of fitting again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genrec.data.split import EvalSet, TrainData
from genrec.errors import GenrecError
from genrec.recommenders.generative import GenerativeRecommender
from genrec.recommenders.run_identifiers import IDENTIFIERS_DIR, load_run_identifiers, save_run_identifiers
from genrec.tokenizers.atomic import AtomicTokenizer
from genrec.tokenizers.registry import build_tokenizer

from .test_generative import tiny_config, tiny_data


def _short_config() -> object:
    from genrec.training.config import config_from_dict

    cfg = tiny_config().to_dict()
    cfg["training"] = {**cfg["training"], "epochs": 2, "eval_every": 0}
    return config_from_dict(cfg)


def _fit(out: Path, train: TrainData, valid: EvalSet | None = None) -> GenerativeRecommender:
    rec = GenerativeRecommender(_short_config(), output_dir=out)  # type: ignore[arg-type]
    rec.fit(train, valid)
    return rec


def test_resumed_fit_loads_the_saved_identifiers_instead_of_fitting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train, valid = tiny_data()
    first = _fit(tmp_path / "run", train, valid)
    saved = tmp_path / "run" / IDENTIFIERS_DIR
    assert saved.is_dir() and not list((tmp_path / "run").glob(".identifiers.*"))

    def refuse(*_args: object) -> None:
        raise AssertionError("identifiers were fitted again on resume")

    monkeypatch.setattr(AtomicTokenizer, "fit", refuse)
    resumed = _fit(tmp_path / "run", train, valid)  # the finished run resumes at its last step
    assert resumed.item_ids == first.item_ids
    assert [resumed.item_tokenizer.encode(i) for i in range(train.num_items)] == [
        first.item_tokenizer.encode(i) for i in range(train.num_items)
    ]
    np.testing.assert_array_equal(
        resumed.recommend([[0, 1, 2]], k=5).items, first.recommend([[0, 1, 2]], k=5).items
    )
    with pytest.raises(AssertionError, match="fitted again"):  # a new directory does fit
        _fit(tmp_path / "other", train)


def test_identifiers_of_another_catalogue_or_kind_are_refused(tmp_path: Path) -> None:
    train, _ = tiny_data(n_items=30)
    _fit(tmp_path / "run", train)
    bigger, _ = tiny_data(n_items=31)
    with pytest.raises(GenrecError, match=r"identifiers.*cover 30 items.*catalogue has 31"):
        _fit(tmp_path / "run", bigger)
    title = build_tokenizer("title", {})
    with pytest.raises(GenrecError, match=r"identifiers are 'atomic'.*asks for 'title'"):
        load_run_identifiers(tmp_path / "run", title, train.num_items)


def test_save_is_atomic_and_keeps_what_is_there(tmp_path: Path) -> None:
    train, _ = tiny_data(n_items=12)
    tokenizer = AtomicTokenizer()
    tokenizer.fit(train.catalogue, train.sequences, 0)
    stale = tmp_path / ".identifiers.killed.tmp"
    stale.mkdir(parents=True)
    (stale / "partial.json").write_text("{")
    written = save_run_identifiers(tokenizer, tmp_path)
    assert written == tmp_path / IDENTIFIERS_DIR and not stale.exists()
    other = AtomicTokenizer()
    other.fit(tiny_data(n_items=20)[0].catalogue, [], 0)
    save_run_identifiers(other, tmp_path)  # already there: left as it was
    loaded = load_run_identifiers(tmp_path, AtomicTokenizer(), 12)
    assert loaded is not None and len(loaded) == 12
    assert load_run_identifiers(tmp_path / "empty", AtomicTokenizer(), 12) is None
