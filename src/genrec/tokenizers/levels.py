"""Level-prefixed code tokens and the collision-breaking last level.

Hierarchical identifiers (semantic, collaborative, prebuilt) write code ``c`` at level ``l`` as
``<a_c>``, ``<b_c>``, ... so that levels never share tokens. Items whose codes collide get one more level:
items sharing the same code prefix are numbered 0, 1, 2, ... in item-index order.
"""

from __future__ import annotations

from collections.abc import Sequence

from genrec.errors import ConfigError

LEVEL_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def level_token(level: int, code: int) -> str:
    """The token for ``code`` at ``level`` (0 -> ``<a_code>``)."""
    if not 0 <= level < len(LEVEL_LETTERS):
        raise ConfigError(f"identifier level {level} out of range (at most {len(LEVEL_LETTERS)} levels)")
    return f"<{LEVEL_LETTERS[level]}_{int(code)}>"


def level_tokens(codes: Sequence[int]) -> tuple[str, ...]:
    """Tokens of one item's code tuple, level by level."""
    return tuple(level_token(level, code) for level, code in enumerate(codes))


class CollisionBreaker:
    """Hands out the last-level code: the number of earlier items with the same prefix tokens.

    Kept as state so that items added later continue the numbering without touching earlier items.
    """

    def __init__(self) -> None:
        self.counts: dict[tuple[str, ...], int] = {}

    def next_code(self, prefix: Sequence[str]) -> int:
        key = tuple(prefix)
        code = self.counts.get(key, 0)
        self.counts[key] = code + 1
        return code

    def assign(self, prefixes: Sequence[Sequence[str]]) -> list[int]:
        """Last-level codes for ``prefixes`` in order (deterministic: item order)."""
        return [self.next_code(p) for p in prefixes]

    def to_json(self) -> list[dict[str, object]]:
        return [{"prefix": list(k), "next": v} for k, v in self.counts.items()]

    @classmethod
    def from_json(cls, payload: object) -> CollisionBreaker:
        breaker = cls()
        for row in payload if isinstance(payload, list) else []:
            breaker.counts[tuple(str(t) for t in row["prefix"])] = int(row["next"])
        return breaker
