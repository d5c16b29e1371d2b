"""Live catalogue updates of a generative recommender: new items from text, old identifiers unchanged, hiding.

The models are built but not trained (`GenerativeRecommender.build`): what is tested is the bookkeeping
(identifiers, LM tokens and embedding rows, decoding trie), which training does not affect.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from genrec.data.catalogue import Catalogue
from genrec.data.split import TrainData
from genrec.errors import GenrecError
from genrec.recommenders.catalogue_updates import (
    GenerativeCatalogueUpdates,
    SupportsCatalogueUpdates,
    catalogue_updates,
)
from genrec.recommenders.generative import GenerativeRecommender
from genrec.recommenders.popularity import PopularityRecommender
from genrec.training.config import config_from_dict
from recommenders.content_fixtures import hash_embed

N_ITEMS = 30
COLOURS = ("red", "blue", "green", "black", "white")
THINGS = ("chair", "lamp", "desk", "table", "pen", "box")


def titled_train(n_items: int = N_ITEMS) -> TrainData:
    titles = tuple(f"{COLOURS[i % 5]} {THINGS[i // 5 % 6]}" for i in range(n_items))
    catalogue = Catalogue(tuple(f"i{i}" for i in range(n_items)), {"title": titles})
    sequences = [[(u + j) % n_items for j in range(6)] for u in range(40)]
    return TrainData(catalogue, sequences, tuple(f"u{u}" for u in range(40)))


def built(
    identifiers: dict[str, Any], backbone: dict[str, Any] | None = None, prompt: str = "compact"
) -> GenerativeRecommender:
    config = config_from_dict(
        {
            "prompt": prompt,
            "identifiers": identifiers,
            "backbone": backbone
            or {"num_layers": 1, "hidden_size": 16, "num_heads": 2, "intermediate_size": 32},
            "decoding": {"num_beams": 8, "batch_size": 16},
        }
    )
    rec = GenerativeRecommender(config, embed=hash_embed)
    rec.build(titled_train())
    rec.model.eval()
    return rec


@pytest.fixture()
def semantic() -> GenerativeRecommender:
    return built({"kind": "residual_kmeans", "options": {"levels": 2, "codebook_size": 4}})


def add(rec: GenerativeRecommender, records: dict[str, dict[str, str]]) -> tuple[Catalogue, list[int]]:
    catalogue = Catalogue(
        tuple(rec.item_tokenizer.table.item_ids),  # type: ignore[attr-defined]
        {"title": tuple(rec.titles)},
    ).with_items(list(records), records)
    updates = catalogue_updates(rec)
    assert updates is not None
    return catalogue, updates.add_items(catalogue)


def only(rec: GenerativeRecommender, item: int, history: Sequence[int] = (0, 1)) -> list[int]:
    """What the model recommends when every item but ``item`` is excluded."""
    others = [i for i in range(rec.num_items) if i != item]
    recs = rec.recommend_excluding([list(history)], 1, [others])
    return [int(i) for i in recs.items[0] if i >= 0]


def test_only_generative_models_grow_their_catalogue(semantic: GenerativeRecommender) -> None:
    assert isinstance(catalogue_updates(semantic), GenerativeCatalogueUpdates)
    assert isinstance(catalogue_updates(semantic), SupportsCatalogueUpdates)
    assert catalogue_updates(PopularityRecommender()) is None


def test_new_item_gets_a_semantic_id_from_text_and_is_recommendable(semantic: GenerativeRecommender) -> None:
    rec = semantic
    identifiers = [rec.item_tokenizer.encode(i) for i in range(N_ITEMS)]
    token_ids = [list(ids) for ids in rec.item_ids]
    vocab = len(rec.lm_tokenizer)

    _, new = add(rec, {"n1": {"title": rec.titles[3]}})  # same text as item 3: same quantiser codes

    assert new == [N_ITEMS] and rec.num_items == N_ITEMS + 1
    ident = rec.item_tokenizer.encode(N_ITEMS)
    assert ident[:2] == identifiers[3][:2] and ident != identifiers[3]
    assert [rec.item_tokenizer.encode(i) for i in range(N_ITEMS)] == identifiers
    assert rec.item_ids[:N_ITEMS] == token_ids
    assert len(rec.lm_tokenizer) == vocab  # the collision level had a free code: no new LM token
    assert rec.trie is not None and rec.trie.item_of(rec.item_ids[N_ITEMS]) == N_ITEMS
    assert rec.titles[N_ITEMS] == rec.titles[3]
    assert only(rec, N_ITEMS) == [N_ITEMS]
    everything = rec.recommend([[0]], k=N_ITEMS).items[0]
    assert N_ITEMS in everything.tolist()


def test_hidden_items_are_never_recommended_but_may_be_in_histories(semantic: GenerativeRecommender) -> None:
    rec = semantic
    _, (new,) = add(rec, {"n1": {"title": "brand new lamp"}})
    updates = catalogue_updates(rec)
    assert updates is not None
    updates.hide_items([new, 5])
    updates.hide_items([5])  # hiding twice changes nothing
    assert new not in rec.trie and 5 not in rec.trie  # type: ignore[operator]
    recs = rec.recommend([[new, 0], [5]], k=rec.num_items - 4)
    for row in recs.items:
        assert {new, 5}.isdisjoint(row.tolist())
    # Serving also lists hidden items among the exclusions: with every other item excluded, nothing comes.
    others = [i for i in range(rec.num_items) if i != new]
    assert (rec.recommend_excluding([[0]], 1, [[*others, new]]).items == -1).all()
    updates.unhide_items([new, 5])
    assert only(rec, new) == [new] and only(rec, 5, history=[0]) == [5]
    with pytest.raises(GenrecError, match="outside"):
        updates.hide_items([rec.num_items])


def test_a_full_collision_level_grows_the_vocabulary_and_keeps_old_ids(
    semantic: GenerativeRecommender,
) -> None:
    rec = semantic
    token_ids = [list(ids) for ids in rec.item_ids]
    rows_before = rec.model.get_input_embeddings().weight.detach().clone()
    # Nine twins of item 7 share its codes: the collision level (4 reserved codes) has to grow.
    _, new = add(rec, {f"twin{j}": {"title": rec.titles[7]} for j in range(9)})
    assert new == list(range(N_ITEMS, N_ITEMS + 9))
    vocab = len(rec.lm_tokenizer)
    assert vocab > rows_before.shape[0]
    weight = rec.model.get_input_embeddings().weight
    assert weight.shape[0] == vocab and rec.trie is not None and rec.trie.vocab_size == vocab
    assert torch.equal(weight[: rows_before.shape[0]], rows_before)  # trained rows untouched
    assert torch.isfinite(weight[rows_before.shape[0] :]).all()
    assert rec.item_ids[:N_ITEMS] == token_ids
    assert sorted(rec.trie.items) == list(range(rec.num_items))
    assert len({tuple(rec.item_ids[i]) for i in range(rec.num_items)}) == rec.num_items
    assert only(rec, new[-1]) == [new[-1]]


def test_an_update_that_reorders_the_catalogue_is_refused(semantic: GenerativeRecommender) -> None:
    updates = catalogue_updates(semantic)
    assert updates is not None
    shuffled = Catalogue((*reversed(titled_train().catalogue.item_ids), "n1"))
    with pytest.raises(GenrecError, match="keep every known item"):
        updates.add_items(shuffled)
    assert semantic.num_items == N_ITEMS


@pytest.fixture(scope="module")
def tiny_lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.tiny_pretrained import make_tiny_pretrained  # tests/training, a namespace package

    return make_tiny_pretrained(tmp_path_factory.mktemp("tiny-lm"), layers=1)


def test_refreshed_text_changes_prompts_not_identifiers(tiny_lm_dir: Path) -> None:
    rec = built(
        {"kind": "atomic"},
        {"kind": "pretrained", "path": str(tiny_lm_dir), "finetune": "full"},
        prompt="sequence-titles",
    )
    catalogue, _ = add(rec, {})
    ident, suffix = rec.item_ids[2], rec.item_suffix[2]
    changed = Catalogue(catalogue.item_ids, {"title": ("black desk",) * len(catalogue)})
    updates = catalogue_updates(rec)
    assert updates is not None
    updates.refresh_text(changed, [2])
    assert rec.titles[2] == "black desk" and rec.titles[3] != "black desk"
    assert rec.item_ids[2] == ident and rec.item_suffix[2] != suffix
    assert rec.item_suffix[2] == rec.template.item_suffix("black desk", rec.lm_tokenizer)


def test_new_atomic_tokens_start_from_their_title_on_a_pretrained_lm(tiny_lm_dir: Path) -> None:
    rec = built(
        {"kind": "atomic"},
        {"kind": "pretrained", "path": str(tiny_lm_dir), "finetune": "full"},
        prompt="sequence",
    )
    emb = rec.model.get_input_embeddings().weight
    words = rec.lm_tokenizer("green lamp", add_special_tokens=False)["input_ids"]
    expected = emb[words].mean(0).detach().clone()
    _, (new,) = add(rec, {"n1": {"title": "green lamp"}})
    (token,) = rec.item_tokenizer.encode(new)
    row = rec.model.get_input_embeddings().weight[rec.lm_tokenizer.convert_tokens_to_ids(token)]
    assert torch.allclose(row, expected)
    assert rec.item_ids[new] == [rec.lm_tokenizer.convert_tokens_to_ids(token)]
    assert only(rec, new) == [new]


def test_a_new_title_identifier_is_spelled_in_the_lms_own_tokens(tiny_lm_dir: Path) -> None:
    rec = built(
        {"kind": "title"},
        {"kind": "pretrained", "path": str(tiny_lm_dir), "finetune": "full"},
        prompt="title-sequence",
    )
    vocab = len(rec.lm_tokenizer)
    _, (new, twin) = add(rec, {"n1": {"title": "white ink box"}, "n2": {"title": rec.titles[0]}})
    eos = rec.lm_tokenizer.eos_token_id
    assert rec.item_ids[new] == [*rec.lm_tokenizer.encode("white ink box", add_special_tokens=False), eos]
    assert rec.item_tokenizer.encode(twin) == (f"{rec.titles[0]} (2)",)  # a taken title is made unique
    assert len(rec.lm_tokenizer) == vocab  # text identifiers add no tokens
    assert only(rec, new) == [new] and only(rec, twin) == [twin]
