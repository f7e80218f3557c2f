"""The shop's live order feed: one reader for the whole app, every open browser tab fed from it.

A blocked stream read holds one of the client's pooled connections while it waits (see
patterns/aio/pubsub.py): one per open tab would starve the app's other requests, and a group
per tab would split the events between them. So one task reads the stream through a consumer
group (each event at least once, acknowledged once every open tab has it queued) and copies
each event to every tab's queue. A tab that reconnects names the last event it saw
(``Last-Event-ID``) and first gets what came after it from the stream itself (``since()``),
then the live events, each id once.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from .. import aio
from ..connection import UNAVAILABLE_ERRORS
from ..pubsub import StreamMessage

log = logging.getLogger(__name__)
QUEUE = 1000  # events a tab may fall behind by before it is cut off (it reconnects, and resumes)
CLOSED: Any = object()  # what a tab's queue gets when the feed stops or the tab fell too far behind


class Feed:
    """``await feed.start()`` at the app's start-up; each /events connection ``listen()``s."""

    def __init__(self, r: Any, name: str) -> None:
        self.r, self.name = r, name
        self.stream: Any = None
        self.listeners: set[asyncio.Queue] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> "Feed":
        self.stream = await aio.EventStream(self.r, self.name, group="shop-feed", start="$")
        self._task = asyncio.ensure_future(self._run())
        return self

    async def stop(self) -> None:
        """End the reader, and every open feed with it (each tab's response ends; a browser reconnects)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for queue in list(self.listeners):
            self._close(queue)

    def listen(self) -> asyncio.Queue:
        """A queue that gets every event from now on (CLOSED at the end); ``forget()`` it when done."""
        queue: asyncio.Queue = asyncio.Queue(QUEUE + 1)
        self.listeners.add(queue)
        return queue

    def forget(self, queue: asyncio.Queue) -> None:
        self.listeners.discard(queue)

    async def since(self, after: str, count: int = QUEUE) -> list[StreamMessage]:
        """The events after id ``after``, from the stream (what a tab missed while it was away)."""
        return await self.stream.since(after, count)

    async def _run(self) -> None:
        while True:
            try:
                batch = await self.stream.read("shop", count=100, block=1.0)
                for message in batch:
                    for queue in list(self.listeners):
                        if queue.qsize() >= QUEUE:  # too far behind: cut off, it resumes from its last id
                            self._close(queue)
                        else:
                            queue.put_nowait(message)
                if batch:
                    await self.stream.ack(*(message.id for message in batch))
            except UNAVAILABLE_ERRORS as error:
                log.warning("order feed: Redis unavailable (%s); reading again in a second", error)
                await asyncio.sleep(1.0)

    def _close(self, queue: asyncio.Queue) -> None:
        self.listeners.discard(queue)
        while queue.full():
            queue.get_nowait()
        queue.put_nowait(CLOSED)
