"""Plumbing for notebook 05's labs: why a background thread died, and a server of the lab's own.

Nothing here is a pattern to copy. ``thread_deaths`` records the exception that ended
a thread, instead of the traceback Python would print from that thread into whichever
cell happens to be running. ``own_server`` starts a throwaway ``redis-server`` for the
labs that change a server's limits or cut its clients off, which must never be done to
a server someone else uses (a workshop's, or the one in ``REDIS_URL``). ``wait_until`` polls
for what a background thread will do, instead of sleeping for a guess.
"""
from __future__ import annotations

import atexit
import logging
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import redis

from ..sandbox import NO_SERVER, LocalServer, redis_server_binary


def thread_deaths(name: str) -> list[str]:
    """A list that will hold "ExceptionName: message" for each thread called ``name`` that dies of one.

    Threads with other names go to the hook that was there before, as they did.
    """
    deaths: list[str] = []
    previous = threading.excepthook

    def hook(args: Any) -> None:
        if args.thread is not None and args.thread.name == name:
            deaths.append(f"{args.exc_type.__name__}: {args.exc_value}")
        else:
            previous(args)

    threading.excepthook = hook
    return deaths


class OwnServer:
    """A throwaway redis-server on a free port, with a client; stopped by ``stop()`` or at exit."""

    def __init__(self) -> None:
        self.server = LocalServer().start()
        self.client = redis.Redis(port=self.server.port, decode_responses=True)
        atexit.register(self.stop)

    def stop(self) -> None:
        self.client.close()
        self.server.cleanup()


def own_server(*, without: str) -> OwnServer | None:
    """A server of the lab's own, or None (after one line saying what the lab would show) without redis-server."""
    if redis_server_binary() is None:
        print(NO_SERVER, without)
        return None
    return OwnServer()


@contextmanager
def quiet(logger: str = "patterns.pubsub") -> Iterator[None]:
    """Silence a logger's warnings for a block: the lab prints what they say, with its numbers marked ≈."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def wait_until(condition: Callable[[], Any], timeout: float = 10.0) -> bool:
    """Poll ``condition`` every 10 ms until it is true (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True
