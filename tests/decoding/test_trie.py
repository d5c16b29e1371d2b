"""Exact-mask tests for `PrefixTrie` on a toy vocabulary."""

from __future__ import annotations

import pytest
import torch

from genrec.decoding.trie import UNKNOWN, PrefixTrie
from genrec.errors import DataError

VOCAB = 10
IDS = {0: [1, 2, 3], 1: [1, 2, 4], 2: [1, 5, 3], 3: [6, 7, 8]}


def toy() -> PrefixTrie:
    trie = PrefixTrie(VOCAB)
    for item, ids in IDS.items():
        trie.insert(item, ids)
    return trie


def row(*allowed: int) -> list[bool]:
    return [t in allowed for t in range(VOCAB)]


def test_exact_masks_for_a_batch_of_lists() -> None:
    mask = toy().allowed_mask([[], [1], [1, 2], [1, 5], [6, 7], [1, 2, 3], [9], [1, 9], [6, 7, 8, 1]])
    assert mask.dtype == torch.bool
    assert mask.shape == (9, VOCAB)
    expected = [
        row(1, 6),  # root
        row(2, 5),
        row(3, 4),
        row(3),
        row(8),
        row(),  # complete identifier: nothing may follow
        row(),  # unknown prefix
        row(),  # unknown continuation
        row(),  # past the end of an identifier
    ]
    assert mask.tolist() == expected


def test_tensor_prefixes_match_list_prefixes() -> None:
    trie = toy()
    prefixes = torch.tensor([[1, 2], [1, 5], [6, 7], [0, 0], [6, 6]])
    assert torch.equal(trie.allowed_mask(prefixes), trie.allowed_mask(prefixes.tolist()))
    assert trie.allowed_mask(prefixes)[0].nonzero().flatten().tolist() == [3, 4]
    empty = trie.allowed_mask(torch.zeros(3, 0, dtype=torch.long))
    assert empty.tolist() == [row(1, 6)] * 3


def test_states_advance_and_items() -> None:
    trie = toy()
    states = trie.root_states(2)
    for toks in ([1, 6], [2, 7], [4, 8]):
        states = trie.advance(states, torch.tensor(toks))
    assert trie.item_of_states(states).tolist() == [1, 3]
    bad = trie.advance(trie.root_states(1), torch.tensor([4]))
    assert bad.tolist() == [UNKNOWN]
    assert trie.advance(bad, torch.tensor([1])).tolist() == [UNKNOWN]
    assert trie.subtree_items(trie.states_of([[], [1], [1, 2], [6, 7, 8], [5]])).tolist() == [4, 3, 2, 1, 0]


def test_path_states_are_the_nodes_along_each_identifier() -> None:
    trie = toy()
    paths = trie.path_states(torch.tensor([0, 2, 3, 7, -1]))
    assert paths.shape == (5, 3)
    for row, item in enumerate([0, 2, 3]):
        ids = IDS[item]
        expected = [int(trie.states_of([ids[: n + 1]])[0]) for n in range(len(ids))]
        assert paths[row].tolist() == expected
    assert paths[3].tolist() == [UNKNOWN] * 3  # not in the trie
    assert paths[4].tolist() == [UNKNOWN] * 3
    trie.remove(2)
    assert trie.path_states(torch.tensor([2])).tolist() == [[UNKNOWN] * 3]
    trie.insert(9, [6, 7, 9])
    assert trie.path_states(torch.tensor([9]))[0].tolist() == [
        int(trie.states_of([[6, 7, 9][: n + 1]])[0]) for n in range(3)
    ]


def test_insert_rejects_negative_items() -> None:
    with pytest.raises(DataError, match="non-negative"):
        toy().insert(-1, [9])


def test_item_of() -> None:
    trie = toy()
    assert trie.item_of([1, 5, 3]) == 2
    assert trie.item_of([1, 5]) is None
    assert trie.item_of([7]) is None


