"""Turn (user, item, timestamp) rows into chronological per-user sequences, deterministically."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genrec.data.catalogue import Catalogue
from genrec.data.interactions import InteractionData


def sequences_from_rows(
    name: str,
    catalogue: Catalogue,
    users: Sequence[str],
    items: Sequence[str],
    timestamps: Sequence[float] | None,
) -> InteractionData:
    """Group rows by user, ordered by timestamp; equal timestamps keep the file's row order.

    Users appear in order of their first row. ``items`` are external ids that must be in ``catalogue``
    (callers validate this first, so they can name the offending line).
    """
    n = len(users)
    user_codes: dict[str, int] = {}
    user_idx = np.empty(n, dtype=np.int64)
    for i, u in enumerate(users):
        user_idx[i] = user_codes.setdefault(u, len(user_codes))
    item_idx = np.fromiter((catalogue.index_of(it) for it in items), dtype=np.int64, count=n)
    ts = np.zeros(n) if timestamps is None else np.asarray(timestamps, dtype=np.float64)
    # lexsort is stable: the last key is primary (user), then timestamp, then original row order.
    order = np.lexsort((np.arange(n), ts, user_idx))
    sorted_users = user_idx[order]
    sorted_items = item_idx[order]
    bounds = np.flatnonzero(np.diff(sorted_users)) + 1
    groups = np.split(sorted_items, bounds) if n else []
    seqs = tuple(tuple(int(x) for x in g) for g in groups)
    return InteractionData(name=name, catalogue=catalogue, users=tuple(user_codes), sequences=seqs)
