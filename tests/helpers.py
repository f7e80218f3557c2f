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


class Proxy:
    """A TCP proxy in front of a local server that can fail on purpose, like a bad network.

    ``refuse(n)``: the next ``n`` connections are closed as soon as they are accepted, before
    any command could reach the server. ``drop_replies(n)``: the next ``n`` replies are
    swallowed and their connection cut, after the server has run the command.
    ``hold_replies(True)``: replies wait in the proxy (a slow server) until ``hold_replies(False)``.
    """

    def __init__(self, target_port: int) -> None:
        import socket

        self._socket = socket
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(32)
        self.port = self.listener.getsockname()[1]
        self.to_refuse = self.to_drop = 0
        self.refused = self.dropped = 0
        self._flowing = threading.Event()
        self._flowing.set()
        self._lock = threading.Lock()
        self._open: list[Any] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def refuse(self, n: int) -> None:
        with self._lock:
            self.to_refuse = n

    def hold_replies(self, held: bool) -> None:
        if held:
            self._flowing.clear()
        else:
            self._flowing.set()

    def drop_replies(self, n: int) -> None:
        with self._lock:
            self.to_drop = n

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                refuse = self.to_refuse > 0
                if refuse:
                    self.to_refuse -= 1
                    self.refused += 1
            if refuse:
                client.close()
                continue
            server = self._socket.create_connection(self.target)
            self._open += [client, server]
            threading.Thread(target=self._pipe, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, True), daemon=True).start()

    def _pipe(self, source: Any, destination: Any, replies: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if replies:
                    self._flowing.wait()
                    with self._lock:
                        drop = self.to_drop > 0
                        if drop:
                            self.to_drop -= 1
                            self.dropped += 1
                    if drop:
                        break
                destination.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, destination):
                try:
                    end.shutdown(self._socket.SHUT_RDWR)
                except OSError:
                    pass
                end.close()

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        for end in self._open:
            try:
                end.close()
            except OSError:
                pass

    def __enter__(self) -> "Proxy":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@contextmanager
def frozen(server: Any) -> Iterator[None]:
    """SIGSTOP a throwaway server: it still accepts connections but never answers, like a hung host."""
    import os
    import signal

    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


def messages_of(check: Callable[[Callable], None], solutions: list[Callable], capsys: Any) -> str:
    """Everything ``check`` prints for each of ``solutions``, lower-cased: to look for words it must not say."""
    for solution in solutions:
        check(solution)
    return capsys.readouterr().out.lower()


def nbval_sanitized(text: str) -> str:
    """``text`` masked as nbval masks outputs (tests/nbval_sanitize.cfg): ≈numbers, hex, uuids, stream ids."""
    import configparser
    import re
    from pathlib import Path

    config = configparser.ConfigParser()
    config.read(Path(__file__).resolve().parent / "nbval_sanitize.cfg")
    for section in config.sections():
        text = re.sub(config[section]["regex"], config[section]["replace"], text)
    return text


async def returned(task: Any) -> bool:
    """Await a task just cancelled: True if it returned all the same, False if the cancel ended it."""
    import asyncio

    try:
        await task
    except asyncio.CancelledError:
        return False
    return True

