"""The cold-start blend: SASRec for known items, text for new ones, at most floor(eps*K) new items per list."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genrec.data import InteractionData
from genrec.data.catalogue import Catalogue
from genrec.data.new_items import NewItemSplit, new_item_split
from genrec.recommenders.cold_start_blend import ColdStartBlendConfig, ColdStartBlendRecommender
from genrec.recommenders.registry import load_recommender
from recommenders.content_fixtures import fake_embed
from recommenders.tiny_data import make_tiny_data

FAST = {"epochs": 3, "patience": 2, "batch_size": 16, "num_threads": 1, "hidden_size": 16, "max_len": 8}


@pytest.fixture(scope="module")
def split() -> NewItemSplit:
    data = make_tiny_data(num_users=96, num_items=20)
    ids = data.catalogue.item_ids
    catalogue = Catalogue.from_records(ids, {item: {"title": f"thing {n}"} for n, item in enumerate(ids)})
    return new_item_split(InteractionData(data.name, catalogue, data.users, data.sequences), 0.2, seed=0)


@pytest.fixture(scope="module")
def fitted(split: NewItemSplit) -> ColdStartBlendRecommender:
    rec = ColdStartBlendRecommender(ColdStartBlendConfig(adapter_hidden=8, **FAST), embed=fake_embed)
    rec.fit(split.split.train_data(), split.split.valid_set())
    return rec


def test_items_without_training_interactions_are_the_new_ones(
    split: NewItemSplit, fitted: ColdStartBlendRecommender
) -> None:
    assert set(np.flatnonzero(fitted.is_new)) == set(split.new_items)
    assert fitted.training_log["new_items"] == len(split.new_items)


@pytest.mark.parametrize("epsilon", [0.0, 0.2, 0.5])
def test_at_most_floor_epsilon_k_new_items_in_a_list(
    split: NewItemSplit, fitted: ColdStartBlendRecommender, epsilon: float
) -> None:
    # a large offset puts every new item above every known one: only the cap holds them back
    rec = fitted.with_blend(text_weight=1.0, new_item_offset=100.0, epsilon=epsilon)
    histories = split.split.valid_set().histories
    items = rec.recommend(histories, 6).items  # 16 known items, histories of at most 8 of them
    new_per_row = np.isin(items, list(split.new_items)).sum(axis=1)
    assert (new_per_row == int(epsilon * 6)).all()
    assert (items >= 0).all()
    for row, history in zip(items, histories, strict=True):
        assert not set(row.tolist()) & set(history) and len(set(row.tolist())) == 6


def test_the_blend_choices_move_new_items_and_keep_the_known_order(
    split: NewItemSplit, fitted: ColdStartBlendRecommender
) -> None:
    histories = split.split.valid_set().histories
    high = fitted.with_blend(1.0, 100.0, 1.0).recommend(histories, 10).items
    low = fitted.with_blend(1.0, -100.0, 1.0).recommend(histories, 6).items
    new = list(split.new_items)
    assert np.isin(high[:, : len(new)], new).all()  # every allowed new item ranks first
    assert not np.isin(low, new).any()
    # below the new items, the known items come in the LM-enhanced SASRec's own order
    base = fitted.known.recommend(histories, 20).items
    for row in range(len(histories)):
        own = [i for i in base[row] if i not in new][:6]
        assert low[row].tolist() == own
    assert fitted.config.new_item_offset == 1.0  # with_blend never changes the fitted model


def test_added_items_are_new_and_can_be_recommended(split: NewItemSplit, tmp_path: Path) -> None:
    rec = ColdStartBlendRecommender(
        ColdStartBlendConfig(adapter_hidden=8, new_item_offset=100.0, epsilon=0.3, **FAST), embed=fake_embed
    )
    rec.fit(split.split.train_data(), split.split.valid_set())
    catalogue = split.split.train_data().catalogue
    grown = catalogue.with_items(["late"], {"late": {"title": "thing 3"}})
    assert rec.add_items(grown) == [len(catalogue)]
    assert rec.is_new is not None and rec.is_new[len(catalogue)]
    items = rec.recommend([[3, 7]], 10).items[0].tolist()
    assert len(catalogue) in items
    rec.save(tmp_path)
    restored = load_recommender(tmp_path)
    assert isinstance(restored, ColdStartBlendRecommender)
    assert restored.recommend([[3, 7]], 10).items[0].tolist() == items
