"""Throwaway Redis servers for chapter 06's Redlock labs: start a few, take some down, crash one.

Each server is a ``patterns.sandbox.LocalServer``: a free port, a directory of its own,
no persistence unless the lab asks for it, stopped when the ``with`` block ends. The
labs never touch a server they did not start. Servers are numbered from 1, as the
notebook's prose counts them.
"""
from __future__ import annotations

import os
import signal
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .sandbox import LocalServer, redis_server_binary

__all__ = ["Servers", "redis_server_binary"]


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

    def crash(self, *numbers: int) -> None:
        """Kill servers without warning (SIGKILL: nothing is saved on the way down) and start them again."""
        for n in numbers:
            server = self.servers[n - 1]
            if server.process is not None:
                os.kill(server.process.pid, signal.SIGKILL)
                server.process.wait()
                server.process = None
            server.restart()

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
