"""Recommenders: the shared protocol, baselines and generative recommenders."""

from genrec.recommenders.base import Recommendations, Recommender
from genrec.recommenders.popularity import PopularityRecommender

__all__ = ["PopularityRecommender", "Recommendations", "Recommender"]
