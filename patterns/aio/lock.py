"""Distributed locking for asyncio: patterns.lock's Lock and with_lock, awaited and safe to cancel.

``async with Lock(r, "report"):`` and ``await with_lock(r, "report", fn)`` decide everything as
the synchronous ones do (the same scripts, tokens, fencing, backoff, errors and messages, from
``patterns.lock.Lock``). What asyncio adds is cancellation: a task can be cancelled at any
await, for example when the HTTP client of a request goes away.

* A cancelled release is not abandoned half-way: the release goes on to completion in the
  background, so the lock is not left held for its whole lease (redis-py #3847).
* A cancelled acquire whose grant arrives after the cancel gives that grant back, in the
  background: nobody holds a lock that no code knows it has.

What no client can do: a grant whose reply never arrives (the connection died, or the event
loop stopped before the background release ran) is held until its lease ends; it is logged,
with the lock's name. A web app awaits ``drain()`` in its shutdown so that does not happen.
One Lock object is one holder: make one per ``async with``, not one shared by every request.

``Redlock`` is patterns.lock's, asking its servers all at once instead of in turn (the same
majority, validity, drift and retries, from ``patterns.lock.RedlockBase``). A cancelled acquire
undoes whatever it may have been granted, and a cancelled release goes on, in the background.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Any, Awaitable, Callable, TypeVar

from .. import lock as sync
from .. import validate
from ..connection import UNAVAILABLE_ERRORS, check_kind
from ..errors import LockLost, LockNotAcquired
from .connection import async_timeout, bounded
from .scripts import run
from .steps import drain, in_background  # noqa: F401  (drain: patterns.aio.lock.drain(), as documented)

log = logging.getLogger(__name__)
T = TypeVar("T")


def _finish_in_background(call: asyncio.Future[Any], lock: "Lock") -> None:
    in_background(call, f"lock {lock.name!r}: its release")
    call.add_done_callback(lambda done: _report(done, lock, "its release"))


def _report(call: asyncio.Future[Any], lock: "Lock", what: str) -> bool:
    """Log a call that finished in the background without an answer; True when it has one."""
    if call.cancelled():  # the event loop is shutting down: asyncio.run cancels whatever is left
        log.warning("lock %r: %s was cancelled as the event loop stopped; if it is held, its lease ends within "
                    "%g s (await patterns.aio.lock.drain() before the loop stops)", lock.name, what, lock.ttl)
        return False
    if call.exception() is not None:
        log.warning("lock %r: %s failed (%s); if it is held, its lease ends within %g s",
                    lock.name, what, call.exception(), lock.ttl)
        return False
    return True


class Lock(sync.LockBase):
    """patterns.lock.Lock's twin: ``await acquire()``, ``await release()``, ``await extend()``, ``async with``.

    Made from ``patterns.lock.LockBase``, not from the synchronous Lock: code written for that
    one would call ``acquire()``, get a coroutine (which is true) and think it held the lock.
    """

    async def acquire(self, timeout: float | None = None) -> bool:
        """Take the lock, waiting up to ``timeout`` seconds; True when held.

        One Lock object is one holder: a task that finds it already holding or taking its lock
        gets a RuntimeError (a Lock shared by tasks, as an asyncio.Lock is, would let a second
        task take over the first one's token, and release the lock under it).
        """
        if self.token is not None or self._acquiring:
            raise RuntimeError(f"this Lock already holds or is taking {self.name!r}: make one Lock per "
                               "`async with` (a Lock object is one holder, not a shared mutex)")
        self._acquiring = True
        try:
            return await self._acquire(timeout)
        finally:
            self._acquiring = False

    _acquiring = False

    async def _acquire(self, timeout: float | None) -> bool:
        token, pauses = self._start(timeout)
        for pause in pauses:
            if pause:
                await asyncio.sleep(pause)
            self.attempts += 1
            try:
                fence = await run(sync._ACQUIRE, self.r, *self._acquire_call(token))
            except asyncio.CancelledError:
                self._give_back(token)  # it may have been granted, its reply unread: nobody would know it holds it
                raise
            except UNAVAILABLE_ERRORS as error:
                raise self._unavailable(error) from None
            if self._granted(token, fence):
                return True
        return False

    def _give_back(self, token: str) -> None:
        """Release ``token`` in the background, out of a cancel's reach.

        Sent whether or not the cancelled call ran: deleting the lock only if it holds this
        token, it changes nothing when there is nothing of ours to give back. Awaiting the
        calls directly (not shielded in tasks of their own) keeps the common path at one
        round trip and no extra task; redis-py closes a connection whose read was cancelled.
        """
        _finish_in_background(asyncio.ensure_future(run(sync._RELEASE, self.r, [self.key], [token])), self)

    async def release(self) -> None:
        """Give the lock back. Raises LockLost if the lease had already run out."""
        token = self._giving_back()
        try:
            released = await run(sync._RELEASE, self.r, [self.key], [token])
        except asyncio.CancelledError:
            self._give_back(token)  # the release goes on: a cancel must not leave the lock held
            raise
        if not released:
            raise self._expired()

    async def extend(self, ttl: float | None = None) -> None:
        """Renew the lease to ``ttl`` seconds from now (default: the original ttl); only while held."""
        ttl_ms = self._extension(ttl)
        if not await run(sync._EXTEND, self.r, [self.key], [self.token, ttl_ms]):
            raise self._not_extended()

    async def locked(self) -> bool:
        """Does anyone hold the lock right now?"""
        return bool(await self.r.exists(self.key))

    async def owned(self) -> bool:
        """Does this Lock hold it right now (its lease has not run out)?"""
        held = await self.r.get(self.key)
        if isinstance(held, bytes):
            held = held.decode()
        return self.token is not None and held == self.token

    def __enter__(self) -> Any:
        raise TypeError("patterns.aio.Lock is used with `async with`, not `with`")

    def __exit__(self, *exc: Any) -> None:  # never reached: __enter__ refuses
        pass

    def _check_client(self, r: Any) -> None:
        check_kind(r, asyncio=True, twin="patterns.lock.Lock")

    async def __aenter__(self) -> "Lock":
        if not await self.acquire():
            raise LockNotAcquired(f"lock {self.name!r} is held by someone else (waited {self.timeout:g} s)")
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        await self._release_after_async(failed=exc_type is not None)

    async def _release_after_async(self, *, failed: bool) -> None:
        try:
            await self.release()
        except (LockLost, *UNAVAILABLE_ERRORS) as error:
            self._release_problem(error, failed=failed)

    def __repr__(self) -> str:
        return f"aio.Lock({self.name!r}, ttl={self.ttl:g})"


async def with_lock(r: Any, key: str, fn: Callable[[], Awaitable[T]], ttl_ms: int = 10_000) -> T:
    """The seed's withLock for asyncio: ``await fn()`` holding lock ``key``; returns its result.

    Raises LockNotAcquired at once when the lock is taken, and LockLost after ``fn`` if the
    lease ran out while it ran. ``fn`` is an ``async def`` function (or returns an awaitable).
    """
    lock = Lock(r, key, ttl=validate.milliseconds(ttl_ms, "ttl_ms") / 1000, timeout=0)
    validate.function(fn, "fn", "nothing")
    if not await lock.acquire():
        raise sync.not_acquired(key)
    try:
        awaitable = fn()
        if not inspect.isawaitable(awaitable):
            raise TypeError(f"fn returned {type(awaitable).__name__}, not an awaitable: give with_lock an async def "
                            "function (for a plain one, use patterns.lock.with_lock)")
        result = await awaitable
    except BaseException:
        await lock._release_after_async(failed=True)
        raise
    await lock._release_after_async(failed=False)
    return result


class Redlock(sync.RedlockBase):
    """patterns.lock.Redlock's twin: ``await acquire()``, ``await release()``, ``async with``.

    Each server is asked with ``node_timeout`` as its bound, all of them at once: acquiring
    takes the slowest server's time, not the sum of all of theirs, so more of the lease is left.
    """

    def _check_client(self, r: Any) -> None:
        check_kind(r, asyncio=True, twin="patterns.lock.Redlock")

    def _quick_clients(self, servers: Any) -> list[Any]:
        return list(servers)  # each call is bounded by node_timeout here, not by a client of its own

    async def acquire(self) -> bool:
        for attempt, token in self._attempts():
            started = time.monotonic()
            asking = asyncio.ensure_future(asyncio.gather(*(self._try(r, key, token)
                                                            for r, key in zip(self.servers, self.keys))))
            try:
                granted = sum(await asyncio.shield(asking))
            except asyncio.CancelledError:  # whatever it may be granted is given back, out of the cancel's reach
                in_background(asyncio.ensure_future(self._undo_after(asking, token)), f"Redlock {self.name!r}: its undo")
                raise
            if self._held(token, granted, started):
                return True
            await self._release_everywhere(token)  # undo the partial hold before trying again
            if pause := self._pause(attempt):
                await asyncio.sleep(pause)
        return False

    async def _try(self, r: Any, key: str, token: str) -> bool:
        try:
            async with async_timeout(self.node_timeout):
                return bool(await bounded(r, lambda: r.execute_command(*self._set(key, token))))
        except (asyncio.TimeoutError, *UNAVAILABLE_ERRORS):
            return False  # a server that is down, or slower than node_timeout, is simply a "no"

    async def _release_everywhere(self, token: str) -> None:
        undo = asyncio.ensure_future(asyncio.gather(*(self._release_one(r, key, token)
                                                      for r, key in zip(self.servers, self.keys))))
        try:
            await asyncio.shield(undo)
        except asyncio.CancelledError:
            in_background(undo, f"Redlock {self.name!r}: its release")
            raise

    async def _undo_after(self, asking: asyncio.Future[Any], token: str) -> None:
        """Once the servers of a cancelled acquire have answered, give back what any of them granted."""
        await asyncio.gather(asking, return_exceptions=True)
        await self._release_everywhere(token)

    async def _release_one(self, r: Any, key: str, token: str) -> None:
        try:
            async with async_timeout(max(self.node_timeout, 1.0)):  # a release may take longer: nothing waits on it
                await run(sync._RELEASE, r, [key], [token])
        except (asyncio.TimeoutError, *UNAVAILABLE_ERRORS):
            pass  # the lease there expires by itself

    async def release(self) -> None:
        token, self.token = self.token, None
        if token:
            await self._release_everywhere(token)

    async def __aenter__(self) -> "Redlock":
        if not await self.acquire():
            raise self._not_acquired()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.release()

    def __enter__(self) -> Any:
        raise TypeError("patterns.aio.Redlock is used with `async with`, not `with`")

    def __exit__(self, *exc: Any) -> None:  # never reached: __enter__ refuses
        pass
