"""Streams and publishing for asyncio: patterns.pubsub's EventStream and publish_event, awaited.

Every operation is the synchronous stream's own generator of steps (the same scripts, keys,
consumer group, at-least-once delivery, trimming and lost-entry accounting); each round trip
is awaited here. A constructor cannot await, so make it with ``await``, which makes its
consumer group then, as the synchronous constructor does::

    stream = await aio.EventStream(r, "orders", group="billing")

Made without ``await``, the group is made at the object's first operation instead: until then
the stream does not know the group, and a stream that expires meanwhile comes back without it
(so what the group missed is not counted).

A ``read(consumer, block=...)`` waits on the event loop, in blocks shorter than the client's
socket timeout, so other tasks run meanwhile. Two things to know before serving a live feed
(one blocked read per browser) from it:

* **A blocked read holds one of the client's 100 pooled connections for its whole wait.** With
  100 reads blocked, every other command of that client waits for a free connection, then
  fails after 5 s: a rate limiter on the same client fails open. Keep far fewer blocked readers
  than 100: one reader task that hands the events out to the requests, for example.
* **A read cancelled while it waits (the browser went away) may have been handed an entry it
  never returned.** The entry is pending for that consumer: a consumer starts with
  ``pending_for(consumer)`` (or another one ``claim()``s it), as after a crash, or it is not
  seen again.

``Subscriber`` is pub/sub's: fire and forget, what is published while it is away is gone (use
``EventStream`` for events an app must not lose). Give it a handler and it runs a task that
calls it (``await sub.start()``, ``await sub.stop()``, or ``async with``); give it none and
iterate over it::

    async with aio.Subscriber(r, ["prices"]) as prices:
        async for channel, event in prices:
            ...

Like a blocked stream read, a subscriber holds one of the client's pooled connections for as
long as it is subscribed.
"""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from typing import Any, AsyncIterator, Generator

import redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from .. import validate
from ..connection import UNAVAILABLE_ERRORS, check_kind
from ..errors import PatternError
from ..pubsub import CONFIRM_WITHIN, POLL, EventStreamBase, SubscriberBase, _publish_event
from ..steps import operations
from .connection import async_timeout, check_loop, is_cluster
from .steps import awaited, in_background, run

log = logging.getLogger("patterns.pubsub")  # the synchronous Subscriber's logger: one place to watch both


@operations(awaited)
class EventStream(EventStreamBase):
    """A durable event log on a Redis Stream for asyncio clients (see patterns.pubsub.EventStreamBase)."""

    def __await__(self) -> Generator[Any, None, "EventStream"]:
        """``await aio.EventStream(...)``: its consumer group made now; the stream itself."""
        return self._ready().__await__()

    async def _ready(self) -> "EventStream":
        await run(self.r, self._first())
        return self

    def _check_client(self, r: Any) -> None:
        check_kind(r, asyncio=True, twin="patterns.pubsub.EventStream")


async def publish_event(r: Any, channel: str, event: Any, *, sharded: bool = False) -> int:
    """Publish ``event`` as JSON on ``channel`` (SPUBLISH with ``sharded=True``); returns how many received it."""
    return await run(r, _publish_event(r, channel, event, sharded))


