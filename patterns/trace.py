"""See what a block of code sent to Redis: which commands, in how many round trips.

Tracing happens on the client side, one level below redis-py's commands: every
time a connection writes to its socket is one round trip (a single command, or a
whole pipeline, or a MULTI/EXEC transaction). That works the same on a real
server and on fakeredis, which has no MONITOR.

    with trace(r) as t:
        r.set("a", 1)
        r.get("a")
    print(t)            # 2 commands in 2 round trips ...

An asyncio client is traced the same way (``with trace(r):`` around the awaits). A trace records
what the client's connections send while it is open, from any thread or task: around one request
of a busy app it shows the other requests' commands too.

In a notebook, ``%load_ext patterns.trace`` adds the ``%%trace_redis`` cell magic.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from redis.asyncio.connection import AbstractConnection as AsyncConnection
from redis.connection import AbstractConnection

MAX_ARG_CHARS = 24

_active: list["Trace"] = []
_active_lock = threading.Lock()
_installed = False


@dataclass(frozen=True)
class Command:
    """One command as sent: its arguments (as text) and which round trip carried it."""

    args: tuple[str, ...]
    round_trip: int

    @property
    def name(self) -> str:
        return self.args[0].upper() if self.args else ""

    def __str__(self) -> str:
        shown = [a if len(a) <= MAX_ARG_CHARS else a[: MAX_ARG_CHARS - 1] + "…" for a in self.args]
        return " ".join([self.name, *shown[1:]])


@dataclass
class Trace:
    """The commands one traced block sent, in order."""

    pools: tuple[Any, ...] | None = None
    commands: list[Command] = field(default_factory=list)
    round_trips: int = 0

    @property
    def names(self) -> list[str]:
        """Just the command names, e.g. ['EVALSHA', 'GET']: handy in tests."""
        return [c.name for c in self.commands]

    def _record(self, batch: list[tuple[str, ...]]) -> None:
        self.round_trips += 1
        self.commands.extend(Command(args, self.round_trips) for args in batch)

    def summary(self) -> str:
        c, t = len(self.commands), self.round_trips
        return f"{c} command{'s' * (c != 1)} in {t} round trip{'s' * (t != 1)}"

    def __str__(self) -> str:
        lines = [self.summary()]
        lines += [f"  {c.round_trip:>3}  {c}" for c in self.commands]
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


@contextmanager
def trace(r: Any = None) -> Iterator[Trace]:
    """Record what client ``r`` (or, with no client, every client) sends inside the block.

    Commands a connection sends to set itself up (HELLO, CLIENT SETINFO, ...) are
    left out: with a pool they happen once per connection, not per operation.
    """
    _install()
    recorder = Trace(pools=None if r is None else _pools_of(r))
    with _active_lock:
        _active.append(recorder)
    try:
        yield recorder
    finally:
        with _active_lock:
            _active.remove(recorder)


def _pools_of(r: Any) -> tuple[Any, ...]:
    """Where ``r``'s connections come from: its pool, or each cluster node's (the asyncio cluster's nodes
    hold their connections themselves)."""
    if hasattr(r, "connection_pool"):
        return (r.connection_pool,)
    if hasattr(r, "get_nodes"):  # RedisCluster: one pool per node
        nodes = r.get_nodes()
        return tuple(n.redis_connection.connection_pool if hasattr(n, "redis_connection") else n
                     for n in nodes if getattr(n, "redis_connection", n) is not None)
    raise TypeError(f"cannot trace {type(r).__name__}: pass a redis-py client (or nothing, to trace all)")


def _in_use(pool: Any) -> Any:
    found = getattr(pool, "_in_use_connections", None)
    if found is None and hasattr(pool, "_connections"):  # an asyncio cluster node
        return pool._connections
    return found if found is not None else pool._get_in_use_connections()


def _belongs(recorder: Trace, connection: Any) -> bool:
    return recorder.pools is None or any(connection in _in_use(p) for p in recorder.pools)


def _record(connection: Any, command: Any) -> None:
    if _active and not getattr(connection, "_trace_handshake", False):
        batch = parse_packed(command)
        for recorder in list(_active):
            if _belongs(recorder, connection):
                recorder._record(batch)


def _install() -> None:
    """Wrap the one method every redis-py connection writes through: redis-py's, redis.asyncio's
    (fakeredis's clients, both kinds, write through them too)."""
    global _installed
    with _active_lock:
        if _installed:
            return
        original_send = AbstractConnection.send_packed_command
        original_handshake = AbstractConnection.on_connect_check_health
        original_async_send = AsyncConnection.send_packed_command
        original_async_handshake = AsyncConnection.on_connect_check_health

        def send_packed_command(self: Any, command: Any, check_health: bool = True) -> Any:
            _record(self, command)
            return original_send(self, command, check_health)

        def on_connect_check_health(self: Any, *args: Any, **kwargs: Any) -> Any:
            self._trace_handshake = True
            try:
                return original_handshake(self, *args, **kwargs)
            finally:
                self._trace_handshake = False

        async def async_send_packed_command(self: Any, command: Any, check_health: bool = True) -> Any:
            _record(self, command)
            return await original_async_send(self, command, check_health)

        async def async_on_connect_check_health(self: Any, *args: Any, **kwargs: Any) -> Any:
            self._trace_handshake = True  # one task uses a connection at a time: no other send sees this
            try:
                return await original_async_handshake(self, *args, **kwargs)
            finally:
                self._trace_handshake = False

        AbstractConnection.send_packed_command = send_packed_command
        AbstractConnection.on_connect_check_health = on_connect_check_health
        AsyncConnection.send_packed_command = async_send_packed_command
        AsyncConnection.on_connect_check_health = async_on_connect_check_health
        _installed = True


def parse_packed(packed: Any) -> list[tuple[str, ...]]:
    """Decode RESP arrays (``*2\\r\\n$3\\r\\nGET\\r\\n$1\\r\\na\\r\\n``) into argument tuples."""
    chunks = [packed] if isinstance(packed, (bytes, bytearray, memoryview, str)) else packed
    data = b"".join(c.encode() if isinstance(c, str) else bytes(c) for c in chunks)
    commands, pos = [], 0
    while pos < len(data) and data[pos : pos + 1] == b"*":
        end = data.index(b"\r\n", pos)
        count, pos = int(data[pos + 1 : end]), end + 2
        args = []
        for _ in range(count):
            end = data.index(b"\r\n", pos)
            length = int(data[pos + 1 : end])
            start = end + 2
            args.append(data[start : start + length].decode("utf-8", "replace"))
            pos = start + length + 2
        commands.append(tuple(args))
    return commands


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext patterns.trace`` registers ``%%trace_redis [client]``."""

    def trace_redis(line: str, cell: str) -> None:
        client = ipython.ev(line) if line.strip() else None
        with trace(client) as recorded:
            ipython.run_cell(cell)
        print(recorded)

    ipython.register_magic_function(trace_redis, magic_kind="cell", magic_name="trace_redis")
