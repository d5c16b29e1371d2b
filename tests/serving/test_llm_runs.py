"""`genrec serve` serves the LM re-ranker and the text-fused SASRec like any other run directory (issue 54)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from genrec.data import leave_one_out
from genrec.recommenders.base import Recommender
from genrec.recommenders.reranker import LMReranker
from genrec.recommenders.reranker_prompts import RerankerConfig
from genrec.recommenders.run_dir import save_run
from genrec.recommenders.text_sasrec import TextSASRecConfig, TextSASRecRecommender
from genrec.serving.app import create_app
from genrec.serving.batching import BatchingConfig
from genrec.serving.service import RecommendService
from recommenders.content_fixtures import fake_embed
from recommenders.reranker_fixtures import make_tiny_lm
from recommenders.tiny_data import make_tiny_data

TINY_SASREC = {"hidden_size": 16, "max_len": 8, "epochs": 2, "batch_size": 16, "num_threads": 1}


def reranker(tmp_path: Path) -> LMReranker:
    lm = make_tiny_lm(tmp_path / "lm")
    config = RerankerConfig(retriever="popularity", retriever_options={}, lm=str(lm), num_threads=1)
    return LMReranker(config)


def text_sasrec(_: Path) -> TextSASRecRecommender:
    return TextSASRecRecommender(TextSASRecConfig(adapter_hidden=8, **TINY_SASREC), embed=fake_embed)


@pytest.mark.parametrize("build", [reranker, text_sasrec], ids=["reranker", "sasrec-text"])
def test_served_run_answers_like_the_model(build: object, tmp_path: Path) -> None:
    split = leave_one_out(make_tiny_data(num_users=48, num_items=40))
    train = split.train_data()
    model: Recommender = build(tmp_path)  # type: ignore[operator]
    model.fit(train, split.valid_set())
    run = save_run(model, train.catalogue, tmp_path / "run", dataset="tiny", train=train)
    history = [int(i) for i in split.test_set().histories[0]]
    expected = model.recommend([history], 5).items[0]
    app = create_app(RecommendService.from_run(run), BatchingConfig(max_wait_ms=1.0))
    ids = [train.catalogue.item_ids[i] for i in history]
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/v1/recommend", json={"history": ids, "k": 5})
        assert r.status_code == 200, r.text
        served = [item["id"] for item in r.json()["items"]]
        assert served == [train.catalogue.item_ids[i] for i in expected]
        assert not set(served) & set(ids)
        ruled = client.post("/v1/recommend", json={"history": ids, "k": 3, "exclude_items": served[:2]})
        assert ruled.status_code == 200, ruled.text
        assert [item["id"] for item in ruled.json()["items"]] == served[2:5]
    assert np.all(expected >= 0)
