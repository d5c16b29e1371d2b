"""Prebuilt identifiers: load an existing ``*.index*.json`` file (``{"<item id>": ["<a_159>", ...]}``).

The published index files are not always collision-free (Scientific.index.rqvae.json gives 3,790
distinct codes to 4,344 items). When a file has collisions, items get one more level that numbers the
items sharing a code in item-index order, so identifiers stay unique. ``collision_level`` says which items:

- ``all`` (default): every item, so identifiers stay of equal length;
- ``colliding``: only the items whose code is shared. Identifiers stay prefix-free (every item of a shared
  code is extended) and the rest keep the file's length: Beauty.index.json has 13 shared codes among 12,101
  items, so ``all`` makes 12,075 identifiers one token longer to separate 26 items.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from genrec.data.catalogue import Catalogue
from genrec.errors import ConfigError, DataError
from genrec.io.files import read_json
from genrec.tokenizers.levels import CollisionBreaker, level_token
from genrec.tokenizers.table import IdentifierTable, load_table, save_table


def read_index_file(path: Path) -> dict[str, tuple[str, ...]]:
    """Parse an index file, checking that every entry is a non-empty list of token strings."""
    payload = read_json(path)
    if not isinstance(payload, dict):
        raise DataError("expected a JSON object of item id -> token list", path=path)
    codes: dict[str, tuple[str, ...]] = {}
    depth: int | None = None
    for item_id, tokens in payload.items():
        if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) and t for t in tokens):
            raise DataError("expected a non-empty list of token strings", path=path, field=str(item_id))
        if depth is not None and len(tokens) != depth:
            raise DataError(f"has {len(tokens)} levels, earlier items have {depth}", path=path, field=item_id)
        depth = len(tokens)
        codes[str(item_id)] = tuple(tokens)
    if not codes:
        raise DataError("index file holds no items", path=path)
    return codes


#: Which items get the collision-breaking level when the index file has collisions.
COLLISION_LEVELS = ("all", "colliding")


class PrebuiltTokenizer:
    """Identifiers read from an index file, keyed by the catalogue's external item ids.

    ``collision_level``: which items get the collision-breaking level, ``all`` or ``colliding`` (see above).
    """

    name = "prebuilt"

    def __init__(self, path: Path | str, collision_level: str = "all") -> None:
        if collision_level not in COLLISION_LEVELS:
            raise ConfigError(
                f"tokenizer 'prebuilt': collision_level must be one of {COLLISION_LEVELS}, got {collision_level!r}"
            )
        self.path = Path(path)
        self.collision_level = collision_level
        self.table = IdentifierTable()
        self.breaker = CollisionBreaker()
        self.extra_level = False
        self.depth = 0

    def fit(self, catalogue: Catalogue, train_sequences: Sequence[Sequence[int]], seed: int) -> None:
        codes = read_index_file(self.path)
        self.depth = len(next(iter(codes.values())))
        missing = [i for i in catalogue.item_ids if i not in codes]
        if missing:
            raise DataError(
                f"{len(missing)} catalogue items have no identifier (first: {missing[:5]})", path=self.path
            )
        ids = [codes[i] for i in catalogue.item_ids]
        shared = {code for code, n in Counter(ids).items() if n > 1}
        self.extra_level = bool(shared)
        self.table = IdentifierTable()
        self.breaker = CollisionBreaker()
        self._append(catalogue, range(len(catalogue)), codes, shared)

    def _extends(self, code: tuple[str, ...], shared: set[tuple[str, ...]]) -> bool:
        """Whether the item with the file's ``code`` gets the collision-breaking level."""
        if self.collision_level == "all":
            return self.extra_level
        return code in shared or code in self.breaker.counts  # a shared code, now or at fit time

    def _append(
        self,
        catalogue: Catalogue,
        items: Sequence[int],
        codes: dict[str, tuple[str, ...]],
        shared: set[tuple[str, ...]],
    ) -> None:
        for i in items:
            item_id = catalogue.id_of(i)
            if item_id not in codes:
                raise DataError(f"item {item_id!r} has no identifier", path=self.path)
            ident = codes[item_id]
            if self._extends(ident, shared):
                ident = (*ident, level_token(self.depth, self.breaker.next_code(ident)))
            self.table.append(item_id, ident)

    def add_items(self, catalogue: Catalogue) -> list[int]:
        """New items take their identifiers from the same file (it must list them).

        With ``collision_level='colliding'`` a new item may not share the code of an item that kept the
        file's identifier: that identifier would have to grow, and known identifiers never change.
        """
        new = self.table.new_items(catalogue)
        if not new:
            return new
        codes = read_index_file(self.path)
        shared: set[tuple[str, ...]] = set()
        if self.collision_level == "colliding":
            new_codes = [codes.get(catalogue.id_of(i)) for i in new]
            shared = {c for c, n in Counter(new_codes).items() if c is not None and n > 1}
            for i, code in zip(new, new_codes, strict=True):
                known = self.table.decode(code) if code is not None else None
                if code is not None and known is not None:
                    raise DataError(
                        f"new item {catalogue.id_of(i)!r} shares its code {list(code)} with item "
                        f"{self.table.item_ids[known]!r}, which kept the file's "
                        "identifier (collision_level='colliding'); refit the tokenizer, or use "
                        "collision_level='all' so that every identifier has the extra level",
                        path=self.path,
                    )
        self._append(catalogue, new, codes, shared)
        return new

    def __len__(self) -> int:
        return len(self.table)

    def encode(self, item: int) -> tuple[str, ...]:
        return self.table.encode(item)

    def decode(self, tokens: Sequence[str]) -> int | None:
        return self.table.decode(tokens)

    def vocabulary(self) -> list[str]:
        return self.table.vocabulary()

    def save(self, directory: Path) -> None:
        state = {
            "path": str(self.path),
            "depth": self.depth,
            "extra_level": self.extra_level,
            "collision_level": self.collision_level,
            "breaker": self.breaker.to_json(),
        }
        save_table(directory, self.name, self.table, state)

    @classmethod
    def load(cls, directory: Path) -> PrebuiltTokenizer:
        table, state = load_table(directory, cls.name)
        tok = cls(str(state.get("path", "")), str(state.get("collision_level", "all")))
        tok.table = table
        tok.depth = int(str(state.get("depth", 0)))
        tok.extra_level = bool(state.get("extra_level", False))
        tok.breaker = CollisionBreaker.from_json(state.get("breaker"))
        return tok
