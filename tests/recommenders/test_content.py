"""The content baseline: cosine-nearest items to the mean text embedding of the recent history."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genrec.data import Catalogue, TrainData
from genrec.errors import ConfigError, GenrecError
from genrec.recommenders.catalogue_updates import catalogue_updates
from genrec.recommenders.content import ContentConfig, ContentRecommender
from genrec.recommenders.registry import build_recommender, load_recommender
from genrec.serving.rules import recommend_with_rules
from recommenders.content_fixtures import fake_embed

NUM_ITEMS = 24


def _train(sequences: list[list[int]] | None = None) -> TrainData:
    """Items ``i0..i23`` whose text names their number, so item n has topic n % 4 under `fake_embed`."""
    catalogue = Catalogue.from_records([f"i{i}" for i in range(NUM_ITEMS)])
    seqs = sequences if sequences is not None else [[0, 4, 8], [1, 5, 9]]
    return TrainData(catalogue, seqs, tuple(f"u{u}" for u in range(len(seqs))))


def _fitted(history_items: int = 10) -> ContentRecommender:
    model = ContentRecommender(ContentConfig(history_items=history_items), embed=fake_embed)
    model.fit(_train())
    return model


def test_recommends_items_of_the_history_topic() -> None:
    out = _fitted().recommend([[0, 4], [1, 5]], 4)
    assert all(i % 4 == 0 for i in out.items[0]), out.items[0]
    assert all(i % 4 == 1 for i in out.items[1]), out.items[1]


def test_only_the_most_recent_items_count() -> None:
    history = [0, 4, 8, 12, 3]  # four topic-0 items, then one topic-3 item
    assert all(i % 4 == 3 for i in _fitted(history_items=1).recommend([history], 3).items[0])
    # the two topic-0 items left outside the history come first
    assert sorted(_fitted(history_items=5).recommend([history], 2).items[0].tolist()) == [16, 20]


def test_items_without_interactions_are_scored_like_any_other() -> None:
    model = _fitted()  # training sequences touch only items 0, 1, 4, 5, 8, 9
    scores = model.score([[2, 6]])
    assert scores.shape == (1, NUM_ITEMS) and np.isfinite(scores).all()
    top = model.recommend([[2, 6]], 4).items[0]
    assert set(top.tolist()) <= {10, 14, 18, 22}, "never-seen topic-2 items come first"


def test_scores_are_cosine_similarities() -> None:
    model = _fitted()
    vectors = fake_embed([f"item i{i}" for i in range(NUM_ITEMS)])
    user = vectors[[3, 7]].mean(axis=0)
    expected = vectors @ (user / np.linalg.norm(user))
    np.testing.assert_allclose(model.score([[3, 7]])[0], expected, rtol=1e-5, atol=1e-6)


def test_empty_history_ties_everything_without_failing() -> None:
    out = _fitted().recommend([[]], 3)
    assert out.items[0].tolist() == [0, 1, 2]
    assert (out.scores == 0).all()


def test_serving_rules_use_the_dense_scores() -> None:
    model = _fitted()
    out = recommend_with_rules(model, [[0, 4]], 2, [{8, 12}], exclude_history=True, num_items=NUM_ITEMS)
    assert sorted(out.items[0].tolist()) == [16, 20], "the topic-0 items neither seen nor excluded"


def test_registry_builds_saves_and_loads(tmp_path: Path) -> None:
    model = build_recommender("content", {"history_items": 3}, seed=2)
    assert isinstance(model, ContentRecommender) and model.config.history_items == 3
    model.embed = fake_embed
    model.fit(_train())
    model.save(tmp_path / "m")
    loaded = load_recommender(tmp_path / "m")
    assert isinstance(loaded, ContentRecommender) and loaded.config == model.config
    np.testing.assert_array_equal(loaded.recommend([[1, 2]], 5).items, model.recommend([[1, 2]], 5).items)


def test_bad_options_and_bad_embedders_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="history_items"):
        build_recommender("content", {"history_items": 0})
    with pytest.raises(ConfigError, match="histroy_items"):
        build_recommender("content", {"histroy_items": 3})
    wrong = ContentRecommender(embed=lambda texts: np.zeros((len(texts) - 1, 4), dtype=np.float32))
    with pytest.raises(GenrecError, match="catalogue items"):
        wrong.fit(_train())
    with pytest.raises(GenrecError, match="not fitted"):
        ContentRecommender().recommend([[0]], 2)


def test_items_added_after_fitting_are_recommended_at_once() -> None:
    model = _fitted()
    updates = catalogue_updates(model)
    assert updates is model, "the content baseline takes live catalogue updates itself"
    grown = _train().catalogue.with_items(["late"], {"late": {"title": "gadget 42"}})  # topic 42 % 4 = 2
    assert updates.add_items(grown) == [NUM_ITEMS]
    assert updates.add_items(grown) == [], "adding the same catalogue again adds nothing"
    scores = model.score([[2, 6, 10]])
    assert scores.shape == (1, NUM_ITEMS + 1)
    assert NUM_ITEMS in model.recommend([[2, 6, 10]], 4).items[0]
    with pytest.raises(GenrecError, match="fewer"):
        updates.add_items(Catalogue.from_records(["a"]))


def test_hidden_items_are_never_recommended_until_unhidden(tmp_path: Path) -> None:
    model = _fitted()
    first = model.recommend([[0, 4]], 2).items[0].tolist()
    model.hide_items(first[:1])
    assert first[0] not in model.recommend([[0, 4]], NUM_ITEMS).items[0]
    model.save(tmp_path / "m")
    assert first[0] not in ContentRecommender.load(tmp_path / "m").recommend([[0, 4]], NUM_ITEMS).items[0]
    model.unhide_items(first[:1])
    assert model.recommend([[0, 4]], 2).items[0].tolist() == first


def test_changed_text_moves_the_item() -> None:
    model = _fitted()
    catalogue = Catalogue.from_records(
        [f"i{i}" for i in range(NUM_ITEMS)], {"i3": {"title": "now number 8"}}
    )  # item 3 moves from topic 3 to topic 0
    assert 3 not in model.recommend([[0, 4, 8, 12]], 3).items[0]
    model.refresh_text(catalogue, [3])
    assert 3 in model.recommend([[0, 4, 8, 12]], 3).items[0]
