"""Throwaway redis-server processes for the tests: started on free ports, always stopped.

Tests never touch a server they did not start (the machine may run one on 6379 for
other uses), so each server here gets its own port below 32768 (the kernel hands out
32768-60999 to outgoing connections), its own temporary directory, and no persistence.
"""
from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

PORT_RANGE = (20000, 32000)
START_ATTEMPTS = 5


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(also_free: int = 0) -> int:
    """A port that is free now (and, with ``also_free``, whose port+N is free too)."""
    for _ in range(200):
        port = random.randrange(*PORT_RANGE)
        if port_is_free(port) and (not also_free or port_is_free(port + also_free)):
            return port
    raise RuntimeError("no free port found in %s-%s" % PORT_RANGE)


class RedisServer:
    """One redis-server on 127.0.0.1, for as long as the test session needs it."""

    def __init__(self, *extra_args: str) -> None:
        self.extra_args = extra_args
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.dir = Path(tempfile.mkdtemp(prefix="workbook-redis-"))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, port: int | None = None) -> "RedisServer":
        """Start on ``port`` (or a fresh free one), retrying on a new port if the start fails."""
        binary = redis_server_binary()
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
        last_error = ""
        for _ in range(START_ATTEMPTS):
            self.port = port or free_port()
            log = self.dir / f"redis-{self.port}.log"
            self.process = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.dir), "--logfile", str(log), *self.extra_args],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if self._wait_ready():
                return self
            last_error = log.read_text(errors="replace")[-500:] if log.exists() else "no log"
            self.stop()
            port = None
        raise RuntimeError(f"redis-server did not start after {START_ATTEMPTS} attempts: {last_error}")

    def _wait_ready(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                return False
            try:
                if redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5).ping():
                    return True
            except redis.RedisError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
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
        """Stop and start again on the same port (for tests of a server coming back)."""
        port = self.port
        self.stop()
        self.start(port)

    def client(self, **kwargs) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, **kwargs)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
