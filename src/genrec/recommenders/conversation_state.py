"""The state of a conversational recommendation session, its schema of actions and the items it rules out.

A session's state is what the user has said so far, reduced to grounded facts: *reference items* ("more
like this one": added to the history the recommender sees), categories and brands to include or exclude,
and items to avoid. Every value is a catalogue value (`CatalogueFacets`: the ``categories`` phrases and
the ``brand`` field, compared lower-cased), so a state can always be applied to the catalogue.

The state is immutable: `ConversationState.apply` returns a new state, so a turn that fails half-way
leaves the session's stored state as it was. The later of two contradicting actions wins ("include
category comedy" after "exclude category comedy" removes the exclusion).

Semantics of the filters (`CatalogueFacets.banned`): included categories are all required (each turn
narrows: "a comedy" then "a romance" asks for romantic comedies); included brands are alternatives (an
item has one brand); an item carrying any excluded category or an excluded brand is ruled out; avoided
items are never shown. References are history, not filters: they steer the ranking, and are not shown
again (history items are excluded from ranking).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from genrec.data.catalogue import Catalogue
from genrec.recommenders.item_attributes import category_phrases, clean_text

ActionKind = Literal[
    "like", "avoid", "include category", "exclude category", "include brand", "exclude brand"
]
ITEM_KINDS: tuple[ActionKind, ...] = ("like", "avoid")
CATEGORY_KINDS: tuple[ActionKind, ...] = ("include category", "exclude category")
BRAND_KINDS: tuple[ActionKind, ...] = ("include brand", "exclude brand")
ACTION_KINDS: tuple[ActionKind, ...] = ITEM_KINDS + CATEGORY_KINDS + BRAND_KINDS


@dataclass(frozen=True)
class Action:
    """One schema action: ``kind`` and its grounded argument (an item index, or a lower-case value)."""

    kind: ActionKind
    item: int | None = None
    value: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ACTION_KINDS:
            raise ValueError(f"unknown action kind {self.kind!r}; expected one of {ACTION_KINDS}")
        if (self.kind in ITEM_KINDS) != (self.item is not None):
            raise ValueError(
                f"action {self.kind!r} needs {'an item' if self.kind in ITEM_KINDS else 'a value'}"
            )

    def text(self, catalogue: Catalogue) -> str:
        """The action as the LM writes it: ``like <title>``, ``exclude category <category>`` ..."""
        argument = clean_text(catalogue.title(self.item)) if self.item is not None else self.value
        return f"{self.kind} {argument}"


@dataclass(frozen=True)
class ConversationState:
    """What the user has asked for so far (see the module docstring); ``shown`` is the last turn's items."""

    references: tuple[int, ...] = ()
    include_categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    include_brands: tuple[str, ...] = ()
    exclude_brands: tuple[str, ...] = ()
    avoided: tuple[int, ...] = ()
    shown: tuple[int, ...] = ()
    turn: int = 0

    def apply(self, actions: Iterable[Action]) -> ConversationState:
        """A new state with ``actions`` applied in order (the later of two contradicting ones wins)."""
        state = self
        for action in actions:
            state = state._apply_one(action)
        return state

    def _apply_one(self, a: Action) -> ConversationState:
        if a.kind == "like":
            assert a.item is not None
            return replace(
                self, references=_add(self.references, a.item), avoided=_drop(self.avoided, a.item)
            )
        if a.kind == "avoid":
            assert a.item is not None
            return replace(
                self, avoided=_add(self.avoided, a.item), references=_drop(self.references, a.item)
            )
        v = a.value
        if a.kind == "include category":
            return replace(
                self,
                include_categories=_add(self.include_categories, v),
                exclude_categories=_drop(self.exclude_categories, v),
            )
        if a.kind == "exclude category":
            return replace(
                self,
                exclude_categories=_add(self.exclude_categories, v),
                include_categories=_drop(self.include_categories, v),
            )
        if a.kind == "include brand":
            return replace(
                self,
                include_brands=_add(self.include_brands, v),
                exclude_brands=_drop(self.exclude_brands, v),
            )
        return replace(
            self, exclude_brands=_add(self.exclude_brands, v), include_brands=_drop(self.include_brands, v)
        )

    def next_turn(self, shown: Sequence[int]) -> ConversationState:
        """The state after a turn that showed ``shown`` (ordinals of the next turn refer to them)."""
        return replace(self, shown=tuple(int(i) for i in shown), turn=self.turn + 1)

    def describe(self, catalogue: Catalogue) -> str:
        """A readable one-line summary, e.g. ``like “Toy Story”; with comedy; without horror``."""
        parts = []
        if self.references:
            parts.append("like " + ", ".join(f"“{clean_text(catalogue.title(i))}”" for i in self.references))
        if self.include_categories:
            parts.append("with " + " and ".join(self.include_categories))
        if self.exclude_categories:
            parts.append("without " + ", ".join(self.exclude_categories))
        if self.include_brands:
            parts.append("by " + " or ".join(self.include_brands))
        if self.exclude_brands:
            parts.append("not by " + ", ".join(self.exclude_brands))
        if self.avoided:
            parts.append("not " + ", ".join(f"“{clean_text(catalogue.title(i))}”" for i in self.avoided))
        return "; ".join(parts) or "no preferences yet"


