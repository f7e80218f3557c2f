"""Throwaway Redis servers for chapter 06's Redlock labs: start a few, take some down, crash one.

Each server is a ``patterns.sandbox.LocalServer``: a free port, a directory of its own,
no persistence unless the lab asks for it, stopped when the ``with`` block ends. The
labs never touch a server they did not start. Servers are numbered from 1, as the
notebook's prose counts them.
"""
from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..lock import Redlock
from ..sandbox import LocalServer, redis_server_binary

__all__ = ["Servers", "TwoClients", "partition_then_crash", "redis_server_binary"]


class Servers:
    """``count`` independent redis-servers, each started with ``server_args`` (e.g. AOF settings)."""

    def __init__(self, count: int, *server_args: str) -> None:
        self.servers = [LocalServer(*server_args) for _ in range(count)]

    def __enter__(self) -> "Servers":
        try:
            for server in self.servers:
                server.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        for server in self.servers:
            server.cleanup()

    def clients(self) -> list[redis.Redis]:
        """A new client of each server (connecting lazily, so a server that is down is simply a "no")."""
        return [redis.Redis(port=s.port, decode_responses=True) for s in self.servers]

    def stop(self, *numbers: int) -> None:
        """Take servers down (or cut off: to a client, a server it cannot reach is the same)."""
        for n in numbers:
            self.servers[n - 1].stop()

    def start(self, *numbers: int) -> None:
        """Bring stopped servers back on their ports; without persistence they come back empty."""
        for n in numbers:
            self.servers[n - 1].restart()

    def kill(self, *numbers: int) -> None:
        """Kill servers without warning (SIGKILL: nothing is saved on the way down); they stay down."""
        for n in numbers:
            server = self.servers[n - 1]
            if server.process is not None:
                os.kill(server.process.pid, signal.SIGKILL)
                server.process.wait()
                server.process = None

    def crash(self, *numbers: int) -> None:
        """Kill servers without warning (SIGKILL) and start them again at once."""
        self.kill(*numbers)
        self.start(*numbers)

    def holders(self, lock: Any, names: dict[str, str]) -> str:
        """Who each server says holds ``lock`` (a Redlock), e.g. "1: A · 2: B · 3: B"; "-" for nobody or down."""
        shown = []
        for n, (server, key) in enumerate(zip(self.servers, lock.keys), start=1):
            client = redis.Redis(port=server.port, decode_responses=True, socket_timeout=1,
                                 socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))  # down: "-" at once
            try:
                token = client.get(key)
            except redis.ConnectionError:
                token = None
            finally:
                client.close()
            shown.append(f"{n}: {names.get(token, '?') if token else '-'}")
        return " · ".join(shown)


@dataclass(frozen=True)
class TwoClients:
    """What Lab 5's run saw: whether A and then B got the lock, and who each server said held it."""

    a_holds: bool
    after_a: str  # each server's holder right after A's attempt, e.g. "1: A · 2: A · 3: -"
    b_holds: bool
    after_b: str  # each server's holder right after B's attempt
    a_valid_left: float  # seconds A's hold was still valid for when B had its answer (< 0: it had run out)

    def __str__(self) -> str:
        return (f"A takes the lock: {self.a_holds} | servers holding it: {self.after_a}\n"
                f"B takes the lock: {self.b_holds} | servers holding it: {self.after_b}\n"
                f"A's hold is still valid for ≈{self.a_valid_left:.1f} s")


def partition_then_crash(*server_args: str, ttl: float = 10.0) -> TwoClients:
    """Chapter 06, Lab 5: can a restarted Redlock server let a second client in while the first holds?

    Three servers, each started with ``server_args`` (e.g. AOF settings). Server 3 is cut off
    from A (a network partition), so A takes the lock on servers 1 and 2, a majority. The
    partition heals; server 2 crashes (SIGKILL) and comes back at once; then B asks all three.
    Without persistence server 2 has forgotten A's grant and B gets servers 2 and 3: two holders.
    The lease ``ttl`` is long beside the few restarts in between, so A still holds when B asks.
    """
    with Servers(3, *server_args) as three:
        three.stop(3)  # server 3 cannot be reached from A: a network partition
        a = Redlock(three.clients(), "lab5", ttl=ttl, retries=0)
        a_holds = a.acquire()
        a_until = time.monotonic() + a.validity
        after_a = three.holders(a, {a.token: "A"})
        three.start(3)  # the partition heals
        three.crash(2)  # server 2 crashes (nothing saved) and comes back at once
        b = Redlock(three.clients(), "lab5", ttl=ttl, retries=0)
        b_holds = b.acquire()
        a_valid_left = a_until - time.monotonic()
        return TwoClients(a_holds, after_a, b_holds, three.holders(a, {a.token: "A", b.token: "B"}), a_valid_left)
