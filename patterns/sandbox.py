"""Throwaway local Redis servers and clusters, for the tests and for notebooks that need several.

Nothing here touches a server it did not start (a machine may run Redis on 6379 for
other uses): each server gets a free port below 32768 (the kernel hands out
32768-60999 to outgoing connections), its own temporary directory and no
persistence, and is stopped by ``stop()``/``cleanup()`` or a ``with`` block.
A cluster node also binds its port + 10000 for the cluster bus, so cluster ports
are chosen with both free.
"""
from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import redis

PORT_CEILING = 32768  # first port the kernel may hand to an outgoing connection
CLUSTER_BUS_OFFSET = 10000
START_ATTEMPTS = 5
T = TypeVar("T")


START_LOG = "WORKBOOK_SERVER_LOG"  # set by scripts/run_notebooks.py: a file to note each server started


def _record_start(port: int) -> None:
    """Note in ``$WORKBOOK_SERVER_LOG`` that a server started, so a notebook's run can say it needs one.

    A notebook whose committed outputs came from a throwaway server cannot be compared
    strictly on a machine without ``redis-server``; the test harness reads this fact from the
    notebook's metadata instead of guessing from its text.
    """
    log = os.environ.get(START_LOG)
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{port}\n")


def redis_server_binary() -> str | None:
    """The path of ``redis-server``, or None where it is not installed."""
    return shutil.which("redis-server")


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int = 1, *, cluster_bus: bool = False) -> list[int]:
    """``count`` consecutive free ports (each with its bus port free too, for a cluster)."""
    top = PORT_CEILING - (CLUSTER_BUS_OFFSET if cluster_bus else 0) - count
    for _ in range(500):
        base = random.randrange(12000, top)
        ports = list(range(base, base + count))
        wanted = ports + ([p + CLUSTER_BUS_OFFSET for p in ports] if cluster_bus else [])
        if all(port_is_free(p) for p in wanted):
            return ports
    raise RuntimeError(f"no {count} free consecutive ports found below {top}")


class LocalServer:
    """One redis-server on 127.0.0.1, started on a free port."""

    def __init__(self, *extra_args: str) -> None:
        self.extra_args = extra_args
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.dir = Path(tempfile.mkdtemp(prefix="workbook-redis-"))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, port: int | None = None) -> "LocalServer":
        """Start on ``port`` (or a fresh free one), trying a new port if the start fails."""
        binary = redis_server_binary()
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian: apt-get install -y redis-server)")
        last_error = ""
        for _ in range(START_ATTEMPTS):
            self.port = port or free_ports()[0]
            log = self.dir / f"redis-{self.port}.log"
            self.process = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.dir), "--logfile", str(log), *self.extra_args],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if self._wait_ready():
                _record_start(self.port)
                return self
            last_error = log.read_text(errors="replace")[-500:] if log.exists() else "no log"
            self.stop()
            if port:
                break
        raise RuntimeError(f"redis-server did not start on 127.0.0.1:{self.port}: {last_error}")

    @property
    def password(self) -> str | None:
        """The default user's password, when the server was started with ``--requirepass``."""
        args = list(self.extra_args)
        return args[args.index("--requirepass") + 1] if "--requirepass" in args else None

    def _wait_ready(self, timeout: float = 30.0) -> bool:
        """Wait until *our* process answers on the port.

        Another process on the machine may take the port between the check that found it
        free and our bind: our server then exits, while the port answers as someone else's
        server. A PING would be fooled (and the tests would FLUSHALL a stranger), so the
        server must name our process id.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                with redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_timeout=1,
                                 socket_connect_timeout=1) as probe:
                    return int(probe.info("server")["process_id"]) == self.process.pid
            except Exception:  # not answering yet, or something that is not a Redis (a stranger): ask again
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Stop the server (it loses its data: nothing is persisted)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same port, as a crashed server coming back would.

        The port was ours a moment ago; if the start fails (the old socket not released yet,
        or another process took the port in between) it is tried again for a few seconds.
        """
        port = self.port
        self.stop()
        deadline = time.monotonic() + 10
        while True:
            try:
                self.start(port)
                return
            except RuntimeError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "LocalServer":
        return self.start() if not self.running else self

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()


class LocalCluster:
    """A Redis Cluster of ``masters`` nodes on 127.0.0.1 (no replicas), ready when started."""

    def __init__(self, masters: int = 3) -> None:
        if masters < 3:
            raise ValueError(f"a Redis Cluster needs at least 3 masters, got {masters}")
        self.masters = masters
        self.nodes: list[LocalServer] = []

    @property
    def url(self) -> str:
        return self.nodes[0].url if self.nodes else ""

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    def start(self) -> "LocalCluster":
        last_error: Exception | None = None
        for _ in range(START_ATTEMPTS):
            try:
                return self._start_once(free_ports(self.masters, cluster_bus=True))
            except RuntimeError as error:  # a port was taken meanwhile: try others
                last_error = error
                self.cleanup()
        raise RuntimeError(f"the cluster did not start: {last_error}")

    def _start_once(self, ports: list[int]) -> "LocalCluster":
        cluster_args = ("--cluster-enabled", "yes", "--cluster-node-timeout", "2000",
                        "--cluster-config-file", "nodes.conf")
        self.nodes = []
        for port in ports:  # one at a time: a node that fails to start leaves the others in self.nodes,
            node = LocalServer(*cluster_args)  # so cleanup() stops every one that did
            self.nodes.append(node)
            node.start(port)
        create = subprocess.run(
            ["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports],
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, text=True, timeout=60,
        )
        if create.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {create.stdout[-500:]}{create.stderr[-500:]}")
        self._wait_ok()
        return self

    def _wait_ok(self, timeout: float = 60.0) -> None:
        """Wait until every node says the cluster is whole: state ok, all slots, every node known.

        Right after ``--cluster create`` each node learns the others through the cluster bus;
        a node that says "ok" before it knows every master would send clients elsewhere.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._node_ready(node.port) for node in self.nodes):
                return
            time.sleep(0.1)
        raise RuntimeError("the cluster did not reach cluster_state:ok on every node")

    def _node_ready(self, port: int) -> bool:
        try:
            with redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=2,
                             socket_connect_timeout=2) as probe:
                info = probe.cluster("info")
        except redis.RedisError:  # not answering yet (a busy machine): ask again
            return False
        return (info.get("cluster_state") == "ok" and int(info.get("cluster_slots_ok", 0)) == 16384
                and int(info.get("cluster_known_nodes", 0)) == self.masters)

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()
        self.nodes = []

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()


NO_SERVER = "redis-server is not installed here, so this cell cannot measure it:"


def on_a_real_server(r: Any, measure: Callable[[Any], T], *, without: str) -> T | None:
    """Run ``measure(client)`` on a real Redis: ``r`` itself if it is one, else a throwaway LocalServer.

    Memory, encodings and server timings exist only on a real server; fakeredis
    has none. A learner without ``redis-server`` gets one line saying so and what
    the measurement would have shown (``without``), not a traceback.
    """
    from .connection import is_fake

    if not is_fake(r):
        return measure(r)
    if redis_server_binary() is None:
        print(NO_SERVER, without)
        return None
    server = LocalServer()
    try:
        server.start()
    except RuntimeError as error:  # installed but it would not start (no free port, a broken config): say so
        server.cleanup()
        print(f"redis-server did not start here ({error}), so this cell cannot measure it:", without)
        return None
    with server:
        client = redis.Redis(port=server.port, decode_responses=True)
        try:
            return measure(client)
        finally:
            client.close()
