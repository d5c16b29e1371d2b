"""HTTP routes of users: posting events, reading a user's history and recommending from it.

Events name items by id or exact title and are stored under the item's id; any unknown item fails the
whole request with 422 naming them (nothing is stored). A user's recommendations rank the stored history
through the same micro-batcher as ``/v1/recommend``; a user with no stored events gets the empty-history
answer (popular items), flagged ``known_user: false``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from starlette.concurrency import run_in_threadpool

from genrec.serving.batching import MicroBatcher
from genrec.serving.rendering import fallback_flag, item_summary, recommended_items
from genrec.serving.schemas import (
    MAX_LIST,
    ErrorResponse,
    EventBatch,
    EventsRequest,
    EventsResponse,
    HistoryResponse,
    StoredEvent,
    UserRecommendResponse,
)
from genrec.serving.service import Query as RankQuery
from genrec.serving.service import RecommendService
from genrec.serving.store import Event, EventStore

UserPath = Annotated[str, Path(min_length=1, max_length=200, description="The user's id.")]
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong API key."},
    413: {"model": ErrorResponse, "description": "Request body too large."},
    422: {"model": ErrorResponse, "description": "Unknown items or invalid fields."},
}


def user_router(
    service: RecommendService,
    batcher: MicroBatcher,
    store: EventStore,
    write_access: Callable[..., Awaitable[None]],
) -> APIRouter:
    """The routes of this module, bound to one service, batcher and store."""
    router = APIRouter()

    @router.post(
        "/v1/events",
        response_model=EventsResponse,
        responses=_WRITE_ERRORS,
        dependencies=[Depends(write_access)],
    )
    async def post_events(body: EventsRequest) -> EventsResponse:
        """Store one event or ``{"events": [...]}`` (idempotent by ``event_id``)."""
        incoming = body.events if isinstance(body, EventBatch) else [body]
        indices = service.resolve([e.item for e in incoming], "item")
        now = time.time()
        batch = [
            Event(e.event_id, e.user, service.catalogue.id_of(i), e.type, e.epoch_seconds(now))
            for e, i in zip(incoming, indices, strict=True)
        ]
        result = await run_in_threadpool(store.add_events, batch)
        return EventsResponse(received=len(batch), new=result.new, duplicates=result.duplicates)

    @router.get("/v1/users/{user}/history", response_model=HistoryResponse)
    async def history(
        user: UserPath, limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 100
    ) -> HistoryResponse:
        """The user's latest ``limit`` events, oldest first."""
        stored = await run_in_threadpool(store.history, user, limit)
        indices = _stored_indices(service, user, stored)
        events = [
            StoredEvent(
                event_id=e.event_id,
                item=item_summary(service, i),
                type=e.type,
                timestamp=datetime.fromtimestamp(e.timestamp, UTC),
            )
            for e, i in zip(stored, indices, strict=True)
        ]
        return HistoryResponse(user=user, events=events)

    @router.get(
        "/v1/users/{user}/recommendations",
        response_model=UserRecommendResponse,
        responses={409: {"model": ErrorResponse, "description": "Stored items not in this catalogue."}},
    )
    async def user_recommendations(
        user: UserPath,
        k: Annotated[int, Query(ge=1, le=100)] = 10,
        exclude_history: bool = True,
    ) -> UserRecommendResponse:
        """Top-K items for the user's stored history (their latest 1000 events)."""
        stored = await run_in_threadpool(store.history, user, MAX_LIST)
        history = _stored_indices(service, user, stored)
        ranked = await batcher.submit(RankQuery(history=history, k=k, exclude_history=exclude_history))
        return UserRecommendResponse(
            model=service.model_name,
            k=k,
            items=recommended_items(service, ranked),
            fallback=fallback_flag(ranked),
            user=user,
            known_user=bool(stored),
            history_length=len(history),
        )

    return router


def _stored_indices(service: RecommendService, user: str, stored: list[Event]) -> tuple[int, ...]:
    """Catalogue indices of stored events; a 409 if the store names items this run does not have."""
    missing = sorted({e.item for e in stored if e.item not in service.catalogue})
    if missing:
        shown = ", ".join(repr(m) for m in missing[:20])
        raise HTTPException(
            409, detail=f"stored history of user {user!r} names items not in this run's catalogue: {shown}"
        )
    return tuple(service.catalogue.index_of(e.item) for e in stored)
