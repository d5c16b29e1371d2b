"""``POST /v1/chat``: conversational refinement over the existing rules path.

A turn reads the session (`genrec.serving.chat_sessions`; a request without ``session_id`` starts one),
parses the message into schema actions with the LM (`genrec.recommenders.conversation_parser`, on the
model worker thread via `MicroBatcher.run_exclusive`, like ``/v1/explain``), applies them to a copy of
the state, and ranks through the micro-batcher exactly as ``/v1/recommend`` would: history = the
session's history + its reference items, ``exclude_items`` = every item the state rules out (missing an
included category or brand, carrying an excluded one, avoided). Only when all of that succeeded is the
new state committed, so a rejected turn (422 for bad fields or unknown history items, 404 for an unknown
or expired session) leaves the session exactly as it was.

The parser is SmolLM2-135M-Instruct, loaded on the first chat turn; a deployment or a test may put its
own `ParserSlot` in ``app.state.chat_parser`` (and a `ChatSessions` in ``app.state.chat_sessions``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from genrec.errors import GenrecError
from genrec.recommenders.conversation_parser import ConversationParser, ParseResult, ParserSlot
from genrec.recommenders.conversation_state import ConversationState
from genrec.serving.batching import MicroBatcher
from genrec.serving.chat_schemas import ChatRequest, ChatResponse, ChatState, chat_error
from genrec.serving.chat_sessions import ChatSessions
from genrec.serving.rendering import fallback_flag, item_summary, recommended_items
from genrec.serving.schemas import ErrorResponse
from genrec.serving.service import Query as RankQuery
from genrec.serving.service import RecommendService

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Unknown or expired session_id."},
    413: {"model": ErrorResponse, "description": "Request body too large."},
    422: {"model": ErrorResponse, "description": "Invalid fields or unknown history items."},
    503: {"model": ErrorResponse, "description": "The parser's language model could not be loaded."},
}
DEFAULT_PARSER_LM = "smollm2"


def readable_state(service: RecommendService, state: ConversationState, history_length: int) -> ChatState:
    return ChatState(
        summary=state.describe(service.catalogue),
        references=[item_summary(service, i) for i in state.references],
        include_categories=list(state.include_categories),
        exclude_categories=list(state.exclude_categories),
        include_brands=list(state.include_brands),
        exclude_brands=list(state.exclude_brands),
        avoided=[item_summary(service, i) for i in state.avoided],
        history_length=history_length,
    )


def chat_router(service: RecommendService, batcher: MicroBatcher) -> APIRouter:
    """The ``/v1/chat`` route bound to one service and batcher (see the module docstring)."""
    router = APIRouter()
    default_parser = ParserSlot(lambda facets: ConversationParser.from_path(DEFAULT_PARSER_LM, facets))
    default_sessions = ChatSessions()

    @router.post("/v1/chat", response_model=ChatResponse, responses=_ERRORS)
    async def chat(req: ChatRequest, request: Request) -> Any:
        """One conversational turn: the message refines the session's state; the top-K follows it."""
        slot: ParserSlot | None = getattr(request.app.state, "chat_parser", None)
        slot = default_parser if slot is None else slot
        sessions: ChatSessions | None = getattr(request.app.state, "chat_sessions", None)
        sessions = default_sessions if sessions is None else sessions  # (an empty store is falsy)
        if req.session_id is None:
            session = sessions.new()
        else:
            found = sessions.get(req.session_id)
            if found is None:
                detail = f"session_id: unknown or expired session {req.session_id!r}; omit it to start one"
                return JSONResponse(chat_error(detail, "session_id"), status_code=404)
            session = found
        added = service.resolve(req.history, "history")  # 422 naming unknown items, state untouched
        async with session.lock:
            state = session.state

            def parse() -> tuple[ParseResult, ConversationState, tuple[int, ...]]:
                parser = slot.get(service.catalogue)
                parsed = parser.parse(req.message, state)
                new_state = state.apply(parsed.actions)
                return parsed, new_state, parser.facets.banned(new_state)

            try:
                parsed, new_state, banned = await batcher.run_exclusive(parse)
            except (GenrecError, OSError) as exc:
                detail = f"the chat parser's language model is unavailable: {exc}"
                return JSONResponse(chat_error(detail), status_code=503)
            history = (*session.history, *added)
            ranked = await batcher.submit(
                RankQuery(
                    history=(*history, *new_state.references),
                    k=req.k,
                    exclude_items=tuple(i for i in banned if i not in new_state.references),
                )
            )
            final = new_state.next_turn(ranked.items)
            sessions.commit(session, final, history)
        catalogue = service.catalogue
        return ChatResponse(
            session_id=session.session_id,
            turn=final.turn,
            clauses=list(parsed.clauses),
            actions=[a.text(catalogue) for a in parsed.actions],
            state=readable_state(service, final, len(history)),
            items=recommended_items(service, ranked),
            fallback=fallback_flag(ranked),
        )

    return router
