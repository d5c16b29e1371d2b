"""HTTP routes of the live catalogue: add or update an item (PUT), hide one (DELETE), replay at startup.

Each change is written to the store's catalogue log and applied to the service in one step on the
model worker thread (`MicroBatcher.run_exclusive`), so no ranking ever sees a half-applied change and the
log's order is the order changes were applied in. A change the service rejects is removed from the log
again, so a restart (which replays the log, `replay_catalogue`) rebuilds exactly the catalogue that was
served.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Response

from genrec.errors import DataError
from genrec.serving.batching import MicroBatcher
from genrec.serving.live_catalogue import MAX_ID_CHARS
from genrec.serving.rendering import item_summary
from genrec.serving.schemas import ErrorResponse, ItemChangeResponse, ItemUpsertRequest
from genrec.serving.service import RecommendService, UnknownItemsError
from genrec.serving.store import EventStore

logger = logging.getLogger(__name__)

ItemPath = Annotated[str, Path(min_length=1, max_length=MAX_ID_CHARS, description="The item's id.")]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong API key."},
    404: {"model": ErrorResponse, "description": "No such item (DELETE)."},
    422: {"model": ErrorResponse, "description": "Invalid id or fields (a title is required)."},
}


def item_router(
    service: RecommendService,
    batcher: MicroBatcher,
    store: EventStore,
    write_access: Callable[..., Awaitable[None]],
) -> APIRouter:
    """The routes of this module, bound to one service, batcher and store."""
    router = APIRouter(dependencies=[Depends(write_access)], responses=_ERRORS)

    @router.put("/v1/items/{item_id}", response_model=ItemChangeResponse, status_code=200)
    async def put_item(item_id: ItemPath, body: ItemUpsertRequest, response: Response) -> ItemChangeResponse:
        """Add an item (201) or replace its text and un-hide it (200); servable from the next request."""
        fields = body.text_fields()

        def change() -> tuple[int, bool]:
            created = item_id not in service.catalogue
            seq = store.record_upsert(item_id, fields)
            try:
                return service.upsert_item(item_id, fields), created
            except BaseException as exc:
                store.discard_change(seq)
                if isinstance(exc, DataError):  # e.g. an id with surrounding whitespace
                    raise HTTPException(422, detail=str(exc)) from exc
                raise

        index, created = await batcher.run_exclusive(change)
        response.status_code = 201 if created else 200
        return ItemChangeResponse(item=item_summary(service, index), created=created, hidden=False)

    @router.delete("/v1/items/{item_id}", response_model=ItemChangeResponse)
    async def delete_item(item_id: ItemPath) -> ItemChangeResponse:
        """Hide an item: it is never recommended again until a PUT brings it back."""

        def change() -> int:
            if item_id not in service.catalogue:
                raise HTTPException(404, detail=f"unknown item {item_id!r}")
            seq = store.record_deletion(item_id)
            try:
                service.hide_item(item_id)
            except BaseException:
                store.discard_change(seq)
                raise
            return service.catalogue.index_of(item_id)

        index = await batcher.run_exclusive(change)
        return ItemChangeResponse(item=item_summary(service, index), created=False, hidden=True)

    return router


def replay_catalogue(service: RecommendService, store: EventStore) -> int:
    """Apply the store's catalogue log in order (at startup, on the model worker); returns its length."""
    changes = store.catalogue_changes()
    for change in changes:
        if change.action == "upsert":
            service.upsert_item(change.item_id, change.fields)
            continue
        try:
            service.hide_item(change.item_id)
        except UnknownItemsError:
            message = "event store %s: change %d deletes item %r, which this run does not have; skipped"
            logger.warning(message, store.display_url, change.seq, change.item_id)
    return len(changes)
