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
from typing import Any

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


def _search_batch(
    runner: CausalLMRunner,
    prompts: list[Sequence[int]],
    trie: PrefixTrie,
    config: SearchConfig,
    histories: list[Sequence[int]] | None,
    pad_token_id: int,
) -> list[SearchResult]:
    n_users, beams, k = len(prompts), config.num_beams, config.k
    num_nodes = trie.num_nodes
    node_item = trie.item_of_states(torch.arange(num_nodes))  # (nodes,)
    excluded = _excluded_nodes(trie, histories) if histories is not None else None

    input_ids, prompt_mask = left_pad(prompts, pad_token_id)  # (users, length)
    prompt_len = prompt_mask.sum(-1)  # (users,)
    # room for every decoded token: the cache then grows in place (no per-step concatenation)
    logits, past = runner.prefill(input_ids, prompt_mask, spare=trie.max_depth + 1)  # (users, vocab)
    prompt_width = input_ids.shape[1]

    active = torch.arange(n_users)  # (active,) user of each active slot
    states = trie.root_states(n_users)[:, None]  # (active, width) width = 1 before the first step
    scores = torch.zeros(n_users, 1)  # (active, width)
    pool_scores = torch.full((n_users, k), NEG_INF)  # (users, k)
    pool_items = torch.full((n_users, k), -1, dtype=torch.long)  # (users, k)
    step = 0
    while True:
        n_act, width = states.shape
        if config.temperature != 1.0:  # no (rows, vocab) copy for the plain search
            logits = logits / config.temperature
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
        slot = rows // width  # (edges,) active slot of each edge
        edge_scores = flat_scores[rows] + logp[rows, tokens]  # (edges,)
        if excluded is not None:
            dead = _is_dead(excluded, active[slot], child, num_nodes)
            edge_scores = edge_scores.masked_fill(dead, NEG_INF)
        terminal = node_item[child] >= 0  # (edges,)

        # Per-slot dense candidate matrix (edges are grouped by slot because rows are).
        per_slot = torch.bincount(slot, minlength=n_act)  # (active,)
        first = torch.cumsum(per_slot, 0) - per_slot
        col = torch.arange(rows.numel()) - first[slot]  # (edges,)
        width_c = max(int(per_slot.max()), 1)
        cand_live = torch.full((n_act, width_c), NEG_INF)  # (active, candidates)
        cand_done = torch.full((n_act, width_c), NEG_INF)  # (active, candidates)
        cand_live[slot, col] = edge_scores.masked_fill(terminal, NEG_INF)
        finished = edge_scores.masked_fill(~terminal, NEG_INF)
        if config.length_normalization:
            finished = finished / (step + 1)
        cand_done[slot, col] = finished

        # Completed identifiers -> merge into the pool of the k best items.
        done_items = torch.full((n_act, width_c), -1, dtype=torch.long)
        done_items[slot, col] = node_item[child]
        merged_s = torch.cat([pool_scores[active], cand_done], 1)  # (active, k + candidates)
        merged_i = torch.cat([pool_items[active], done_items], 1)
        top_s, top_j = torch.topk(merged_s, k, dim=1)
        pool_scores[active] = top_s
        pool_items[active] = torch.gather(merged_i, 1, top_j)

        # Live beams for the next step.
        n_keep = min(beams, width_c)
        live_s, live_j = torch.topk(cand_live, n_keep, dim=1)  # (active, keep)
        if n_keep < beams:
            pad = torch.full((n_act, beams - n_keep), NEG_INF)
            live_s = torch.cat([live_s, pad], 1)
            live_j = torch.cat([live_j, torch.zeros_like(pad, dtype=torch.long)], 1)
        edge = (first[:, None] + live_j).clamp(max=max(rows.numel() - 1, 0))  # (active, beams)
        alive = live_s > NEG_INF
        if config.length_normalization:
            user_done = ~alive.any(1)
        else:
            user_done = ~alive.any(1) | (top_s[:, -1] >= live_s[:, 0])
        if bool(user_done.all()):
            break
        keep = (~user_done).nonzero().flatten()  # (active',)
        edge, alive, live_s = edge[keep], alive[keep], live_s[keep]
        new_tokens = torch.where(alive, tokens[edge], torch.full_like(edge, pad_token_id))
        new_states = torch.where(alive, child[edge], torch.full_like(edge, UNKNOWN))
        parent = torch.where(alive, rows[edge], (keep * width)[:, None].expand_as(edge))  # (active', beams)
        active = active[keep]
        states, scores = new_states, live_s
        # Beams of one prompt share its prompt positions: while no prompt has left the batch (and after
        # the first step's expansion to the beams) a reorder only moves the decoded positions.
        same_rows = width == beams and keep.numel() == n_act
        past = runner.reorder(past, parent.reshape(-1), shared_prefix=prompt_width if same_rows else 0)
        step += 1
        row_user = active.repeat_interleave(beams)  # (rows,)
        attn = torch.cat([prompt_mask[row_user], torch.ones(row_user.numel(), step, dtype=torch.long)], 1)
        positions = prompt_len[row_user] + step - 1
        logits, past = runner.step(new_tokens.reshape(-1), attn, positions, past)

    if bool((pool_scores == NEG_INF).any()):  # cannot happen when num_beams >= k (see module docstring)
        user = int((pool_scores == NEG_INF).any(1).nonzero()[0, 0])
        raise EmptyAllowedSetError(f"prompt {user}: the search completed fewer than k={k} items")
    return [
        SearchResult(
            items=tuple(int(i) for i in pool_items[u].tolist()),
            scores=tuple(float(s) for s in pool_scores[u].tolist()),
        )
        for u in range(n_users)
    ]