class Subscriber(SubscriberBase):
    """patterns.pubsub.Subscriber's twin: a task calling ``handler(channel, event)``, or an async iterator.

    The subscriptions, the decoding, a malformed message (reported, skipped), a failing handler
    (logged, counted), the reconnect with its gap reported and the stats are SubscriberBase's,
    as in the threaded one. The handler may be an ``async def`` (awaited) or a plain function
    (called on the event loop: keep it quick). A cancel at any await (``stop()``, or the task
    that iterates being cancelled) closes the subscription's connection: none is left
    subscribed, or handed back to the pool half-read.
    """

    handler_optional = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("on_malformed", "on_gap"):
            if inspect.iscoroutinefunction(getattr(self, name)):
                raise TypeError(f"{name} must be a plain function (it is called on the event loop, not awaited); "
                                "for async work, start a task from it")
        self._task: asyncio.Task[None] | None = None
        self._starting: asyncio.Lock | None = None
        self._stopped = False  # set by stop(): an iterator in another task ends instead of subscribing again
        self._iterating = False

    def _check_client(self, r: Any) -> None:
        check_kind(r, asyncio=True, twin="patterns.pubsub.Subscriber")

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self, timeout: float = 5.0) -> "Subscriber":
        """Subscribe, and start the handler's task if there is a handler; returns once subscribed.

        Raises TimeoutError when Redis cannot be reached within ``timeout`` seconds, and
        PatternError when it refuses the subscription (an ACL without these channels).
        """
        validate.seconds(timeout, "timeout")
        check_loop(self.r)
        self._starting = self._starting or asyncio.Lock()
        async with self._starting:  # two start()s at once: the second finds the first's subscription
            if self.running:
                return self
            self._stopped = False
            try:
                async with async_timeout(timeout):
                    await self._subscribe_until_done()
            except asyncio.TimeoutError:
                await self._close()
                raise TimeoutError(f"could not subscribe within {timeout} s") from None
            except BaseException:
                await self._close()
                raise
            if self.handler is not None:
                self._task = asyncio.ensure_future(self._run())
        return self

    async def stop(self, timeout: float = 5.0) -> None:
        """End the handler's task (or another task's ``async for``) and close the subscription's connection.

        Not from inside the handler: stop() cancels the handler's own task, so nothing after it runs.
        """
        validate.seconds(timeout, "timeout")
        self._stopped = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=timeout)
            if not task.done():
                log.warning("subscriber: its handler did not end within %g s of stop() (it caught the cancel?); "
                            "it ends at its next message", timeout)
        self._task = None if task is None or task.done() else task
        await self._close()

    async def __aenter__(self) -> "Subscriber":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        """Its task is alive (with a handler), or it is subscribed (without one); never after stop()."""
        if self._stopped:
            return False
        if self.handler is not None:
            return self._task is not None and not self._task.done()
        return self._pubsub is not None

    def __aiter__(self) -> AsyncIterator[tuple[str, Any]]:
        if self.handler is not None:
            raise TypeError("this Subscriber calls its handler in a task of its own: iterate over one made without "
                            "a handler")
        check_loop(self.r)
        return self._events()

    # -- the subscription -----------------------------------------------------------------------
    async def _subscribe(self) -> None:
        pubsub = self.r.pubsub()
        self._pubsub = pubsub
        for method, names in self._subscriptions():
            await getattr(pubsub, method)(*names)
        self._after_subscribing(pubsub, Retry(NoBackoff(), 0), cluster=is_cluster(self.r))
        expected = len(self.channels) + len(self.patterns)
        deadline = asyncio.get_running_loop().time() + CONFIRM_WITHIN
        while expected and asyncio.get_running_loop().time() < deadline:
            expected -= self._confirmed(await self._read())
        if expected:
            raise self._unconfirmed(expected)

    async def _subscribe_until_done(self) -> None:
        """Subscribe, trying again (with the reconnect's backoff) while Redis cannot be reached."""
        while True:
            try:
                await self._subscribe()
            except redis.exceptions.NoPermissionError as error:  # retrying will not help
                raise PatternError(self._refusal_message(error)) from error
            except UNAVAILABLE_ERRORS as error:
                if "No connection available" in str(error):  # the pool is exhausted: waiting will not help
                    raise PatternError(f"every connection of this client's pool is in use (each Subscriber holds one "
                                       f"for as long as it is subscribed): {error}. Subscribe once and hand the "
                                       "events out in the app, or give subscribers a client of their own") from error
                await self._wait_out(error)
                continue
            self._reconnected()
            return

    async def _wait_out(self, error: Exception) -> None:
        """After a dropped connection: note it (SubscriberBase), close this one, wait the backoff's delay."""
        delay = self._connection_lost(error)
        await self._close()
        await asyncio.sleep(delay)

    async def _read(self) -> dict | None:
        if self.sharded and is_cluster(self.r):
            return await self._pubsub.get_sharded_message(timeout=POLL)
        return await self._pubsub.get_message(timeout=POLL)

    async def _events(self) -> AsyncIterator[tuple[str, Any]]:
        """(channel, event) for each message, reconnecting (the gap reported) when the connection drops."""
        if self._iterating:
            raise RuntimeError("this Subscriber is already being iterated: one `async for` at a time (hand its "
                               "events to the others, or make a Subscriber each)")
        self._iterating = True
        try:
            while not self._stopped:
                try:
                    if self._pubsub is None:
                        await self._subscribe_until_done()
                    message = self._early.pop(0) if self._early else self._data(await self._read())
                except redis.exceptions.NoPermissionError as error:  # a refusal that came after the confirmations
                    raise PatternError(self._refusal_message(error)) from error
                except UNAVAILABLE_ERRORS as error:
                    if self._stopped:  # stop() closed the connection under this read: not an outage
                        return
                    await self._wait_out(error)
                    continue
                event = self._event(message) if message else None
                if event is not None and not self._stopped:
                    yield event
        finally:
            self._iterating = False
            await self._close()

    async def _run(self) -> None:
        try:  # aclosing: a cancel inside the handler closes the generator now, not at garbage collection
            async with contextlib.aclosing(self._events()) as events:
                async for channel, event in events:
                    try:
                        handled = self.handler(channel, event)  # type: ignore[misc]
                        if inspect.isawaitable(handled):
                            await handled
                    except Exception:
                        self._handler_failed(channel)
        except PatternError as error:  # refused on a reconnect: start() has returned long ago
            log.error("subscriber stopped: %s", error)

    async def _close(self) -> None:
        """Close the subscription's connection, to the end even if this task is cancelled meanwhile."""
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await asyncio.shield(in_background(asyncio.ensure_future(_closed(pubsub)), "closing a subscriber"))


async def _closed(pubsub: Any) -> None:
    # fakeredis's async connection forgets its socket when it disconnects without closing it: the
    # embedded server would go on counting a subscriber nobody reads for (PUBSUB NUMSUB, PUBLISH's
    # answer). Closed here, its subscriptions end with it, as a real server's do.
    fake_socket = getattr(getattr(pubsub, "connection", None), "_sock", None)
    if type(fake_socket).__module__.startswith("fakeredis."):
        fake_socket.close()
    try:
        await pubsub.aclose()
    except Exception:  # closing a dead connection may fail; it is closed either way
        pass
