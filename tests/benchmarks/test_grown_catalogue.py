"""`benchmarks/grown_catalogue.py`: a generative model fitted on known items, unseen ones added by catalogue update.

A tiny semantic-ID model (residual k-means over deterministic text vectors, a one-layer compact backbone,
two optimiser steps) is enough: what is tested is the bookkeeping (which items the fit sees, index maps,
the trie after the update, transfer to another catalogue), not the quality of the model.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from benchmark_scripts import load_script

from genrec.data.catalogue import Catalogue
from genrec.data.split import EvalSet, TrainData
from genrec.training.config import RunConfig, config_from_dict
from recommenders.content_fixtures import hash_embed

N_ITEMS = 30
UNSEEN = (3, 17, 29)  # no training interaction: the fit must not see them


def catalogue(prefix: str, n: int) -> Catalogue:
    return Catalogue(
        tuple(f"{prefix}{i}" for i in range(n)), {"title": tuple(f"{prefix} thing {i}" for i in range(n))}
    )


def tiny_config(max_steps: int, num_beams: int = 8) -> RunConfig:
    """A one-layer, 16-wide compact model over 2-level residual k-means IDs, trained ``max_steps`` steps."""
    return config_from_dict(
        {
            "prompt": "compact",
            "identifiers": {"kind": "residual_kmeans", "options": {"levels": 2, "codebook_size": 4}},
            "backbone": {"num_layers": 1, "hidden_size": 16, "num_heads": 2, "intermediate_size": 32},
            "training": {
                "max_steps": max_steps,
                "batch_size": 16,
                "eval_every": 0,
                "progress": False,
                "num_threads": 1,
            },
            "decoding": {"num_beams": num_beams, "batch_size": 16},
        }
    )


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script("grown_catalogue")


@pytest.fixture(scope="module")
def fitted(script: ModuleType):  # type: ignore[no-untyped-def]
    known = [i for i in range(N_ITEMS) if i not in UNSEEN]
    sequences = [[known[(u + j) % len(known)] for j in range(6)] for u in range(40)]
    train = TrainData(catalogue("i", N_ITEMS), sequences, tuple(f"u{u}" for u in range(40)))
    # validation targets: one unseen (dropped from early stopping), the others known
    valid = EvalSet(
        ("u0", "u1", "u2"), [sequences[0], sequences[1], sequences[2]], np.array([UNSEEN[0], 5, 6])
    )
    config = tiny_config(max_steps=2, num_beams=8)
    rec = script.GrownCatalogueRecommender(config, embed=hash_embed)
    rec.fit(train, valid)
    return rec, train


def test_fit_sees_known_items_only_and_adds_the_rest(fitted) -> None:  # type: ignore[no-untyped-def]
    rec, train = fitted
    assert rec.num_known == N_ITEMS - len(UNSEEN)
    assert sorted(rec.added) == list(UNSEEN)
    assert rec.training_log["valid_users_for_early_stopping"] == 2
    # the inner model numbers the known items first, then the added ones, each id kept with its text
    inner_ids = rec.inner_catalogue.item_ids
    assert set(inner_ids[: rec.num_known]).isdisjoint({f"i{i}" for i in UNSEEN})
    assert [inner_ids[rec.to_inner[i]] for i in range(N_ITEMS)] == list(train.catalogue.item_ids)
    # every item, the added ones included, is in the decoding trie and can be generated
    assert set(rec.inner.trie.items) == set(range(N_ITEMS))


def test_recommendations_are_dataset_indices_without_history(fitted) -> None:  # type: ignore[no-untyped-def]
    rec, _ = fitted
    histories = [[0, 1, 2], [UNSEEN[1], 4]]  # an added item may appear in a history
    out = rec.recommend(histories, k=N_ITEMS)
    for history, row in zip(histories, out.items, strict=True):
        valid = row[row >= 0]
        assert set(valid.tolist()).isdisjoint(history)
        assert len(valid) == N_ITEMS - len(history)  # full ranking: every other item, each once
        assert len(set(valid.tolist())) == len(valid)


def test_transfer_ranks_only_the_target_catalogue(script: ModuleType) -> None:
    known = list(range(12))
    sequences = [[known[(u + j) % 12] for j in range(5)] for u in range(20)]
    train = TrainData(catalogue("s", 12), sequences, tuple(f"u{u}" for u in range(20)))
    config = tiny_config(max_steps=1, num_beams=8)
    rec = script.GrownCatalogueRecommender(config, embed=hash_embed)
    rec.fit(train)
    moved = rec.transfer_to(catalogue("t", 9))
    out = moved.recommend([[0, 1], [8]], k=9)
    assert set(out.items[0][out.items[0] >= 0].tolist()) == set(range(2, 9))
    assert set(out.items[1][out.items[1] >= 0].tolist()) == set(range(8))
    with pytest.raises(AssertionError, match="has not grown"):
        rec.transfer_to(catalogue("t", 9))  # the source's items are hidden now: one transfer per fit


def test_recommend_among_ranks_only_the_given_items(fitted) -> None:  # type: ignore[no-untyped-def]
    rec, _ = fitted
    out = rec.recommend_among([[0, 1, 2], [UNSEEN[0]]], k=5, items=[*UNSEEN, 8])
    assert set(out.items[0][out.items[0] >= 0].tolist()) == {*UNSEEN, 8}
    assert set(out.items[1][out.items[1] >= 0].tolist()) == {UNSEEN[1], UNSEEN[2], 8}  # history excluded


def test_generative_rows_of_the_cold_start_benchmark(script: ModuleType, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A gen-* row: fitted on known items, scored per group, plus its +slots row chosen on validation."""
    from genrec.data import InteractionData

    coldstart = load_script("coldstart")
    rng = np.random.default_rng(0)
    ids = [f"i{i}" for i in range(N_ITEMS)]
    data = InteractionData(
        "toy",
        Catalogue.from_records(ids, {i: {"title": f"thing {i}"} for i in ids}),
        tuple(f"u{u}" for u in range(60)),
        tuple(tuple(int(x) for x in rng.choice(N_ITEMS, size=6, replace=False)) for _ in range(60)),
    )
    config = tiny_config(max_steps=2, num_beams=10)

    def factory(model: str, seed: int, dataset: str):  # type: ignore[no-untyped-def]
        return script.GrownCatalogueRecommender(config, embed=hash_embed)

    coldstart.run_benchmark(
        {"toy": data}, ["gen-semantic-compact"], [0], factory, output=tmp_path, log=lambda _: None
    )
    models = coldstart.load_results(tmp_path / "coldstart.json")["datasets"]["toy"]["models"]
    plain, slots = models["gen-semantic-compact"]["runs"][0], models["gen-semantic-compact+slots"]["runs"][0]
    choice = slots["slot_choice"]
    assert set(choice["sweep"]) == {"0", "0.1", "0.2", "0.3"}
    best = max(choice["sweep"].values(), key=lambda s: s["all"]["ndcg@10"])
    assert slots["valid"]["all"]["ndcg@10"] == best["all"]["ndcg@10"]
    # epsilon 0 is the model alone: the sweep's figures are the plain row's validation figures
    assert choice["sweep"]["0"]["all"]["ndcg@10"] == pytest.approx(plain["valid"]["all"]["ndcg@10"])
    # every epsilon > 0 puts at least that share of new items in the lists (there are enough new items)
    for eps in ("0.1", "0.2", "0.3"):
        assert choice["sweep"][eps]["all"]["new_item_share@10"] >= float(eps) - 1e-9
    assert (
        tmp_path / "coldstart" / "per_user" / "toy-gen-semantic-compact-seed0+slots-test.parquet"
    ).is_file()
    assert (
        "`gen-semantic-compact+slots`: the last floor(epsilon * 10) places"
        in (tmp_path / "coldstart.md").read_text()
    )
