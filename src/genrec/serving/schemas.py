"""Request and response models of the HTTP API (they also define its OpenAPI schema)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StringConstraints, Tag, field_validator

#: An item reference: an external item id or an exact title (JSON numbers are accepted as ids).
ItemRef = Annotated[str, StringConstraints(min_length=1, max_length=500)]
MAX_LIST = 1000


def _ids_to_str(value: Any) -> Any:
    if isinstance(value, list):
        return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
    return value


class RecommendRequest(BaseModel):
    """Top-K request: a history of item ids or exact titles, plus business rules."""

    model_config = ConfigDict(extra="forbid")

    history: list[ItemRef] = Field(
        default_factory=list, max_length=MAX_LIST, description="Item ids or exact titles, oldest first."
    )
    k: int = Field(10, ge=1, le=100, description="Number of items to return (1-100).")
    exclude_history: bool = Field(True, description="Never recommend an item of the history.")
    exclude_items: list[ItemRef] = Field(
        default_factory=list, max_length=MAX_LIST, description="Items never to recommend."
    )
    include_categories: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default_factory=list,
        max_length=100,
        description="Only recommend items in at least one of these categories (case-insensitive).",
    )

    _coerce = field_validator("history", "exclude_items", mode="before")(_ids_to_str)


class RecommendedItem(BaseModel):
    id: str
    title: str
    score: float
    rank: int


class RecommendResponse(BaseModel):
    """Items best first. ``fallback`` is "popular" (or "model") when the history was empty, else null."""

    model: str
    k: int
    items: list[RecommendedItem]
    fallback: Literal["popular", "model"] | None = None


class ItemSummary(BaseModel):
    id: str
    title: str
    categories: str = ""


class ItemSearchResponse(BaseModel):
    query: str
    items: list[ItemSummary]


class ExplainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    history: list[ItemRef] = Field(default_factory=list, max_length=MAX_LIST)
    item: ItemRef
    grounded: bool = Field(
        False,
        description="Name only attributes the item shares with the history (works for every model); "
        "false: the model's own free-text reason (language-head models only).",
    )

    _coerce = field_validator("history", mode="before")(_ids_to_str)

    @field_validator("item", mode="before")
    @classmethod
    def _item_to_str(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ExplainMention(BaseModel):
    """A catalogue attribute the reason names, and the ids of the involved items it is true of."""

    attribute: str = Field(description='"brand", "category", "genre" or "title word".')
    value: str
    items: list[str] = Field(description="Involved items (recommended item, history) having it.")
    holds: bool = Field(description="True when at least one involved item has the attribute.")


class ExplainResponse(BaseModel):
    item: ItemSummary
    reason: str = Field(description="Text written by a language model (grounded: wording only).")
    generated: bool = Field(True, description="Always true: the reason is generated text, label it so.")
    grounded: bool = Field(False, description="True: the reason may only name attributes the items share.")
    mentions: list[ExplainMention] = Field(
        default_factory=list, description="Attributes the reason names, checked against the catalogue."
    )
    names_unknown_item: bool = Field(
        False, description="The checker found a quoted or capitalised title that is not in the catalogue."
    )


class HealthResponse(BaseModel):
    status: Literal["ok"]
    model: str
    items: int
    batching: bool


class ErrorResponse(BaseModel):
    """Error body: a message, and for unknown references the field and the values not found."""

    detail: str
    field: str | None = None
    unknown: list[str] | None = None


# --- events, users and the live catalogue ------------------------------------------------------------

MAX_EVENTS = 1000
MAX_FIELD_TEXT = 10_000
UserId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
EventType = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


class EventIn(BaseModel):
    """One interaction. ``event_id`` makes a retry harmless: an id already stored is counted a duplicate."""

    model_config = ConfigDict(extra="forbid")

    event_id: EventId = Field(description="Client-chosen unique id of this event (e.g. a UUID).")
    user: UserId
    item: ItemRef = Field(description="Item id or exact title; stored as the item id.")
    type: EventType = Field("interaction", description='A label such as "view", "click" or "purchase".')
    timestamp: datetime | None = Field(
        None, description="ISO 8601 or Unix seconds; a time without zone is UTC; default: when received."
    )

    @field_validator("event_id", "user", "item", mode="before")
    @classmethod
    def _number_to_str(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    def epoch_seconds(self, default: float) -> float:
        if self.timestamp is None:
            return default
        stamp = self.timestamp if self.timestamp.tzinfo else self.timestamp.replace(tzinfo=UTC)
        return stamp.timestamp()


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=MAX_EVENTS)


def _event_or_batch(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "events" in value else "event"


#: The body of ``POST /v1/events``: one event object, or ``{"events": [...]}``.
EventsRequest = Annotated[
    Annotated[EventIn, Tag("event")] | Annotated[EventBatch, Tag("batch")], Discriminator(_event_or_batch)
]


class EventsResponse(BaseModel):
    received: int
    new: int = Field(description="Events stored by this request.")
    duplicates: int = Field(description="Events whose event_id was already stored (or repeated here).")


class StoredEvent(BaseModel):
    event_id: str
    item: ItemSummary
    type: str
    timestamp: datetime


class HistoryResponse(BaseModel):
    """A user's latest stored events, oldest first; empty for a user never seen."""

    user: str
    events: list[StoredEvent]


class UserRecommendResponse(RecommendResponse):
    """Recommendations from the user's stored history; an unknown user gets the popular fallback."""

    user: str
    known_user: bool
    history_length: int


FieldText = Annotated[str, StringConstraints(max_length=MAX_FIELD_TEXT)]


class ItemUpsertRequest(BaseModel):
    """The whole text of an item to add or replace (PUT semantics: a field left out becomes empty)."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    categories: FieldText | None = Field(None, description='Comma-separated, e.g. "Pens, Ink".')
    description: FieldText | None = None
    brand: Annotated[str, StringConstraints(max_length=500)] | None = None

    def text_fields(self) -> dict[str, str]:
        return {name: value for name, value in self.model_dump(exclude_none=True).items()}


class ItemChangeResponse(BaseModel):
    item: ItemSummary
    created: bool = Field(description="True when the item was new (answered with 201).")
    hidden: bool
