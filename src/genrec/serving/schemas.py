"""Request and response models of the HTTP API (they also define its OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

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

    _coerce = field_validator("history", mode="before")(_ids_to_str)

    @field_validator("item", mode="before")
    @classmethod
    def _item_to_str(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ExplainResponse(BaseModel):
    item: ItemSummary
    reason: str = Field(description="Free text written by the model's language head; not verified.")
    generated: bool = Field(True, description="Always true: the reason is generated text, label it so.")


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