def test_remove_makes_item_unreachable_and_keeps_others() -> None:
    trie = toy()
    before = trie.allowed_mask([[], [6], [6, 7]])
    trie.remove(1)
    assert trie.item_of([1, 2, 4]) is None
    assert trie.allowed_mask([[1, 2]]).tolist() == [row(3)]
    assert torch.equal(trie.allowed_mask([[], [6], [6, 7]]), before)
    trie.remove(0)  # the whole [1, 2] branch disappears
    assert trie.allowed_mask([[1], [1, 2]]).tolist() == [row(5), row()]
    assert trie.item_of([1, 5, 3]) == 2
    assert len(trie) == 2
    with pytest.raises(DataError, match="not in the trie"):
        trie.remove(0)


def test_insert_after_query_rebuilds() -> None:
    trie = toy()
    assert trie.allowed_mask([[6]]).tolist() == [row(7)]
    trie.insert(7, [6, 9])
    assert trie.allowed_mask([[6]]).tolist() == [row(7, 9)]
    assert trie.item_of([6, 9]) == 7
    trie.insert(7, [5])  # a new identifier replaces the old one
    assert trie.item_of([6, 9]) is None
    assert trie.allowed_mask([[]]).tolist() == [row(1, 5, 6)]


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ([1, 2], "prefixes of one another"),
        ([1, 2, 3, 4], "prefixes of one another"),
        ([1, 2, 3], "share the identifier"),
        ([], "empty"),
        ([1, 10], "outside the vocabulary"),
    ],
)
def test_insert_rejects_ambiguous_identifiers(ids: list[int], message: str) -> None:
    with pytest.raises(DataError, match=message):
        toy().insert(9, ids)


class FakeLM:
    """A tiny LM tokenizer: whole words map to ids, special tokens by name."""

    eos_token_id = 1
    unk_token_id = 0
    unk_token = "<unk>"

    def __init__(self) -> None:
        self.vocab = {"<unk>": 0, "</s>": 1, "red": 2, "pen": 3, "box": 4, "<a_0>": 5, "<a_1>": 6, "<b_0>": 7}

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        assert not add_special_tokens
        return [self.vocab[w] for w in text.split()]

    def convert_tokens_to_ids(self, tokens: list[str]) -> list[int]:
        return [self.vocab.get(t, self.unk_token_id) for t in tokens]


class FakeItems:
    def __init__(self, ids: dict[int, tuple[str, ...]], vocab: list[str]) -> None:
        self.ids = ids
        self.vocab = vocab
        self.num_items = len(ids)

    def encode(self, item: int) -> tuple[str, ...]:
        return self.ids[item]

    def vocabulary(self) -> list[str]:
        return self.vocab


def test_from_tokenizer_semantic_ids() -> None:
    items = FakeItems({0: ("<a_0>", "<b_0>"), 1: ("<a_1>", "<b_0>")}, ["<a_0>", "<a_1>", "<b_0>"])
    trie = PrefixTrie.from_tokenizer(items, FakeLM())
    assert trie.vocab_size == 8
    assert trie.item_of([6, 7]) == 1
    assert trie.allowed_mask([[]])[0].nonzero().flatten().tolist() == [5, 6]


def test_from_tokenizer_titles_end_with_eos() -> None:
    items = FakeItems({0: ("red pen",), 1: ("red pen box",)}, [])
    trie = PrefixTrie.from_tokenizer(items, FakeLM())
    assert trie.item_of([2, 3, 1]) == 0
    assert trie.item_of([2, 3, 4, 1]) == 1
    # After "red pen" both the end of item 0 and the continuation of item 1 are allowed.
    assert trie.allowed_mask([[2, 3]])[0].nonzero().flatten().tolist() == [1, 4]


def test_from_tokenizer_rejects_unknown_tokens() -> None:
    items = FakeItems({0: ("<a_9>", "<b_0>")}, ["<a_9>", "<b_0>"])
    with pytest.raises(DataError, match="not in the LM vocabulary"):
        PrefixTrie.from_tokenizer(items, FakeLM())
