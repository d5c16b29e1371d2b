"""Trie-constrained beam search over many prompts at once: every result is a real, distinct item.

Per batch of prompts: one left-padded prefill; the KV cache is then expanded to the beams by the first
beam reorder (never by replicating prompts before the prefill); every step scores the children of all
live beams of all prompts as flat tensors gathered from the `PrefixTrie` (no per-beam Python), picks the
best live beams and merges completed identifiers into a per-prompt pool of the top-k items. History
items are removed inside the search: an edge is dropped when every item below it is excluded for that
prompt, so beams never spend a slot on a dead subtree and k new items still come back.

Scores are sums of the model's token log-probabilities (log-softmax over the full vocabulary, as
Hugging Face computes them). Without length normalisation scores only fall along a path, so a prompt
stops as soon as its k-th pooled item is at least as good as its best live beam; prompts that are done
leave the batch (their cache rows are dropped).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import torch

from genrec.decoding.causal_lm import CausalLMRunner, left_pad
from genrec.decoding.config import EmptyAllowedSetError, SearchConfig, SearchResult
from genrec.decoding.trie import UNKNOWN, PrefixTrie
from genrec.errors import ConfigError

NEG_INF = float("-inf")


@contextmanager
def _threads(n: int | None) -> Iterator[None]:
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _excluded_nodes(trie: PrefixTrie, histories: Sequence[Sequence[int]]) -> torch.Tensor | None:
    """Sorted keys ``user * num_nodes + node`` of the nodes whose whole subtree is history, per user."""
    users: list[int] = []
    items: list[int] = []
    for u, hist in enumerate(histories):
        for item in set(int(i) for i in hist):
            if item in trie:
                users.append(u)
                items.append(item)
    if not items:
        return None
    paths = trie.path_states(torch.tensor(items))  # (n, depth)
    user_col = torch.tensor(users)[:, None].expand_as(paths)
    keep = paths >= 0
    keys = user_col[keep] * trie.num_nodes + paths[keep]
    uniq, counts = torch.unique(keys, return_counts=True)  # sorted
    dead = counts >= trie.subtree_items(uniq % trie.num_nodes)
    return uniq[dead]


def _is_dead(
    excluded: torch.Tensor, users: torch.Tensor, nodes: torch.Tensor, num_nodes: int
) -> torch.Tensor:
    keys = users * num_nodes + nodes  # (edges,)
    pos = torch.searchsorted(excluded, keys).clamp(max=excluded.numel() - 1)
    return excluded[pos] == keys


def grounded_beam_search(
    model: Any,
    prompts: Sequence[Sequence[int]],
    trie: PrefixTrie,
    config: SearchConfig | None = None,
    histories: Sequence[Sequence[int]] | None = None,
    pad_token_id: int = 0,
) -> list[SearchResult]:
    """Top-k distinct valid items for each prompt (token-id list), best first.

    ``histories[i]`` lists the items to exclude for prompt i (used when ``config.exclude_history``).
    Raises `EmptyAllowedSetError` when the trie offers a live beam no continuation or a prompt has fewer
    than k items left after exclusion; never decodes unconstrained text.
    """
    config = config or SearchConfig()
    if not prompts:
        return []
    if any(len(p) == 0 for p in prompts):
        raise ConfigError("grounded_beam_search: every prompt needs at least one token")
    if histories is not None and len(histories) != len(prompts):
        raise ConfigError(
            f"grounded_beam_search: {len(histories)} histories for {len(prompts)} prompts; pass one per prompt"
        )
    use_hist = config.exclude_history and histories is not None
    for u in range(len(prompts)):
        left = len(trie) - (len({i for i in histories[u] if i in trie}) if use_hist and histories else 0)
        if left < config.k:
            raise EmptyAllowedSetError(
                f"prompt {u}: only {left} valid items remain (trie has {len(trie)}"
                f"{', minus the history' if use_hist else ''}); cannot return k={config.k}"
            )
    runner = CausalLMRunner(model)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))  # similar lengths share a batch
    results: list[SearchResult | None] = [None] * len(prompts)
    with _threads(config.num_threads), torch.inference_mode():
        for start in range(0, len(order), config.batch_size):
            chunk = order[start : start + config.batch_size]
            hist = [histories[i] for i in chunk] if use_hist and histories is not None else None
            out = _search_batch(runner, [prompts[i] for i in chunk], trie, config, hist, pad_token_id)
            for i, res in zip(chunk, out, strict=True):
                results[i] = res
    return [r for r in results if r is not None]


class _Prompts(NamedTuple):
    """A batch's left-padded prompts, as every decoding step needs them."""

    mask: torch.Tensor  # (users, width) 1 on prompt tokens, 0 on left padding
    lengths: torch.Tensor  # (users,) prompt lengths without padding
    width: int  # padded prompt length: the KV cache positions every beam of a prompt shares


