"""asyncio twins of the patterns: the same API, awaited, for FastAPI, Starlette or aiohttp handlers.

A synchronous client inside an ``async def`` handler blocks the event loop on every Redis call:
every other request waits. These twins use ``redis.asyncio`` (and fakeredis's async client on
the same embedded server as ``patterns.connect()``, so a notebook that mixes both sees one
keyspace). Everything but the I/O is the synchronous modules' own: the Lua scripts, the keys,
the validation and the decisions.

Covered so far: ``connect``, the scripts, caching (``Cache`` with ``cached()`` for ``async def``
functions, ``get_or_set``, ``invalidate``), leaderboards (``Leaderboard``, ``update_score``,
``get_top_users``), sessions (``SessionStore``, ``set_session``, ``get_session``), streams
and pub/sub (``EventStream``, ``publish_event``, ``Subscriber``),
rate limiting (every limiter, with ``hit`` and ``hit_many``, and ``check_rate_limit``) and locking (``Lock`` with ``async with``,
``with_lock``, ``Redlock``).
"""
from .cache import Cache, get_or_set, invalidate
from .connection import connect
from .leaderboard import Board, Leaderboard, get_top_users, update_score
from .lock import Lock, Redlock, with_lock
from .pubsub import EventStream, Subscriber, publish_event
from .session import SessionStore, get_session, set_session
from .ratelimit import GCRA, FixedWindow, SlidingLog, SlidingWindowCounter, TokenBucket, check_rate_limit

__all__ = ["connect", "Cache", "get_or_set", "invalidate", "SessionStore", "set_session", "get_session",
           "Leaderboard", "Board", "update_score", "get_top_users", "EventStream", "Subscriber", "publish_event", "Lock", "Redlock", "with_lock", "check_rate_limit",
           "SlidingLog", "FixedWindow", "SlidingWindowCounter", "TokenBucket", "GCRA"]
