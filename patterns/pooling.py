"""What a connection per request costs, next to the shared pool (notebook 00).

``connect()`` gives every client of one URL the same connection pool, so a request
borrows a connection that is already open. ``client_of_its_own`` makes what
``redis.Redis(...)`` inside a request handler makes: a client with a new pool of
its own, whose first command must open a new connection (a TCP handshake and the
connection's set-up commands) before it runs. It reaches the same server, with
the same settings and credentials, as the shared client does for that key.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import redis

from . import keys
from .connection import is_cluster


def pool_serving(r: Any, key: str) -> redis.ConnectionPool:
    """The pool ``r`` sends ``key``'s commands through.

    A cluster client keeps one pool per node: the one of the node that owns ``key``'s slot.
    """
    if is_cluster(r):
        return r.get_node_from_key(key).redis_connection.connection_pool
    return r.connection_pool


def client_of_its_own(r: Any, key: str) -> redis.Redis:
    """A client of the server (or node) that serves ``key``, with a new pool of its own.

    Closing it closes its connection, as the end of a request handler would.
    """
    shared = pool_serving(r, key)
    pool = redis.ConnectionPool(connection_class=shared.connection_class, **shared.connection_kwargs)
    client = redis.Redis.from_pool(pool)  # the client owns its pool: close() disconnects it
    keys.set_namespace(client, keys.namespace_of(r) or None)
    return client


def ms_per_call(call: Callable[[], Any], times: int = 200) -> float:
    """Milliseconds per ``call()``, averaged over ``times`` calls (a measurement: it varies)."""
    started = time.perf_counter()
    for _ in range(times):
        call()
    return (time.perf_counter() - started) * 1000 / times
