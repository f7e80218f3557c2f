"""Small helpers shared by the test modules."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from redis.connection import AbstractConnection


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def all_keys(r: Any, match: str = "*") -> list[str]:
    """Every key matching ``match``, seen by an admin: a workshop attendee may not SCAN itself."""
    return sorted(getattr(r, "admin", r).scan_iter(match))


@contextmanager
def before_round_trip(n: int, action: Callable[[], Any]) -> Iterator[list[int]]:
    """Run ``action()`` just before the ``n``-th round trip (from 1) this thread sends in the block.

    This is how the tests put another client's call *between* two steps of an operation, at
    each point in turn, so an interleaving that threads would hit only by luck is hit every
    time. ``action`` runs on other connections (its own round trips are not counted). The
    yielded list holds how many round trips were counted, for a caller that wants to know
    how many points there were.
    """
    from patterns.trace import _install

    _install()  # the tracer wraps the same method: wrap after it, never under it
    original = AbstractConnection.send_packed_command
    counted = [0]
    state = threading.local()
    owner = threading.get_ident()

    def send(self: Any, command: Any, check_health: bool = True) -> Any:
        if threading.get_ident() == owner and not getattr(state, "inside", False) \
                and not getattr(self, "_trace_handshake", False):
            counted[0] += 1
            if counted[0] == n:
                state.inside = True
                try:
                    action()
                finally:
                    state.inside = False
        return original(self, command, check_health)

    AbstractConnection.send_packed_command = send
    try:
        yield counted
    finally:
        AbstractConnection.send_packed_command = original


def round_trips_of(r: Any, call: Callable[[], Any]) -> int:
    """How many round trips ``call()`` sends (its interleaving points are 1..that number)."""
    from patterns.trace import trace

    with trace(r) as recorded:
        call()
    return recorded.round_trips


@contextmanager
def refusing_port() -> Iterator[int]:
    """A local port that refuses connections for as long as the block runs.

    A port merely found free may be taken by another process a moment later (the machine
    may be starting servers of its own), and an "unreachable" test would then reach it. A
    socket bound to the port but never listening keeps it ours: a connection is refused.
    """
    import socket

    from patterns.sandbox import free_ports

    for _ in range(20):
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            port = free_ports()[0]
            holder.bind(("127.0.0.1", port))
        except OSError:
            holder.close()
            continue
        try:
            yield port
        finally:
            holder.close()
        return
    raise RuntimeError("no local port could be held")