class _Edges(NamedTuple):
    """Every allowed child of every live beam, flat and grouped by beam row (no per-beam Python)."""

    rows: torch.Tensor  # (edges,) flat beam row ``slot * width + beam`` the edge leaves
    tokens: torch.Tensor  # (edges,) token on the edge
    child: torch.Tensor  # (edges,) trie state the edge leads to
    scores: torch.Tensor  # (edges,) beam score + the token's log-probability; -inf when excluded


class _Candidates(NamedTuple):
    """The edges laid out per active slot, padded with -inf scores and -1 items."""

    live: torch.Tensor  # (active, candidates) scores of edges that continue an identifier
    done: torch.Tensor  # (active, candidates) scores of edges that complete one
    items: torch.Tensor  # (active, candidates) the item an edge completes, else -1
    first: torch.Tensor  # (active,) flat index of each slot's first edge


def _search_batch(
    runner: CausalLMRunner,
    prompts: list[Sequence[int]],
    trie: PrefixTrie,
    config: SearchConfig,
    histories: list[Sequence[int]] | None,
    pad_token_id: int,
) -> list[SearchResult]:
    """One batch of prompts searched together (see the module docstring)."""
    n_users, beams, k = len(prompts), config.num_beams, config.k
    node_item = trie.item_of_states(torch.arange(trie.num_nodes))  # (nodes,)
    excluded = _excluded_nodes(trie, histories) if histories is not None else None
    batch, logits, past = _prefill(runner, prompts, trie, pad_token_id)  # logits: (users, vocab)

    active = torch.arange(n_users)  # (active,) user of each active slot
    states = trie.root_states(n_users)[:, None]  # (active, width) width = 1 before the first step
    scores = torch.zeros(n_users, 1)  # (active, width)
    pool_scores = torch.full((n_users, k), NEG_INF)  # (users, k)
    pool_items = torch.full((n_users, k), -1, dtype=torch.long)  # (users, k)
    step = 0
    while True:
        n_act, width = states.shape
        edges = _expand_live_beams(logits, states, scores, trie, config.temperature, active, step)
        if excluded is not None:
            dead = _is_dead(excluded, active[edges.rows // width], edges.child, trie.num_nodes)
            edges = edges._replace(scores=edges.scores.masked_fill(dead, NEG_INF))
        candidates = _per_slot_candidates(edges, node_item, n_act, width, step, config.length_normalization)
        kth_best = _merge_completed(pool_scores, pool_items, active, candidates, k)  # (active,)
        live_s, edge = _best_live_candidates(candidates, beams, edges.rows.numel())  # (active, beams) each
        if config.length_normalization:
            user_done = ~(live_s > NEG_INF).any(1)  # (active,)
        else:  # scores only fall along a path: no live beam can beat the k-th pooled item any more
            user_done = ~(live_s > NEG_INF).any(1) | (kth_best >= live_s[:, 0])
        if bool(user_done.all()):
            break
        keep = (~user_done).nonzero().flatten()  # (active',)
        new_tokens, states, scores, parent = _next_beams(
            edges, edge[keep], live_s[keep], keep, width, pad_token_id
        )
        active = active[keep]
        # Beams of one prompt share its prompt positions: while no prompt has left the batch (and after
        # the first step's expansion to the beams) a reorder only moves the decoded positions.
        same_rows = width == beams and keep.numel() == n_act
        past = runner.reorder(past, parent.reshape(-1), shared_prefix=batch.width if same_rows else 0)
        step += 1
        logits, past = _decode_step(runner, batch, active, beams, new_tokens, step, past)
    return _pooled_results(pool_scores, pool_items, k)


def _prefill(
    runner: CausalLMRunner, prompts: list[Sequence[int]], trie: PrefixTrie, pad_token_id: int
) -> tuple[_Prompts, torch.Tensor, Any]:
    """One left-padded forward pass over the prompts; returns them, the last position's logits
    (users, vocab) and the KV cache."""
    input_ids, prompt_mask = left_pad(prompts, pad_token_id)  # (users, length)
    # room for every decoded token: the cache then grows in place (no per-step concatenation)
    logits, past = runner.prefill(input_ids, prompt_mask, spare=trie.max_depth + 1)  # (users, vocab)
    return _Prompts(prompt_mask, prompt_mask.sum(-1), input_ids.shape[1]), logits, past


def _expand_live_beams(
    logits: torch.Tensor,
    states: torch.Tensor,
    scores: torch.Tensor,
    trie: PrefixTrie,
    temperature: float,
    active: torch.Tensor,
    step: int,
) -> _Edges:
    """The trie's children of every live beam, scored; raises `EmptyAllowedSetError` when a live beam has
    none. ``logits`` (active * width, vocab), ``states`` and ``scores`` (active, width)."""
    width = states.shape[1]
    if temperature != 1.0:  # no (rows, vocab) copy for the plain search
        logits = logits / temperature
    logp = torch.log_softmax(logits.float(), dim=-1)  # (active * width, vocab)
    flat_scores = scores.reshape(-1)  # (rows,)
    live = flat_scores > NEG_INF
    flat_states = torch.where(
        live, states.reshape(-1), torch.full_like(flat_scores, UNKNOWN, dtype=torch.long)
    )
    rows, tokens, child = trie.children(flat_states)  # (edges,)
    n_children = torch.bincount(rows, minlength=flat_states.numel())  # (rows,)
    empty = live & (n_children == 0)
    if bool(empty.any()):
        bad = int(empty.nonzero()[0, 0])
        raise EmptyAllowedSetError(
            f"prompt {int(active[bad // width])}: a beam at step {step} has no allowed next token "
            "(its prefix is not in the trie, or the trie is empty); refusing to decode unconstrained text"
        )
    return _Edges(rows, tokens, child, flat_scores[rows] + logp[rows, tokens])


def _per_slot_candidates(
    edges: _Edges, node_item: torch.Tensor, n_act: int, width: int, step: int, length_normalization: bool
) -> _Candidates:
    """Dense (active, candidates) matrices of the edges (they are grouped by slot because rows are):
    continuing edges compete for the live beams, completing ones for the pool."""
    slot = edges.rows // width  # (edges,) active slot of each edge
    per_slot = torch.bincount(slot, minlength=n_act)  # (active,)
    first = torch.cumsum(per_slot, 0) - per_slot
    col = torch.arange(edges.rows.numel()) - first[slot]  # (edges,)
    width_c = max(int(per_slot.max()), 1)
    terminal = node_item[edges.child] >= 0  # (edges,)
    cand_live = torch.full((n_act, width_c), NEG_INF)  # (active, candidates)
    cand_done = torch.full((n_act, width_c), NEG_INF)  # (active, candidates)
    cand_live[slot, col] = edges.scores.masked_fill(terminal, NEG_INF)
    finished = edges.scores.masked_fill(~terminal, NEG_INF)
    if length_normalization:
        finished = finished / (step + 1)
    cand_done[slot, col] = finished
    done_items = torch.full((n_act, width_c), -1, dtype=torch.long)  # (active, candidates)
    done_items[slot, col] = node_item[edges.child]
    return _Candidates(cand_live, cand_done, done_items, first)


def _merge_completed(
    pool_scores: torch.Tensor,
    pool_items: torch.Tensor,
    active: torch.Tensor,
    candidates: _Candidates,
    k: int,
) -> torch.Tensor:
    """Merge the completed identifiers into the (users, k) pool in place; returns each active prompt's
    k-th best pooled score (active,)."""
    merged_s = torch.cat([pool_scores[active], candidates.done], 1)  # (active, k + candidates)
    merged_i = torch.cat([pool_items[active], candidates.items], 1)
    top_s, top_j = torch.topk(merged_s, k, dim=1)  # (active, k)
    pool_scores[active] = top_s
    pool_items[active] = torch.gather(merged_i, 1, top_j)
    return top_s[:, -1]


def _best_live_candidates(
    candidates: _Candidates, beams: int, n_edges: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``beams`` best continuing candidates per slot: their scores (-inf pads a slot with fewer) and
    flat edge indices, both (active, beams)."""
    n_act, width_c = candidates.live.shape
    n_keep = min(beams, width_c)
    live_s, live_j = torch.topk(candidates.live, n_keep, dim=1)  # (active, keep)
    if n_keep < beams:
        pad = torch.full((n_act, beams - n_keep), NEG_INF)
        live_s = torch.cat([live_s, pad], 1)
        live_j = torch.cat([live_j, torch.zeros_like(pad, dtype=torch.long)], 1)
    edge = (candidates.first[:, None] + live_j).clamp(max=max(n_edges - 1, 0))  # (active, beams)
    return live_s, edge


def _next_beams(
    edges: _Edges,
    edge: torch.Tensor,
    live_s: torch.Tensor,
    keep: torch.Tensor,
    width: int,
    pad_token_id: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The kept slots' next beams from their chosen edges (active', beams): the tokens to feed, the trie
    states, the scores and the parent rows whose cache each beam continues (dead beams: padding, unknown
    state and their slot's first row)."""
    alive = live_s > NEG_INF  # (active', beams)
    new_tokens = torch.where(alive, edges.tokens[edge], torch.full_like(edge, pad_token_id))
    new_states = torch.where(alive, edges.child[edge], torch.full_like(edge, UNKNOWN))
    parent = torch.where(alive, edges.rows[edge], (keep * width)[:, None].expand_as(edge))
    return new_tokens, new_states, live_s, parent


def _decode_step(
    runner: CausalLMRunner,
    batch: _Prompts,
    active: torch.Tensor,
    beams: int,
    new_tokens: torch.Tensor,
    step: int,
    past: Any,
) -> tuple[torch.Tensor, Any]:
    """Feed each beam's new token (dead beams feed padding); returns next logits (rows, vocab) and cache."""
    row_user = active.repeat_interleave(beams)  # (rows,)
    attn = torch.cat([batch.mask[row_user], torch.ones(row_user.numel(), step, dtype=torch.long)], 1)
    positions = batch.lengths[row_user] + step - 1  # (rows,)
    return runner.step(new_tokens.reshape(-1), attn, positions, past)


def _pooled_results(pool_scores: torch.Tensor, pool_items: torch.Tensor, k: int) -> list[SearchResult]:
    """Each prompt's pooled (users, k) items and scores, best first."""
    if bool((pool_scores == NEG_INF).any()):  # cannot happen when num_beams >= k (see module docstring)
        user = int((pool_scores == NEG_INF).any(1).nonzero()[0, 0])
        raise EmptyAllowedSetError(f"prompt {user}: the search completed fewer than k={k} items")
    return [
        SearchResult(
            items=tuple(int(i) for i in pool_items[u].tolist()),
            scores=tuple(float(s) for s in pool_scores[u].tolist()),
        )
        for u in range(pool_items.shape[0])
    ]
