"""Every tokenizer implementation runs the `TokenizerContract` on the tiny synthetic catalogue."""

from __future__ import annotations

import json
from pathlib import Path

from contract import TokenizerContract
from tokenizer_fixtures import NUM_ITEMS, fake_embed

from genrec.tokenizers.atomic import AtomicTokenizer
from genrec.tokenizers.base import ItemTokenizer
from genrec.tokenizers.collaborative import CollaborativeConfig, CollaborativeTokenizer
from genrec.tokenizers.prebuilt import PrebuiltTokenizer
from genrec.tokenizers.residual_kmeans import ResidualKMeansConfig, ResidualKMeansTokenizer
from genrec.tokenizers.rqvae import RQVAEConfig, RQVAETokenizer
from genrec.tokenizers.title import TitleTokenizer

TINY_RQVAE = RQVAEConfig(
    levels=3, codebook_size=8, hidden=(16,), latent_dim=4, warmup_epochs=2, epochs=4, batch_size=16
)


def write_index(path: Path, n: int, collide: bool, collide_below: int | None = None) -> Path:
    """A prebuilt index for items p0..p<n-1>; with ``collide`` items 2k and 2k+1 share a code (only
    below item ``collide_below``, when given; the items from there on get codes of their own)."""

    def code(i: int) -> int:
        if collide and (collide_below is None or i < collide_below):
            return i // 2
        return i if collide_below is None else n + i

    payload = {f"p{i}": [f"<a_{code(i) % 5}>", f"<b_{code(i) // 5}>"] for i in range(n)}
    path.write_text(json.dumps(payload))
    return path


class TestAtomic(TokenizerContract):
    def make(self, tmp_path: Path) -> ItemTokenizer:
        return AtomicTokenizer()


class TestTitle(TokenizerContract):
    token_based = False

    def make(self, tmp_path: Path) -> ItemTokenizer:
        return TitleTokenizer()


class TestRQVAE(TokenizerContract):
    def make(self, tmp_path: Path) -> ItemTokenizer:
        return RQVAETokenizer(TINY_RQVAE, embed=fake_embed)


class TestRQVAEFromInteractions(TokenizerContract):
    def make(self, tmp_path: Path) -> ItemTokenizer:
        return RQVAETokenizer(TINY_RQVAE, embed=fake_embed, source="interactions", interaction_dim=8)


class TestResidualKMeansFromInteractions(TokenizerContract):
    def make(self, tmp_path: Path) -> ItemTokenizer:
        return ResidualKMeansTokenizer(
            ResidualKMeansConfig(codebook_size=6), embed=fake_embed, source="interactions", interaction_dim=8
        )


class TestResidualKMeans(TokenizerContract):
    def make(self, tmp_path: Path) -> ItemTokenizer:
        return ResidualKMeansTokenizer(ResidualKMeansConfig(codebook_size=6), embed=fake_embed)


class TestCollaborative(TokenizerContract):
    def make(self, tmp_path: Path) -> ItemTokenizer:
        return CollaborativeTokenizer(CollaborativeConfig(levels=2, branching=3))


class TestPrebuilt(TokenizerContract):
    def make(self, tmp_path: Path) -> ItemTokenizer:
        tmp_path.mkdir(parents=True, exist_ok=True)
        return PrebuiltTokenizer(write_index(tmp_path / "Tiny.index.json", NUM_ITEMS + 5, collide=False))


class TestPrebuiltWithCollisions(TokenizerContract):
    def make(self, tmp_path: Path) -> ItemTokenizer:
        tmp_path.mkdir(parents=True, exist_ok=True)
        return PrebuiltTokenizer(write_index(tmp_path / "Tiny.index.json", NUM_ITEMS + 5, collide=True))


class TestPrebuiltExtendingCollidingItemsOnly(TokenizerContract):
    def make(self, tmp_path: Path) -> ItemTokenizer:
        tmp_path.mkdir(parents=True, exist_ok=True)
        path = write_index(tmp_path / "Tiny.index.json", NUM_ITEMS + 5, collide=True, collide_below=10)
        return PrebuiltTokenizer(path, collision_level="colliding")
