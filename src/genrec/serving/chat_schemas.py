"""Request and response models of ``POST /v1/chat`` (conversational refinement)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from genrec.serving.schemas import MAX_LIST, ItemRef, ItemSummary, RecommendedItem, _ids_to_str

MAX_MESSAGE = 1000


class ChatRequest(BaseModel):
    """One user turn: free text that refines the session's state, and how many items to return."""

    model_config = ConfigDict(extra="forbid")

    session_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        None, description="The id a previous answer returned; absent: start a new session."
    )
    message: Annotated[str, StringConstraints(max_length=MAX_MESSAGE)] = Field(
        description='What the user says, e.g. "more like the second one, but not horror" (1-1000 characters).'
    )
    k: int = Field(10, ge=1, le=100, description="Number of items to return (1-100).")
    history: list[ItemRef] = Field(
        default_factory=list,
        max_length=MAX_LIST,
        description="Item ids or exact titles the user already chose; added to the session's history.",
    )

    _coerce = field_validator("history", mode="before")(_ids_to_str)

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message must contain text")
        return value


class ChatState(BaseModel):
    """The session's state after the turn, readable: what the user asked for so far."""

    summary: str = Field(description='One line, e.g. "like “Heat (1995)”; with crime; without horror".')
    references: list[ItemSummary] = Field(description="Items the user wants more like (ranked as history).")
    include_categories: list[str] = Field(description="Every recommended item carries all of these.")
    exclude_categories: list[str]
    include_brands: list[str] = Field(description="Recommended items have one of these brands (if any).")
    exclude_brands: list[str]
    avoided: list[ItemSummary] = Field(description="Items never to show again in this session.")
    history_length: int = Field(description="Items the client added with `history`.")


class ChatResponse(BaseModel):
    session_id: str
    turn: int = Field(description="1 for a session's first turn.")
    clauses: list[str] = Field(description="The clauses the message was split into (normalised).")
    actions: list[str] = Field(
        description='Schema actions parsed from this message, e.g. "exclude category horror".'
    )
    state: ChatState
    items: list[RecommendedItem] = Field(description="Top-K under the state; fewer when fewer items qualify.")
    fallback: Literal["popular", "model"] | None = None


def chat_error(detail: str, field: str | None = None) -> dict[str, Any]:
    """An `ErrorResponse`-shaped body."""
    return {"detail": detail, "field": field, "unknown": None}
