"""`PrefixTrie`: the set of valid item identifiers, queried as tensors for constrained decoding.

Identifiers are sequences of language-model token ids. The trie is kept *prefix-free*: no identifier may
be a proper prefix of another (text identifiers get an end-of-identifier token for this reason), so a
path that reaches a terminal node names exactly one item and nothing may follow it.

Queries are batched and loop-free over prefixes: a prefix is represented by its trie *state* (a node id,
``-1`` for a prefix that is not in the trie), states advance with one ``searchsorted`` over the sorted
edge keys ``node * vocab_size + token``, and the children of all states are gathered from CSR arrays so
a whole batch of allowed-token masks comes from one scatter. Mutations (`insert`, `remove`) only edit a
dictionary; the tensors are rebuilt lazily at the next query, so node ids are only stable between
mutations (`version` counts them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch

from genrec.errors import ConfigError, DataError

#: State of a prefix that leaves the trie (unknown prefix).
UNKNOWN = -1


class PrefixTrie:
    """Prefix-free set of item identifiers (token-id sequences) with batched mask queries."""

    def __init__(self, vocab_size: int) -> None:
        if vocab_size <= 0:
            raise ConfigError(f"PrefixTrie: vocab_size must be positive, got {vocab_size}")
        self.vocab_size = int(vocab_size)
        self._items: dict[int, tuple[int, ...]] = {}
        self._by_tokens: dict[tuple[int, ...], int] = {}
        self._prefix_count: dict[tuple[int, ...], int] = {}  # proper prefixes -> identifiers having them
        self.version = 0
        self._built = -1
        # CSR arrays, filled by `_build`.
        self._offsets = torch.zeros(2, dtype=torch.long)  # (nodes + 1,)
        self._child_tokens = torch.zeros(0, dtype=torch.long)  # (edges,)
        self._child_nodes = torch.zeros(0, dtype=torch.long)  # (edges,)
        self._edge_keys = torch.zeros(0, dtype=torch.long)  # (edges,) sorted node * vocab + token
        self._node_item = torch.full((1,), -1, dtype=torch.long)  # (nodes,) item at terminal nodes
        self._subtree_items = torch.zeros(1, dtype=torch.long)  # (nodes,) items below each node
        self._depth = 0

    # ------------------------------------------------------------------ mutation
    def insert(self, item: int, token_ids: Sequence[int]) -> None:
        """Add ``item`` with identifier ``token_ids``; replaces the item's previous identifier.

        Raises `DataError` for an empty identifier, an out-of-vocabulary token, an identifier already
        used by another item, or one that is a prefix of another identifier (or has one as a prefix).
        """
        if int(item) < 0:
            raise DataError(f"PrefixTrie.insert: item indices are non-negative, got {item}")
        tokens = tuple(int(t) for t in token_ids)
        if not tokens:
            raise DataError(f"PrefixTrie.insert: item {item} has an empty identifier")
        bad = [t for t in tokens if not 0 <= t < self.vocab_size]
        if bad:
            raise DataError(
                f"PrefixTrie.insert: item {item} has token ids {bad} outside the vocabulary "
                f"[0, {self.vocab_size})"
            )
        owner = self._by_tokens.get(tokens)
        if owner is not None and owner != item:
            raise DataError(
                f"PrefixTrie.insert: items {owner} and {item} share the identifier {list(tokens)}"
            )
        for other, other_tokens in self._conflicts(tokens):
            if other != item:
                raise DataError(
                    f"PrefixTrie.insert: identifier {list(tokens)} of item {item} and {list(other_tokens)} "
                    f"of item {other} are prefixes of one another; terminate identifiers with an "
                    "end-of-identifier token"
                )
        if item in self._items:
            self._forget(item)
        self._items[item] = tokens
        self._by_tokens[tokens] = item
        for n in range(1, len(tokens)):
            self._prefix_count[tokens[:n]] = self._prefix_count.get(tokens[:n], 0) + 1
        self.version += 1

    def remove(self, item: int) -> None:
        """Remove ``item``; its identifier becomes unreachable, all others are unchanged."""
        if item not in self._items:
            raise DataError(f"PrefixTrie.remove: item {item} is not in the trie")
        self._forget(item)
        self.version += 1

    def _forget(self, item: int) -> None:
        tokens = self._items.pop(item)
        del self._by_tokens[tokens]
        for n in range(1, len(tokens)):
            left = self._prefix_count[tokens[:n]] - 1
            if left:
                self._prefix_count[tokens[:n]] = left
            else:
                del self._prefix_count[tokens[:n]]

    def _conflicts(self, tokens: tuple[int, ...]) -> Iterable[tuple[int, tuple[int, ...]]]:
        # A proper prefix of `tokens` that is an identifier:
        for n in range(1, len(tokens)):
            owner = self._by_tokens.get(tokens[:n])
            if owner is not None:
                yield owner, tokens[:n]
        # An identifier that has `tokens` as a proper prefix (rare: found by a scan only when one exists).
        if tokens in self._prefix_count:
            for other, other_tokens in self._items.items():
                if len(other_tokens) > len(tokens) and other_tokens[: len(tokens)] == tokens:
                    yield other, other_tokens

    # ------------------------------------------------------------------ simple queries
    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    @property
    def items(self) -> list[int]:
        """All item indices in the trie."""
        return list(self._items)

    def identifier(self, item: int) -> tuple[int, ...]:
        """The token ids of ``item``'s identifier."""
        return self._items[item]

    def item_of(self, token_ids: Sequence[int]) -> int | None:
        """The item whose complete identifier is ``token_ids``, or None."""
        return self._by_tokens.get(tuple(int(t) for t in token_ids))

    @property
    def max_depth(self) -> int:
        """Length of the longest identifier."""
        self._ensure_built()
        return self._depth

    @property
    def num_nodes(self) -> int:
        """Number of trie nodes (node 0 is the root)."""
        self._ensure_built()
        return int(self._node_item.numel())

    # ------------------------------------------------------------------ tensor build
    def _ensure_built(self) -> None:
        if self._built == self.version:
            return
        children: list[dict[int, int]] = [{}]
        node_item = [-1]
        paths: dict[int, list[int]] = {}
        for item, tokens in self._items.items():
            node = 0
            path = paths[item] = []
            for tok in tokens:
                nxt = children[node].get(tok)
                if nxt is None:
                    nxt = len(children)
                    children[node][tok] = nxt
                    children.append({})
                    node_item.append(-1)
                node = nxt
                path.append(node)
            node_item[node] = item
        counts = [len(c) for c in children]
        offsets = torch.zeros(len(children) + 1, dtype=torch.long)
        offsets[1:] = torch.cumsum(torch.tensor(counts, dtype=torch.long), 0)
        flat_tok = [tok for c in children for tok in sorted(c)]
        flat_child = [c[tok] for c in children for tok in sorted(c)]
        self._offsets = offsets
        self._child_tokens = torch.tensor(flat_tok, dtype=torch.long)
        self._child_nodes = torch.tensor(flat_child, dtype=torch.long)
        parents = torch.repeat_interleave(torch.arange(len(children)), torch.tensor(counts, dtype=torch.long))
        # Edges are listed by parent node id, then token, so the keys are already sorted.
        self._edge_keys = parents * self.vocab_size + self._child_tokens
        self._node_item = torch.tensor(node_item, dtype=torch.long)
        # Subtree item counts: children have larger ids than parents, so one reverse sweep suffices.
        sub = (self._node_item >= 0).long()
        parent_of = torch.zeros(len(children), dtype=torch.long)
        parent_of[self._child_nodes] = parents
        sub_list = sub.tolist()
        par_list = parent_of.tolist()
        for node in range(len(children) - 1, 0, -1):
            sub_list[par_list[node]] += sub_list[node]
        self._subtree_items = torch.tensor(sub_list, dtype=torch.long)
        self._depth = max((len(t) for t in self._items.values()), default=0)
        # Item -> nodes on its identifier path, one row per item index, so exclusions are a gather.
        table = torch.full((max(paths, default=-1) + 1, max(self._depth, 1)), UNKNOWN, dtype=torch.long)
        for item, path in paths.items():
            table[item, : len(path)] = torch.tensor(path, dtype=torch.long)
        self._path_table = table
        self._built = self.version

    # ------------------------------------------------------------------ batched state queries
    def root_states(self, n: int) -> torch.Tensor:
        """States of ``n`` empty prefixes, shape (n,)."""
        return torch.zeros(n, dtype=torch.long)

    def advance(self, states: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Next states after appending ``tokens`` (same shape as ``states``); unknown -> `UNKNOWN`."""
        self._ensure_built()
        flat_s = states.reshape(-1)
        flat_t = tokens.reshape(-1).to(torch.long)
        if self._edge_keys.numel() == 0:
            return torch.full_like(states, UNKNOWN)
        valid = (flat_s >= 0) & (flat_t >= 0) & (flat_t < self.vocab_size)
        keys = flat_s.clamp(min=0) * self.vocab_size + flat_t.clamp(0, self.vocab_size - 1)  # (n,)
        pos = torch.searchsorted(self._edge_keys, keys).clamp(max=self._edge_keys.numel() - 1)
        found = valid & (self._edge_keys[pos] == keys)
        out = torch.where(found, self._child_nodes[pos], torch.full_like(flat_s, UNKNOWN))
        return out.reshape(states.shape)

    def children(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """All edges out of a 1-D batch of states as flat (row, token, child node) tensors.

        Rows are in increasing order; unknown states and complete identifiers contribute no edges.
        """
        self._ensure_built()
        s = states.reshape(-1)
        known = s >= 0
        safe = s.clamp(min=0)
        starts = self._offsets[safe]  # (n,)
        counts = torch.where(known, self._offsets[safe + 1] - starts, torch.zeros_like(s))  # (n,)
        rows = torch.repeat_interleave(torch.arange(s.numel()), counts)  # (edges,)
        first = torch.cumsum(counts, 0) - counts  # (n,) position of each row's first edge
        edge = torch.arange(rows.numel()) - first[rows] + starts[rows]  # (edges,)
        return rows, self._child_tokens[edge], self._child_nodes[edge]

    def mask_from_states(self, states: torch.Tensor) -> torch.Tensor:
        """Allowed next tokens for a 1-D batch of states: BoolTensor (batch, vocab)."""
        rows, tokens, _ = self.children(states)
        mask = torch.zeros(states.numel(), self.vocab_size, dtype=torch.bool)
        mask[rows, tokens] = True
        return mask

    def item_of_states(self, states: torch.Tensor) -> torch.Tensor:
        """Item at each state (same shape), ``-1`` where the identifier is not complete or unknown."""
        self._ensure_built()
        item = self._node_item[states.clamp(min=0)]
        return torch.where(states >= 0, item, torch.full_like(item, -1))

    def subtree_items(self, states: torch.Tensor) -> torch.Tensor:
        """Number of items whose identifier starts with each state's prefix (0 for unknown)."""
        self._ensure_built()
        count = self._subtree_items[states.clamp(min=0)]
        return torch.where(states >= 0, count, torch.zeros_like(count))

    def path_states(self, items: torch.Tensor) -> torch.Tensor:
        """Nodes on the identifier path of each item (excluding the root): (n, max_depth), -1 padded.

        Items not in the trie give an all ``-1`` row.
        """
        self._ensure_built()
        flat = items.reshape(-1).to(torch.long)  # (n,)
        table = self._path_table  # (max item + 1, depth)
        known = (flat >= 0) & (flat < table.shape[0])
        out = torch.full((flat.numel(), table.shape[1]), UNKNOWN, dtype=torch.long)
        out[known] = table[flat[known]]
        return out

    def states_of(self, prefixes: torch.Tensor | Sequence[Sequence[int]]) -> torch.Tensor:
        """States of a batch of prefixes: a (batch, length) LongTensor or a list of sequences."""
        if isinstance(prefixes, torch.Tensor):
            if prefixes.dim() != 2:
                raise ConfigError(f"PrefixTrie: prefixes must be 2-D (batch, length), got {prefixes.shape}")
            padded = prefixes.to(torch.long)
            lengths = torch.full((padded.shape[0],), padded.shape[1], dtype=torch.long)
        else:
            seqs = [list(p) for p in prefixes]
            width = max((len(p) for p in seqs), default=0)
            padded = torch.zeros(len(seqs), width, dtype=torch.long)
            for row, seq in enumerate(seqs):
                padded[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            lengths = torch.tensor([len(p) for p in seqs], dtype=torch.long)
        states = self.root_states(padded.shape[0])
        for col in range(padded.shape[1]):  # loop over positions, never over prefixes
            nxt = self.advance(states, padded[:, col])
            states = torch.where(col < lengths, nxt, states)
        return states

    def allowed_mask(self, prefixes: torch.Tensor | Sequence[Sequence[int]]) -> torch.Tensor:
        """Allowed next tokens after each prefix: BoolTensor (batch, vocab).

        A complete identifier or an unknown prefix gives an all-False row.
        """
        return self.mask_from_states(self.states_of(prefixes))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_tokenizer(
        cls,
        item_tokenizer: Any,
        lm_tokenizer: Any,
        items: Iterable[int] | None = None,
        end_token_id: int | None = None,
    ) -> PrefixTrie:
        """Trie of the identifiers ``item_tokenizer`` gives ``items``, in ``lm_tokenizer``'s token ids.

        Tokenizers with a vocabulary map each identifier string to one LM token. Text tokenizers (empty
        vocabulary) give one string, encoded without special tokens and terminated by ``end_token_id``
        (default: the LM's EOS) so that a title that is a prefix of another stays distinguishable.
        ``items`` defaults to ``range(item_tokenizer.num_items)`` or ``range(len(item_tokenizer))``.
        """
        if items is None:
            n = getattr(item_tokenizer, "num_items", None)
            if n is None and hasattr(item_tokenizer, "__len__"):
                n = len(item_tokenizer)
            if n is None:
                raise ConfigError(
                    "PrefixTrie.from_tokenizer: pass `items`; the item tokenizer has no num_items/__len__"
                )
            items = range(int(n))
        trie = cls(len(lm_tokenizer))
        text_ids = not item_tokenizer.vocabulary()
        if text_ids:
            end = lm_tokenizer.eos_token_id if end_token_id is None else end_token_id
            if end is None:
                raise ConfigError(
                    "PrefixTrie.from_tokenizer: text identifiers need an end token; the LM tokenizer "
                    "has no eos_token_id, pass end_token_id"
                )
        unk = getattr(lm_tokenizer, "unk_token_id", None)
        for item in items:
            ident = item_tokenizer.encode(item)
            if text_ids:
                if len(ident) != 1:
                    raise DataError(
                        f"PrefixTrie.from_tokenizer: text identifier of item {item} must be one string, "
                        f"got {ident!r}"
                    )
                ids = [*lm_tokenizer.encode(ident[0], add_special_tokens=False), int(end)]
            else:
                ids = list(lm_tokenizer.convert_tokens_to_ids(list(ident)))
                unk_str = getattr(lm_tokenizer, "unk_token", None)
                missing = [
                    s for s, i in zip(ident, ids, strict=True) if i is None or (i == unk and s != unk_str)
                ]
                if missing:
                    raise DataError(
                        f"PrefixTrie.from_tokenizer: tokens {missing} of item {item} are not in the LM "
                        "vocabulary; add item_tokenizer.vocabulary() to the LM tokenizer first"
                    )
            trie.insert(int(item), ids)
        return trie