def _add(values: tuple, value: object) -> tuple:
    return values if value in values else (*values, value)


def _drop(values: tuple, value: object) -> tuple:
    return tuple(v for v in values if v != value)


@dataclass(frozen=True)
class CatalogueFacets:
    """Each item's categories and brand (lower-cased, HTML-unescaped), and the values that exist.

    The grounding vocabulary of the parser and the filter of `banned`. Built once per catalogue.
    """

    catalogue: Catalogue
    categories: tuple[frozenset[str], ...] = field(init=False)
    brands: tuple[str, ...] = field(init=False)
    category_values: frozenset[str] = field(init=False)
    brand_values: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        cat = self.catalogue
        cats = tuple(
            frozenset(p.lower() for p in category_phrases(cat.text(i, "categories"))) for i in range(len(cat))
        )
        brands = tuple(clean_text(cat.text(i, "brand")).lower() for i in range(len(cat)))
        object.__setattr__(self, "categories", cats)
        object.__setattr__(self, "brands", brands)
        object.__setattr__(self, "category_values", frozenset().union(*cats) if cats else frozenset())
        object.__setattr__(self, "brand_values", frozenset(b for b in brands if b))

    def __len__(self) -> int:
        return len(self.brands)

    def check(self, action: Action) -> None:
        """Raise ValueError unless ``action``'s argument exists in this catalogue."""
        if action.item is not None and not 0 <= action.item < len(self):
            raise ValueError(f"{action.kind}: item index {action.item} is not in the catalogue")
        if action.kind in CATEGORY_KINDS and action.value not in self.category_values:
            raise ValueError(f"{action.kind}: unknown category {action.value!r}")
        if action.kind in BRAND_KINDS and action.value not in self.brand_values:
            raise ValueError(f"{action.kind}: unknown brand {action.value!r}")

    def allowed(self, state: ConversationState, item: int) -> bool:
        """True when ``item`` passes the state's filters (see the module docstring)."""
        cats, brand = self.categories[item], self.brands[item]
        if item in state.avoided:
            return False
        if any(c not in cats for c in state.include_categories):
            return False
        if any(c in cats for c in state.exclude_categories):
            return False
        if state.include_brands and brand not in state.include_brands:
            return False
        return not (brand and brand in state.exclude_brands)

    def banned(self, state: ConversationState) -> tuple[int, ...]:
        """Indices of the items the state rules out, ascending (the ranking's ``exclude_items``)."""
        return tuple(i for i in range(len(self)) if not self.allowed(state, i))
