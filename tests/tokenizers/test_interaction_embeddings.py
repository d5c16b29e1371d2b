"""Semantic IDs from interactions (catalogues without text): vectors, codes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from genrec.data.catalogue import Catalogue
from genrec.errors import ConfigError
from genrec.tokenizers.interaction_embeddings import interaction_embeddings
from genrec.tokenizers.registry import build_tokenizer
from genrec.tokenizers.residual_kmeans import ResidualKMeansConfig, ResidualKMeansTokenizer


def _two_communities() -> list[list[int]]:
    """Items 0-4 are only ever seen together, as are items 5-9; item 10 is never seen."""
    rng = np.random.default_rng(0)
    return [sorted(rng.choice(5, 3, replace=False) + 5 * (u % 2)) for u in range(40)]


def test_items_that_cooccur_get_nearby_vectors_and_unseen_items_zero() -> None:
    x = interaction_embeddings(11, _two_communities(), dim=4, seed=0)
    assert x.shape == (11, 4) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x[:10], axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(x[10], 0.0)
    # the top two singular vectors are the two communities: members align, communities are orthogonal
    top = interaction_embeddings(11, _two_communities(), dim=2, seed=0)[:10]
    sims = top @ top.T  # (10, 10)
    same_community = np.equal.outer(np.arange(10) // 5, np.arange(10) // 5)
    assert sims[same_community].min() > 0.99 and np.abs(sims[~same_community]).max() < 0.01
    np.testing.assert_array_equal(x, interaction_embeddings(11, _two_communities(), dim=4, seed=0))
    with pytest.raises(ConfigError, match="interaction_dim"):
        interaction_embeddings(11, _two_communities(), dim=0, seed=0)


def test_first_level_codes_follow_the_communities_without_any_text() -> None:
    ids = [f"x{i}" for i in range(11)]
    catalogue = Catalogue.from_records(ids, {})  # no text at all (like Beauty)
    tok = build_tokenizer(
        "residual_kmeans", {"levels": 2, "codebook_size": 2, "source": "interactions", "interaction_dim": 4}
    )
    tok.fit(catalogue, _two_communities(), seed=0)
    first = [tok.encode(i)[0] for i in range(10)]
    assert len(set(first[:5])) == 1 and len(set(first[5:])) == 1 and first[0] != first[5]
    assert len({tok.encode(i) for i in range(11)}) == 11  # the collision level keeps them distinct


def test_text_ids_on_a_catalogue_without_text_are_a_clear_error() -> None:
    catalogue = Catalogue.from_records([f"x{i}" for i in range(11)], {})
    tok = ResidualKMeansTokenizer(ResidualKMeansConfig(codebook_size=2), embed=lambda t: np.ones((len(t), 3)))
    with pytest.raises(ConfigError, match=r"no item text.*source: interactions"):
        tok.fit(catalogue, _two_communities(), seed=0)
    with pytest.raises(ConfigError, match="source must be one of"):
        build_tokenizer("rqvae", {"source": "pictures"})


def test_sasrec_source_learns_the_communities_from_training_sequences_only() -> None:
    from genrec.recommenders.sasrec_embeddings import sasrec_embeddings

    ids = [f"x{i}" for i in range(11)]
    catalogue = Catalogue.from_records(ids, {})
    x = sasrec_embeddings(catalogue, _two_communities(), dim=8, seed=0, epochs=30, num_threads=1)
    assert x.shape == (11, 8) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-5)
    sims = x[:10] @ x[:10].T  # (10, 10)
    same = np.equal.outer(np.arange(10) // 5, np.arange(10) // 5) & ~np.eye(10, dtype=bool)
    assert sims[same].mean() > sims[~np.equal.outer(np.arange(10) // 5, np.arange(10) // 5)].mean() + 0.2
    np.testing.assert_array_equal(
        x, sasrec_embeddings(catalogue, _two_communities(), dim=8, seed=0, epochs=30, num_threads=1)
    )
    with pytest.raises(ConfigError, match="even"):
        sasrec_embeddings(catalogue, _two_communities(), dim=7, seed=0, epochs=1)
    options = {"levels": 2, "codebook_size": 2, "source": "sasrec", "interaction_dim": 8, "sasrec_epochs": 30}
    with pytest.raises(ConfigError, match="sequence_vectors"):  # tokenizers cannot train a SASRec themselves
        build_tokenizer("residual_kmeans", options).fit(catalogue, _two_communities(), seed=0)
    tok = build_tokenizer("residual_kmeans", options, sequence_vectors=sasrec_embeddings)
    tok.fit(catalogue, _two_communities(), seed=0)
    assert len({tok.encode(i) for i in range(11)}) == 11
    with pytest.raises(ConfigError, match="sasrec_epochs"):
        build_tokenizer("rqvae", {"source": "sasrec", "sasrec_epochs": 0})
