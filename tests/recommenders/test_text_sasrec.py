"""The text-fused SASRec: text-only items get vectors from text, live catalogue updates, the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from genrec.data import InteractionData, LeaveOneOutSplit, leave_one_out
from genrec.data.catalogue import Catalogue
from genrec.errors import ConfigError, GenrecError
from genrec.recommenders.registry import build_recommender, load_recommender
from genrec.recommenders.text_sasrec import TextSASRecConfig, TextSASRecRecommender
from recommenders.content_fixtures import fake_embed
from recommenders.tiny_data import make_tiny_data

FAST = {"epochs": 3, "patience": 2, "batch_size": 16, "num_threads": 1, "hidden_size": 16, "max_len": 8}


@pytest.fixture(scope="module")
def titled_split() -> LeaveOneOutSplit:
    """The tiny cyclic data with a title per item ("thing <n>"), so texts can be copied between items."""
    data = make_tiny_data()
    ids = data.catalogue.item_ids
    catalogue = Catalogue.from_records(ids, {item: {"title": f"thing {n}"} for n, item in enumerate(ids)})
    return leave_one_out(InteractionData(data.name, catalogue, data.users, data.sequences))


def fitted(split: LeaveOneOutSplit, fusion: str) -> TextSASRecRecommender:
    rec = TextSASRecRecommender(TextSASRecConfig(fusion=fusion, adapter_hidden=8, **FAST), embed=fake_embed)
    rec.fit(split.train_data(), split.valid_set())
    return rec


def grown(catalogue: Catalogue, copies: list[int]) -> Catalogue:
    """``catalogue`` plus one new item per entry of ``copies``, each with the text of that known item."""
    new = [f"new{j}" for j in range(len(copies))]
    return catalogue.with_items(
        new, {n: {"title": catalogue.title(i)} for n, i in zip(new, copies, strict=True)}
    )


def test_text_only_item_vectors_are_a_function_of_text(titled_split: LeaveOneOutSplit) -> None:
    """Two items with the same text get the same vector; an added item scores exactly like its twin."""
    rec = fitted(titled_split, "text-only")
    catalogue = titled_split.train_data().catalogue
    added = rec.add_items(grown(catalogue, [3]))
    assert added == [len(catalogue)]
    table = rec._network().item_table()  # (items + 1, hidden)
    torch.testing.assert_close(table[added[0]], table[3])
    scores = rec.score(titled_split.test_set().histories[:5])  # (5, items)
    torch.testing.assert_close(scores[:, added[0]], scores[:, 3])


def test_sum_fusion_gives_added_items_their_text_vector_only(titled_split: LeaveOneOutSplit) -> None:
    rec = fitted(titled_split, "sum")
    catalogue = titled_split.train_data().catalogue
    known = len(catalogue)
    net = rec._network()
    before = net.items.weight[1 : known + 1].detach().clone()
    rec.add_items(grown(catalogue, [3, 5]))
    assert rec.num_items == known + 2
    torch.testing.assert_close(net.items.weight[1 : known + 1], before)  # known items keep their IDs
    assert torch.count_nonzero(net.items.weight[known + 1 :]) == 0
    torch.testing.assert_close(net.item_table()[known], net.adapter(net.text[4]))  # item 3's text, no ID
    assert net.item_table()[known].ne(net.item_table()[3]).any(), "the twin's learnt ID vector differs"


def test_added_items_survive_save_and_load(titled_split: LeaveOneOutSplit, tmp_path: Path) -> None:
    rec = fitted(titled_split, "sum")
    rec.add_items(grown(titled_split.train_data().catalogue, [1]))
    rec.save(tmp_path / "run")
    loaded = load_recommender(tmp_path / "run")
    assert isinstance(loaded, TextSASRecRecommender)
    histories = titled_split.test_set().histories
    a, b = rec.recommend(histories, 8), loaded.recommend(histories, 8)
    np.testing.assert_array_equal(a.items, b.items)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)


def test_hidden_items_are_never_recommended_until_unhidden(titled_split: LeaveOneOutSplit) -> None:
    rec = fitted(titled_split, "sum")
    histories = titled_split.test_set().histories
    top = rec.recommend(histories, 3).items
    hide = sorted({int(i) for i in top[:, 0]})
    rec.hide_items(hide)
    assert not set(rec.recommend(histories, 3).items.ravel().tolist()) & set(hide)
    rec.unhide_items(hide)
    np.testing.assert_array_equal(rec.recommend(histories, 3).items, top)
    with pytest.raises(GenrecError, match="outside the model"):
        rec.hide_items([999])


def test_refresh_text_changes_a_text_only_item_vector(titled_split: LeaveOneOutSplit) -> None:
    rec = fitted(titled_split, "text-only")
    catalogue = titled_split.train_data().catalogue
    ids = catalogue.item_ids
    titles = {item: {"title": catalogue.title(n)} for n, item in enumerate(ids)}
    titles[ids[2]] = {"title": catalogue.title(7)}
    rec.refresh_text(Catalogue.from_records(ids, titles), [2])
    table = rec._network().item_table()
    torch.testing.assert_close(table[2], table[7])


def test_registry_builds_it_and_rejects_unknown_options() -> None:
    rec = build_recommender("sasrec-text", {"fusion": "text-only", "text_encoder": "smollm2"}, seed=4)
    assert isinstance(rec, TextSASRecRecommender)
    assert isinstance(rec.config, TextSASRecConfig) and rec.config.seed == 4
    with pytest.raises(ConfigError, match="fuson"):
        build_recommender("sasrec-text", {"fuson": "sum"})
    with pytest.raises(ConfigError):
        build_recommender("sasrec-text", {"fusion": "concat"})


def test_a_text_only_model_transfers_to_another_catalogue(titled_split: LeaveOneOutSplit) -> None:
    """Over a catalogue holding the same texts in another order, the moved model scores the same items alike."""
    rec = fitted(titled_split, "text-only")
    catalogue = titled_split.train_data().catalogue
    order = np.random.default_rng(0).permutation(
        len(catalogue)
    )  # new item j has the text of old item order[j]
    ids = [f"other{j}" for j in range(len(catalogue))]
    other = Catalogue.from_records(
        ids, {ids[j]: {"title": catalogue.title(int(order[j]))} for j in range(len(ids))}
    )
    moved = rec.transfer_to(other)
    position = np.argsort(order)  # old item i is new item position[i]
    histories = titled_split.test_set().histories[:5]
    before = rec.score(histories)  # (5, items)
    after = moved.score([[int(position[i]) for i in h] for h in histories])  # (5, items)
    torch.testing.assert_close(after[:, position], before)


def test_a_sum_model_refuses_to_transfer(titled_split: LeaveOneOutSplit) -> None:
    rec = fitted(titled_split, "sum")
    with pytest.raises(GenrecError, match="text-only"):
        rec.transfer_to(titled_split.train_data().catalogue)
