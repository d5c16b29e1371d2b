"""Every registered recommender passes the contract."""

from __future__ import annotations

from genrec.recommenders.base import Recommender
from genrec.recommenders.cold_start_blend import ColdStartBlendConfig, ColdStartBlendRecommender
from genrec.recommenders.content import ContentConfig, ContentRecommender
from genrec.recommenders.gru4rec import GRU4RecConfig, GRU4RecRecommender
from genrec.recommenders.popularity import PopularityRecommender
from genrec.recommenders.sasrec import SASRecConfig, SASRecRecommender
from genrec.recommenders.text_sasrec import TextSASRecConfig, TextSASRecRecommender
from recommenders.content_fixtures import fake_embed
from recommenders.contract import RecommenderContract

FAST = {"epochs": 3, "patience": 2, "batch_size": 16, "num_threads": 1}


class TestPopularity(RecommenderContract):
    def make(self, seed: int) -> Recommender:
        return PopularityRecommender(seed=seed)


class TestSASRecCE(RecommenderContract):
    def make(self, seed: int) -> Recommender:
        return SASRecRecommender(SASRecConfig(seed=seed, hidden_size=16, max_len=8, loss="ce", **FAST))


class TestSASRecBCE(RecommenderContract):
    def make(self, seed: int) -> Recommender:
        return SASRecRecommender(SASRecConfig(seed=seed, hidden_size=16, max_len=8, loss="bce", **FAST))


class TestGRU4Rec(RecommenderContract):
    def make(self, seed: int) -> Recommender:
        return GRU4RecRecommender(GRU4RecConfig(seed=seed, embedding_size=16, hidden_size=16, **FAST))


class TestContent(RecommenderContract):
    def make(self, seed: int) -> Recommender:
        return ContentRecommender(ContentConfig(seed=seed, history_items=5), embed=fake_embed)


class TestTextSASRecSum(RecommenderContract):
    def make(self, seed: int) -> Recommender:
        config = TextSASRecConfig(seed=seed, hidden_size=16, max_len=8, adapter_hidden=8, **FAST)
        return TextSASRecRecommender(config, embed=fake_embed)


class TestTextSASRecTextOnly(RecommenderContract):
    def make(self, seed: int) -> Recommender:
        config = TextSASRecConfig(seed=seed, hidden_size=16, max_len=8, fusion="text-only", **FAST)
        return TextSASRecRecommender(config, embed=fake_embed)


class TestColdStartBlend(RecommenderContract):
    def make(self, seed: int) -> Recommender:
        config = ColdStartBlendConfig(seed=seed, hidden_size=16, max_len=8, adapter_hidden=8, **FAST)
        return ColdStartBlendRecommender(config, embed=fake_embed)
