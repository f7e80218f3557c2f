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

The asyncio ``Subscriber`` (pub/sub) is not here yet: use ``EventStream`` for events an async
app must not lose, or the synchronous Subscriber.
"""
from __future__ import annotations

from typing import Any, Generator

from ..connection import check_kind
from ..pubsub import EventStreamBase, _publish_event
from ..steps import operations
from .steps import awaited, run


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
