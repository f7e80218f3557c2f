"""Serving an ASGI app from a notebook or a test: uvicorn in a thread, on a port nobody else holds.

The socket is bound here, on port 0, and handed to uvicorn, so no other process can take the
port between choosing it and listening on it (picking a free port, closing it and binding it
again races with everything else on the machine). It has TCP_NODELAY, which the accepted
sockets inherit: uvicorn writes a response's head and body in two writes, and without it the
kernel holds the second until the client acknowledges the first, which a client delays by up
to 40 ms, so every request on a kept-alive connection took 44 ms here. The server runs its own event loop in its
own thread: the app's Redis client is made in that loop, at start-up (its lifespan), and the
notebook's own loop stays free to send it requests.
"""
from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


class Served:
    """``with Served(app) as served:`` the app is up at ``served.url`` until the block ends."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # Open responses (a live feed never ends by itself) get a second to finish at stop(), then are closed.
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False,
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    def start(self, timeout: float = 30.0) -> "Served":
        """Start serving; returns once the app's start-up (its lifespan) has finished."""
        def serve() -> None:
            try:
                self._server.run(sockets=[self._socket])
            except BaseException as error:  # shown by start(), not lost in the thread
                self._failure = error

        self._thread = threading.Thread(target=serve, name=f"uvicorn-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                cause = getattr(self.app.state, "startup_error", None) if hasattr(self.app, "state") else None
                raise RuntimeError(f"the app did not start on {self.url}: {cause or self._failure or 'timed out'}") \
                    from cause
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop serving: the app's shutdown runs (open requests get a moment to finish), the thread ends."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError(f"the app on {self.url} did not stop within {timeout:g} s")
        self._socket.close()

    @property
    def running(self) -> bool:
        return bool(self._thread and self._thread.is_alive() and self._server.started)

    def __enter__(self) -> "Served":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Served {self.url} {'running' if self.running else 'stopped'}>"
