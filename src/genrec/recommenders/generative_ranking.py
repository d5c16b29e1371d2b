"""How a fitted generative recommender turns histories into grounded top-K lists, one row at a time.

Two groundings: the trie-constrained beam search (every identifier generated is a real item) and BIGRec's
embedding grounding (a greedy free-text title, then the nearest items by text embedding). Both remove the
excluded items (history, if asked, plus per-row exclusions) inside the search.

**Rows never influence each other.** A row's effective k is its own: ``min(k, items left after its own
exclusions)``, and the beam width follows from that k. Rows are grouped by effective k and each group is
searched on its own, so a row whose exclusions cover almost the whole catalogue cannot shrink, or widen,
the search of the rows batched with it (serving's micro-batches mix unrelated requests).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from genrec.decoding import PrefixTrie, SearchConfig, grounded_beam_search
from genrec.recommenders.base import Recommendations

if TYPE_CHECKING:
    from genrec.recommenders.generative import GenerativeRecommender


def banned_items(
    histories: Sequence[Sequence[int]],
    exclusions: Sequence[Sequence[int]],
    exclude_history: bool,
    num_items: int,
) -> tuple[list[list[int]], list[list[int]]]:
    """In-range histories and, per row, the sorted items the search may never return."""
    hist = [[int(i) for i in h if 0 <= int(i) < num_items] for h in histories]
    banned = [
        sorted((set(h) if exclude_history else set()) | {int(i) for i in ex if 0 <= int(i) < num_items})
        for h, ex in zip(hist, exclusions, strict=True)
    ]
    return hist, banned


def rows_by_effective_k(left: Sequence[int], k: int) -> dict[int, list[int]]:
    """Row indices grouped by their own effective k, ``min(k, left[row])``, where ``left[row]`` counts the
    items still allowed for that row; rows with nothing left to recommend are omitted."""
    groups: dict[int, list[int]] = {}
    for row, allowed in enumerate(left):
        k_row = min(k, allowed)
        if k_row >= 1:
            groups.setdefault(k_row, []).append(row)
    return groups


def _empty(rows: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((rows, k), -1, dtype=np.int64), np.full((rows, k), -np.inf, dtype=np.float64)


def beam_search_ranking(
    rec: GenerativeRecommender,
    hist: list[list[int]],
    banned: list[list[int]],
    k: int,
    trie: PrefixTrie | None = None,
) -> Recommendations:
    """Trie-constrained beam search, one search per effective-k group (see the module docstring).

    ``trie``: search this trie instead of the recommender's (a subset of its items, `recommend_among`)."""
    items, scores = _empty(len(hist), k)  # (rows, k) each; -1 / -inf where fewer than k items exist
    trie, dec = trie or rec.trie, rec.config.decoding
    assert trie is not None
    pad = int(rec.lm_tokenizer.pad_token_id)
    # the trie holds the servable items: items hidden from it (catalogue updates) are not in it
    left = [len(trie) - sum(1 for i in b if i in trie) for b in banned]
    for k_row, rows in rows_by_effective_k(left, k).items():
        search = SearchConfig(
            num_beams=max(dec.num_beams, k_row),
            k=k_row,
            exclude_history=any(banned[r] for r in rows),
            batch_size=dec.batch_size,
            temperature=rec.config.training.loss_temperature,
        )
        prompts = [rec.prompt_ids(hist[r]) for r in rows]
        found = grounded_beam_search(
            rec.model, prompts, trie, search, histories=[banned[r] for r in rows], pad_token_id=pad
        )
        for row, res in zip(rows, found, strict=True):
            items[row, : len(res.items)] = res.items
            scores[row, : len(res.scores)] = res.scores
    return Recommendations(items, scores)


def embedding_ranking(
    rec: GenerativeRecommender, hist: list[list[int]], banned: list[list[int]], k: int
) -> Recommendations:
    """BIGRec grounding: one greedy title per row, then its k nearest allowed items by text embedding."""
    from genrec.decoding.free_text import greedy_generate

    items, scores = _empty(len(hist), k)
    groups = rows_by_effective_k([rec.num_items - len(b) for b in banned], k)
    if not groups:
        return Recommendations(items, scores)
    grounder, tok, dec = rec.embedding_grounder(), rec.lm_tokenizer, rec.config.decoding
    generated = greedy_generate(
        rec.model,
        [rec.prompt_ids(h) for h in hist],
        int(tok.eos_token_id),
        int(tok.pad_token_id),
        max_new_tokens=dec.max_new_tokens,
        batch_size=dec.batch_size,
    )
    texts = [tok.decode(ids, skip_special_tokens=True).strip() or "?" for ids in generated]
    for k_row, rows in groups.items():
        found = grounder.ground([texts[r] for r in rows], k=k_row, histories=[banned[r] for r in rows])
        items[rows, :k_row] = found.items
        scores[rows, :k_row] = -found.distances.astype(np.float64)
    return Recommendations(items, scores)
