"""Chat sessions in memory: bounded in number, forgotten after a time-to-live without use.

A session holds a `ConversationState` and the history items the client added; `/v1/chat`
(`genrec.serving.chat_routes`) reads one, computes the next state and writes it back with `commit` only
when the whole turn succeeded, so a rejected turn leaves the session as it was. Sessions are not
persisted: a restart forgets them, and so does eviction: past ``max_sessions`` the least recently used
session is dropped, and a session unused for ``ttl_s`` seconds expires. Each session has an
`asyncio.Lock`, so two turns of one session run one after the other, never interleaved.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from genrec.recommenders.conversation_state import ConversationState

DEFAULT_MAX_SESSIONS = 10_000
DEFAULT_TTL_S = 1800.0


@dataclass
class Session:
    """One conversation: its state, the client's history items (catalogue indices) and a turn lock."""

    session_id: str
    state: ConversationState = field(default_factory=ConversationState)
    history: tuple[int, ...] = ()
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class ChatSessions:
    """Sessions by id, least recently used first (see the module docstring)."""

    def __init__(
        self,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_sessions < 1 or ttl_s <= 0:
            raise ValueError(f"max_sessions must be >= 1 and ttl_s > 0, got {max_sessions}, {ttl_s}")
        self.max_sessions, self.ttl_s, self._clock = max_sessions, ttl_s, clock
        self._sessions: OrderedDict[str, tuple[Session, float]] = OrderedDict()

    def __len__(self) -> int:
        self._expire()
        return len(self._sessions)

    def _expire(self) -> None:
        now = self._clock()
        while self._sessions:
            oldest, (_, used) = next(iter(self._sessions.items()))
            if now - used <= self.ttl_s:
                break
            del self._sessions[oldest]

    def new(self) -> Session:
        """A fresh session with an unguessable id; stored only by `commit`."""
        return Session(secrets.token_hex(16))

    def get(self, session_id: str) -> Session | None:
        """The session, or None when unknown or expired."""
        self._expire()
        found = self._sessions.get(session_id)
        return None if found is None else found[0]

    def commit(self, session: Session, state: ConversationState, history: tuple[int, ...]) -> None:
        """Store the session's new state and history (a new session is added), marking it used now."""
        session.state, session.history = state, history
        self._sessions.pop(session.session_id, None)
        self._sessions[session.session_id] = (session, self._clock())
        self._expire()
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
