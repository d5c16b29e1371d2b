"""Contract tests every `ItemTokenizer` must pass; subclass `TokenizerContract` and define `make`."""

from __future__ import annotations

from pathlib import Path

from tokenizer_fixtures import make_catalogue

from genrec.data.catalogue import Catalogue
from genrec.tokenizers.base import ItemTokenizer
from genrec.tokenizers.registry import load_tokenizer


class TokenizerContract:
    """Mixin: identifiers unique, round trip, None for non-identifiers, seeded, save/load, vocabulary."""

    #: Whether identifiers are made of new tokens that `vocabulary()` must list.
    token_based = True

    def make(self, tmp_path: Path) -> ItemTokenizer:
        raise NotImplementedError

    def fitted(
        self, tmp_path: Path, catalogue: Catalogue, sequences: list[list[int]], seed: int = 0
    ) -> ItemTokenizer:
        tok = self.make(tmp_path)
        tok.fit(catalogue, sequences, seed)
        return tok

    def test_is_an_item_tokenizer(self, tmp_path: Path) -> None:
        assert isinstance(self.make(tmp_path), ItemTokenizer)

    def test_identifiers_unique(
        self, tmp_path: Path, catalogue: Catalogue, sequences: list[list[int]]
    ) -> None:
        tok = self.fitted(tmp_path, catalogue, sequences)
        ids = [tok.encode(i) for i in range(len(catalogue))]
        assert all(isinstance(t, str) and t for ident in ids for t in ident)
        assert len(set(ids)) == len(catalogue)

    def test_round_trip(self, tmp_path: Path, catalogue: Catalogue, sequences: list[list[int]]) -> None:
        tok = self.fitted(tmp_path, catalogue, sequences)
        assert [tok.decode(tok.encode(i)) for i in range(len(catalogue))] == list(range(len(catalogue)))

    def test_decode_non_identifier(
        self, tmp_path: Path, catalogue: Catalogue, sequences: list[list[int]]
    ) -> None:
        tok = self.fitted(tmp_path, catalogue, sequences)
        first = tok.encode(0)
        assert tok.decode(("<not_an_item>",)) is None
        assert tok.decode(()) is None
        assert tok.decode((*first, *first)) is None
        if len(first) > 1:
            assert tok.decode(first[:-1]) is None

    def test_same_seed_same_identifiers(
        self, tmp_path: Path, catalogue: Catalogue, sequences: list[list[int]]
    ) -> None:
        a = self.fitted(tmp_path / "a", catalogue, sequences, seed=3)
        b = self.fitted(tmp_path / "b", catalogue, sequences, seed=3)
        assert [a.encode(i) for i in range(len(catalogue))] == [b.encode(i) for i in range(len(catalogue))]

    def test_save_load_identity(
        self, tmp_path: Path, catalogue: Catalogue, sequences: list[list[int]]
    ) -> None:
        tok = self.fitted(tmp_path, catalogue, sequences)
        tok.save(tmp_path / "saved")
        again = type(tok).load(tmp_path / "saved")
        via_registry = load_tokenizer(tmp_path / "saved")
        for other in (again, via_registry):
            assert type(other) is type(tok)
            assert [other.encode(i) for i in range(len(catalogue))] == [
                tok.encode(i) for i in range(len(catalogue))
            ]
            assert other.vocabulary() == tok.vocabulary()

    def test_vocabulary_covers_tokens(
        self, tmp_path: Path, catalogue: Catalogue, sequences: list[list[int]]
    ) -> None:
        tok = self.fitted(tmp_path, catalogue, sequences)
        vocab = tok.vocabulary()
        if not self.token_based:
            assert vocab == []
            return
        assert len(vocab) == len(set(vocab))
        assert {t for i in range(len(catalogue)) for t in tok.encode(i)} <= set(vocab)

    def test_add_items_keeps_identifiers(
        self, tmp_path: Path, catalogue: Catalogue, sequences: list[list[int]]
    ) -> None:
        tok = self.fitted(tmp_path, catalogue, sequences)
        before = [tok.encode(i) for i in range(len(catalogue))]
        extra = make_catalogue(5, start=len(catalogue))
        grown = catalogue.with_items(
            extra.item_ids, {i: {"title": extra.title(k)} for k, i in enumerate(extra.item_ids)}
        )
        added = tok.add_items(grown)
        assert added == list(range(len(catalogue), len(grown)))
        assert [tok.encode(i) for i in range(len(catalogue))] == before
        ids = [tok.encode(i) for i in range(len(grown))]
        assert len(set(ids)) == len(grown)
        assert [tok.decode(x) for x in ids] == list(range(len(grown)))
        if self.token_based:
            assert {t for x in ids for t in x} <= set(tok.vocabulary())
