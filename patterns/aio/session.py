"""Sessions for asyncio: patterns.session's SessionStore, set_session and get_session, awaited.

Every operation is the synchronous store's own generator of steps (the same scripts, keys,
ids, checks, ordering across cluster slots and server-clock deadlines); each round trip is
awaited here, so a login or a "log out everywhere" lets the event loop serve other requests
meanwhile. A task cancelled part way stops between two steps, each of which is ordered to
fail safe as a crash there would (see each method of patterns.session.SessionStoreBase): a
rotation cancelled once it has taken the old session logs the user out, so do not put a tight
``asyncio.timeout`` around ``rotate()`` (a slow Redis would then log people out at random).
"""
from __future__ import annotations

from typing import Any

from ..connection import check_kind
from ..session import SessionStoreBase, _get_session, _set_session
from ..steps import operations
from .steps import awaited, run


@operations(awaited)
class SessionStore(SessionStoreBase):
    """Sessions for a web app on an asyncio client (see patterns.session.SessionStoreBase for the options)."""

    def _check_client(self, r: Any) -> None:
        check_kind(r, asyncio=True, twin="patterns.session.SessionStore")


async def set_session(r: Any, session_id: str, data: dict, ttl: float = 86400) -> None:
    """The seed's setSession for asyncio: the data and its TTL are written in one step."""
    await run(r, _set_session(r, session_id, data, ttl))


async def get_session(r: Any, session_id: str) -> dict | None:
    """The seed's getSession for asyncio: the data with its JSON types, or None (unknown or malformed id)."""
    return await run(r, _get_session(r, session_id))
