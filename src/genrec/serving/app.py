"""The HTTP API (FastAPI): recommend, item search, explain, health, metrics and the web page at ``/``.

Bad input never reaches the model: unknown item references or categories are answered 422 naming them,
malformed JSON and out-of-range fields 422 (FastAPI's validation), bodies over the size limit 413. An
empty history is answered with popular items, flagged ``"fallback": "popular"`` in the response.
``/v1/explain`` needs a recommender with an ``explain(history, item) -> str`` method (a language head);
for any other model it answers 501, unless the request asks for ``grounded`` reasons: those need only the
catalogue and a pretrained LM (`genrec.recommenders.grounded_explain`). Every reason comes with the
attributes it names, checked against the catalogue (`genrec.recommenders.explanation_check`).

Users and the live catalogue (`genrec.serving.user_routes`, `genrec.serving.item_routes`) persist in an
`EventStore`; at startup the store's catalogue changes are replayed, so they survive a restart. Writes
need the API key when one is set (`genrec.serving.auth`). Everything that reads or changes the catalogue
outside a request's own lookups (ranking, search, explain, item changes) runs on the model worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from genrec.recommenders.explanation_check import check_explanation
from genrec.recommenders.grounded_explain import GroundedExplainer, GroundedExplainerSlot
from genrec.recommenders.item_attributes import category_kind
from genrec.serving.auth import require_write_key
from genrec.serving.batching import BatchingConfig, MicroBatcher
from genrec.serving.chat_routes import chat_router
from genrec.serving.item_routes import item_router, replay_catalogue
from genrec.serving.metrics import CONTENT_TYPE, ServerMetrics
from genrec.serving.middleware import BodySizeLimit, RequestMetrics
from genrec.serving.rendering import fallback_flag, item_summary, recommended_items
from genrec.serving.schemas import (
    ErrorResponse,
    ExplainMention,
    ExplainRequest,
    ExplainResponse,
    HealthResponse,
    ItemSearchResponse,
    RecommendRequest,
    RecommendResponse,
)
from genrec.serving.service import Query as RankQuery
from genrec.serving.service import RecommendService, UnknownItemsError
from genrec.serving.store import EventStore
from genrec.serving.user_routes import user_router

logger = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).with_name("static")
DEFAULT_MAX_BODY_BYTES = 64 * 1024
ENDPOINTS = frozenset(
    {"/", "/v1/recommend", "/v1/items", "/v1/explain", "/v1/chat", "/v1/events", "/health", "/metrics"}
)
_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "Request body too large."},
    422: {"model": ErrorResponse, "description": "Unknown items/categories or invalid fields."},
}


def create_app(
    service: RecommendService,
    batching: BatchingConfig | None = None,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    store: EventStore | None = None,
    api_key: str | None = None,
    grounded_explainer: GroundedExplainerSlot | None = None,
) -> FastAPI:
    """Build the FastAPI application serving ``service`` (see the module docstring).

    ``store`` keeps events and catalogue changes (None: an in-memory SQLite store, lost on exit);
    ``api_key`` guards the write endpoints (None: writes are open, so bind to loopback only);
    ``grounded_explainer`` writes grounded reasons (None: SmolLM2, loaded on the first such request).
    """
    batching = batching or BatchingConfig()
    metrics = ServerMetrics()
    batcher = MicroBatcher(service, batching, metrics)
    if store is None:
        logger.warning("no event store given: events and item changes are kept in memory only")
        store = EventStore("sqlite://")
    event_store = store
    grounded_slot = grounded_explainer or GroundedExplainerSlot(
        lambda cat: GroundedExplainer.from_path("smollm2", cat, category_kind(service.info.dataset))
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        replayed = await batcher.run_exclusive(replay_catalogue, service, event_store)
        if replayed:
            logger.warning("replayed %d catalogue changes from %s", replayed, event_store.display_url)
        try:
            yield
        finally:
            await batcher.stop()

    app = FastAPI(
        title="genrec",
        version="1",
        summary="Next-item recommendations from a saved genrec run.",
        lifespan=lifespan,
    )
    app.state.service, app.state.metrics, app.state.batcher = service, metrics, batcher
    app.state.store = event_store
    write_access = require_write_key(api_key)
    app.include_router(user_router(service, batcher, event_store, write_access))
    app.include_router(item_router(service, batcher, event_store, write_access))
    app.include_router(chat_router(service, batcher))

    @app.exception_handler(UnknownItemsError)
    async def _unknown(_: Request, exc: UnknownItemsError) -> JSONResponse:
        body = ErrorResponse(detail=str(exc), field=exc.field_name, unknown=exc.unknown)
        return JSONResponse(body.model_dump(), status_code=422)

    @app.post("/v1/recommend", response_model=RecommendResponse, responses=_ERRORS)
    async def recommend(req: RecommendRequest) -> RecommendResponse:
        """Top-K items for a history, with exclusions and category filters applied inside ranking."""
        query = RankQuery(
            history=service.resolve(req.history, "history"),
            k=req.k,
            exclude_history=req.exclude_history,
            exclude_items=service.resolve(req.exclude_items, "exclude_items"),
            include_categories=service.check_categories(req.include_categories),
        )
        ranked = await batcher.submit(query)
        items = recommended_items(service, ranked)
        return RecommendResponse(
            model=service.model_name, k=req.k, items=items, fallback=fallback_flag(ranked)
        )

    @app.get("/v1/items", response_model=ItemSearchResponse)
    async def items(
        q: Annotated[str, Query(min_length=1, max_length=200, description="Title substring or item id.")],
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> ItemSearchResponse:
        """Search items by title (case-insensitive substring; prefix matches first) or exact id."""
        found = await batcher.run_exclusive(service.search, q, limit)  # never beside a catalogue change
        return ItemSearchResponse(query=q, items=[item_summary(service, i) for i in found])

    @app.post(
        "/v1/explain",
        response_model=ExplainResponse,
        responses={**_ERRORS, 501: {"model": ErrorResponse, "description": "Model has no language head."}},
    )
    async def explain(req: ExplainRequest) -> Any:
        """A short generated reason why ``item`` suits ``history``, with the attributes it names.

        ``grounded``: any model; otherwise models with a language head only (501 for the others).
        """
        explain_fn = getattr(service.recommender, "explain", None)
        can_talk = callable(explain_fn) and getattr(service.recommender, "has_language_head", True)
        if not req.grounded and not can_talk:
            detail = f"model {service.model_name!r} has no language head, so it cannot generate explanations"
            return JSONResponse(ErrorResponse(detail=detail).model_dump(), status_code=501)
        history: Sequence[int] = service.resolve(req.history, "history")
        (item,) = service.resolve([req.item], "item")

        def reason_and_check() -> tuple[str, list[ExplainMention], bool]:
            if req.grounded:
                result = grounded_slot.get(service.catalogue).explain(list(history), item)
                reason = result.text
                mentions = [ExplainMention(**m.to_dict(), holds=True) for m in result.mentions]
            else:
                assert callable(explain_fn)
                reason = str(explain_fn(list(history), item))
            check = check_explanation(reason, history, item, service.catalogue)
            if not req.grounded:
                mentions = [
                    ExplainMention(
                        attribute=a["attribute"], value=a["value"], items=a["items"], holds=a["true"]
                    )
                    for a in check["attributes"]
                ]
            return reason, mentions, bool(check["names_unknown_item"])

        # the model worker thread: never beside a batch, and the explainer loads once (see MicroBatcher)
        reason, mentions, unknown = await batcher.run_exclusive(reason_and_check)
        return ExplainResponse(
            item=item_summary(service, item),
            reason=reason,
            generated=True,
            grounded=req.grounded,
            mentions=mentions,
            names_unknown_item=unknown,
        )

    @app.get("/health", response_model=HealthResponse)
    async def health() -> HealthResponse:
        return HealthResponse(
            status="ok", model=service.model_name, items=len(service.catalogue), batching=batching.enabled
        )

    @app.get("/metrics", response_class=Response)
    async def prometheus() -> Response:
        """Prometheus text format: request counts, latency histogram, batch-size histogram."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics, endpoints=ENDPOINTS)
    return app
