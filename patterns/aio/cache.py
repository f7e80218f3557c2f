"""Caching for asyncio: patterns.cache's Cache, get_or_set and invalidate, awaited.

Every decision is the synchronous cache's (``patterns.cache.CacheBase._steps``): the same
scripts, keys, fill tokens, XFetch draws, stale serving, negative caching, breaker and stats.
Only the running of each step differs: a script call, the fetcher and a pause are awaited
here, so a handler waiting on Redis or on another caller's fill lets the loop serve others.

The fetcher may be an ``async def`` (awaited) or a plain function, which runs on the event loop:
keep a plain one quick, or make it async (``asyncio.to_thread`` for a blocking driver). A task
cancelled while it holds a fill token, or may have been granted one (the claim's reply unread),
gives it back on the way out, in the background, so a second cancel cannot stop the give-back
and the caller is not held up by it: the next caller fills at once instead of waiting
``wait_timeout``. Only a give-back that cannot reach Redis leaves the token, until
``fill_timeout``, as a crashed filler would.
"""
from __future__ import annotations

import asyncio
import functools
import inspect
from typing import Any, Awaitable, Callable, TypeVar

from ..cache import CacheBase, _cached_options, _seconds, _seed_cache
from ..connection import check_kind
from ..steps import operations
from .steps import awaited, run

T = TypeVar("T")


@operations(awaited)
class Cache(CacheBase):
    """A cache-aside cache for asyncio clients, with every option of patterns.cache.Cache.

    ``sleep`` (injectable for tests) is awaited: by default ``asyncio.sleep``.
    """

    default_sleep = staticmethod(asyncio.sleep)
    awaits_fetchers = True

    async def get_or_set(self, key: str, fetcher: Callable[[], T | Awaitable[T]], ttl: float | None = None) -> T:
        """Return the cached value of ``key``, computing it with ``await fetcher()`` (or ``fetcher()``) when needed."""
        steps = self._get_or_set_steps(key, fetcher, None if ttl is None else _seconds(ttl, "ttl"))
        return await run(self.r, steps, fetcher=fetcher, sleep=self.sleep)

    def cached(self, ttl: float | None = None, *, name: str | None = None,
               ignore: tuple[str, ...] = ()) -> Callable[[Callable[..., Awaitable[T]]], Callable[..., Awaitable[T]]]:
        """Decorator for an ``async def``: patterns.cache.Cache.cached, awaited (``await f.invalidate(...)`` too)."""
        ttl, key_function = _cached_options(ttl, name, ignore)

        def decorate(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
            if not inspect.iscoroutinefunction(fn):
                raise TypeError(f"{getattr(fn, '__qualname__', fn)!r} is not an async def: decorate it with "
                                "patterns.cache.Cache(...).cached(), or make it async")
            key_of = key_function(fn)

            @functools.wraps(fn)
            async def wrapper(*args: Any, **kwargs: Any) -> T:
                return await self.get_or_set(key_of(args, kwargs), lambda: fn(*args, **kwargs), ttl)

            wrapper.invalidate = lambda *args, **kwargs: self.invalidate(key_of(args, kwargs))  # type: ignore[attr-defined]
            return wrapper

        return decorate

    def _check_client(self, r: Any) -> None:
        check_kind(r, asyncio=True, twin="patterns.cache.Cache")


async def get_or_set(r: Any, key: str, fetcher: Callable[[], T | Awaitable[T]], ttl_seconds: float = 3600) -> T:
    """The seed's getOrSet for asyncio: patterns.cache.get_or_set, awaited (see there)."""
    cache = _seed_cache(r, Cache)
    steps = cache._get_or_set_steps(key, fetcher, _seconds(ttl_seconds, "ttl_seconds"))
    return await run(cache.r, steps, fetcher=fetcher, sleep=cache.sleep)


async def invalidate(r: Any, key: str) -> bool:
    """Delete an entry written by ``get_or_set``; True if there was one."""
    return await _seed_cache(r, Cache).invalidate(key)
