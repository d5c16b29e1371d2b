"""Identifier statistics: collisions before the collision-breaking level, codebook use, prefix sharing.

Pure functions of the identifiers, so any tokenizer (or a prebuilt index file) can be measured alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def collision_rate(codes: Sequence[Sequence[object]]) -> float:
    """``1 - distinct codes / items`` (0 when every item has its own code)."""
    if not codes:
        return 0.0
    return 1.0 - len({tuple(c) for c in codes}) / len(codes)


def identifier_stats(
    identifiers: Sequence[Sequence[str]],
    prefix_levels: int | None,
    codebook_sizes: Sequence[int] | None = None,
) -> dict[str, object]:
    """Statistics of one set of identifiers.

    ``prefix_levels``: how many leading levels come before the collision-breaking level (None for
    identifiers without one, e.g. atomic or title). ``codebook_sizes``: the size of each of those levels'
    codebooks, for utilisation (share of codes used by at least one item).
    """
    n = len(identifiers)
    lengths = Counter(len(i) for i in identifiers)
    out: dict[str, object] = {
        "items": n,
        "unique_identifiers": len({tuple(i) for i in identifiers}),
        "unique_rate": (len({tuple(i) for i in identifiers}) / n) if n else 1.0,
        "identifier_lengths": {str(k): v for k, v in sorted(lengths.items())},
        "distinct_tokens": len({t for i in identifiers for t in i}),
    }
    if prefix_levels is None:
        return out
    prefixes = [tuple(i[:prefix_levels]) for i in identifiers]
    shared = Counter(prefixes)
    out["prefix_levels"] = prefix_levels
    out["distinct_prefixes"] = len(shared)
    out["collision_rate"] = collision_rate(prefixes)
    out["max_items_per_prefix"] = max(shared.values(), default=0)
    per_level = []
    for level in range(prefix_levels):
        used = len({p[level] for p in prefixes if len(p) > level})
        entry: dict[str, object] = {"level": level, "codes_used": used}
        if codebook_sizes is not None and level < len(codebook_sizes):
            entry["codebook_size"] = codebook_sizes[level]
            entry["utilisation"] = used / codebook_sizes[level]
        per_level.append(entry)
    out["levels"] = per_level
    return out
