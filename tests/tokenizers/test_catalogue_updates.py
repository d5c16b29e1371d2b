"""Catalogue updates: new items get identifiers, old identifiers never change, the trie reaches them all."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from tokenizer_fixtures import fake_embed, make_catalogue, make_sequences

from genrec.data.catalogue import Catalogue
from genrec.decoding.trie import PrefixTrie
from genrec.errors import GenrecError
from genrec.tokenizers.atomic import AtomicTokenizer
from genrec.tokenizers.base import ItemTokenizer
from genrec.tokenizers.collaborative import CollaborativeConfig, CollaborativeTokenizer
from genrec.tokenizers.residual_kmeans import ResidualKMeansConfig, ResidualKMeansTokenizer
from genrec.tokenizers.rqvae import RQVAEConfig, RQVAETokenizer
from genrec.tokenizers.title import TitleTokenizer

TINY_RQVAE = RQVAEConfig(
    levels=3, codebook_size=8, hidden=(16,), latent_dim=4, warmup_epochs=2, epochs=4, batch_size=16
)
CAPACITY = 4096


class GrowingLM:
    """Stand-in for a language-model tokenizer whose vocabulary grows by appending tokens.

    Ids 0..255 are bytes (for text identifiers), 256 is EOS, new tokens follow; `len` is a fixed capacity
    so a trie built before the growth can still hold the new ids.
    """

    eos_token_id = 256
    unk_token_id = 257
    unk_token = "<unk>"

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def __len__(self) -> int:
        return CAPACITY

    def add_tokens(self, tokens: Sequence[str]) -> None:
        for t in tokens:
            self.ids.setdefault(t, 258 + len(self.ids))

    def convert_tokens_to_ids(self, tokens: list[str]) -> list[int]:
        return [self.ids.get(t, self.unk_token_id) for t in tokens]

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return list(text.encode())

    def ids_of(self, tok: ItemTokenizer, item: int) -> list[int]:
        ident = tok.encode(item)
        if not tok.vocabulary():
            return [*self.encode(ident[0]), self.eos_token_id]
        return self.convert_tokens_to_ids(list(ident))


def grow(catalogue: Catalogue, extra: Catalogue) -> Catalogue:
    records = {
        i: {"title": extra.title(k), "brand": extra.text(k, "brand")} for k, i in enumerate(extra.item_ids)
    }
    return catalogue.with_items(extra.item_ids, records)


@pytest.mark.parametrize(
    "make",
    [
        AtomicTokenizer,
        TitleTokenizer,
        lambda: RQVAETokenizer(TINY_RQVAE, embed=fake_embed),
        lambda: ResidualKMeansTokenizer(ResidualKMeansConfig(codebook_size=6), embed=fake_embed),
        lambda: CollaborativeTokenizer(CollaborativeConfig(levels=2, branching=3)),
    ],
    ids=["atomic", "title", "rqvae", "residual_kmeans", "collaborative"],
)
def test_added_items_keep_old_identifiers_and_are_reachable(make: type) -> None:
    catalogue = make_catalogue()
    tok: ItemTokenizer = make()
    tok.fit(catalogue, make_sequences(), seed=1)
    lm = GrowingLM()
    lm.add_tokens(tok.vocabulary())
    trie = PrefixTrie.from_tokenizer(tok, lm)
    before = [tok.encode(i) for i in range(len(catalogue))]
    before_ids = [lm.ids_of(tok, i) for i in range(len(catalogue))]

    grown = grow(catalogue, make_catalogue(8, start=len(catalogue)))
    # Two updates in a row: identifiers handed out by the first must survive the second too.
    half = grow(catalogue, make_catalogue(4, start=len(catalogue)))
    assert tok.add_items(half) == list(range(40, 44))
    assert tok.add_items(grown) == list(range(44, 48))
    lm.add_tokens(tok.vocabulary())
    for item in range(len(catalogue), len(grown)):
        trie.insert(item, lm.ids_of(tok, item))

    assert [tok.encode(i) for i in range(len(catalogue))] == before
    assert [lm.ids_of(tok, i) for i in range(len(catalogue))] == before_ids
    assert len({tok.encode(i) for i in range(len(grown))}) == len(grown)
    for item in range(len(grown)):
        path = lm.ids_of(tok, item)
        assert trie.item_of(path) == item
        masks = trie.allowed_mask([path[:k] for k in range(len(path))])  # (len, vocab)
        assert all(bool(masks[k, path[k]]) for k in range(len(path)))


def test_add_items_rejects_a_reordered_catalogue() -> None:
    tok = AtomicTokenizer()
    catalogue = make_catalogue(5)
    tok.fit(catalogue, [], seed=0)
    shuffled = Catalogue(tuple(reversed(catalogue.item_ids)))
    with pytest.raises(GenrecError, match="keep every known item"):
        tok.add_items(shuffled)


def test_cold_start_semantic_id_comes_from_text_alone() -> None:
    catalogue = make_catalogue()
    tok = ResidualKMeansTokenizer(ResidualKMeansConfig(codebook_size=6), embed=fake_embed)
    tok.fit(catalogue, make_sequences(), seed=0)
    # A new item whose text equals item 3's: same quantiser codes as item 3's text, a fresh last code.
    twin = catalogue.with_items(
        ["twin"], {"twin": {"title": catalogue.text(3, "title"), "brand": "Acme", "categories": "Office"}}
    )
    assert catalogue.describe(3) == twin.describe(len(catalogue))
    tok.add_items(twin)
    new = tok.encode(len(catalogue))
    expected = tok.quantiser.codes(
        fake_embed([catalogue.describe(3, ("title", "brand", "categories", "description"))])
    )
    assert new[:3] == tuple(f"<{'abc'[k]}_{int(expected[0, k])}>" for k in range(3))
    assert np.array_equal(tok.raw_codes[3], expected[0])
    assert new != tok.encode(3)
