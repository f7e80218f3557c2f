"""``await connect()``: patterns.connection for asyncio, with the same backends, timeouts, retries and errors.

Without a URL the client is fakeredis's async one on the process's embedded server (the one
``patterns.connect()`` uses). With one, a ``redis.asyncio`` client from a pool per URL and per
event loop: an asyncio connection belongs to the loop that opened it, so a pool shared across
loops (a notebook's loop and a test's) would hand one loop another's sockets. A cluster node's
URL gives a ``redis.asyncio.RedisCluster``. A client is used in the loop that made it: in
another one it is refused (``check_loop``).

As in the synchronous module, a command that could not be sent is tried again, and one whose
reply was lost raises ReplyLost (ReplyTimeout after a timeout) and is never sent again.
"""
from __future__ import annotations

import asyncio
import os
import weakref
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

import redis
import redis.asyncio as aredis
from redis.asyncio.connection import async_timeout
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from .. import connection as sync
from .. import keys
from ..errors import PatternError, ReplyLost


class _SafeRetry(Retry):
    """redis.asyncio's Retry, except that a command whose reply was lost is not sent again."""

    async def call_with_retry(self, do: Callable[[], Awaitable[Any]], fail: Any, is_retryable: Any = None,
                              with_failure_count: bool = False) -> Any:
        return await super().call_with_retry(do, fail, sync.never_a_lost_reply(is_retryable), with_failure_count)


def _retry() -> Retry:
    return _SafeRetry(ExponentialBackoff(cap=0.5, base=0.05), sync.RETRIES, supported_errors=(redis.ConnectionError,))


class _MarksLostReplies:
    """Mixin for a redis.asyncio connection class: a failure while reading a reply is ReplyLost.

    The connection's own set-up (HELLO, AUTH, SELECT) and health checks change nothing, so
    they stay retryable, as in patterns.connection.
    """

    _patterns_quiet = False

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)  # type: ignore[misc]
        except (redis.ConnectionError, redis.TimeoutError) as error:
            if self._patterns_quiet or isinstance(error, ReplyLost):
                raise
            raise sync.lost_reply(error) from error

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """redis.asyncio's send, with the write bounded by ``asyncio.timeout`` instead of ``wait_for``.

        On Python 3.11 ``asyncio.wait_for`` loses a cancellation that arrives as the write
        finishes: the cancelled task goes on waiting for its reply, up to the socket timeout.
        The write itself, the disconnect on any failure and the errors are redis-py's.
        """
        timeout = self.socket_timeout  # type: ignore[attr-defined]
        if not timeout:
            return await super().send_packed_command(command, check_health)  # type: ignore[misc]
        self.socket_timeout = None  # type: ignore[attr-defined]  # redis-py's wait_for is skipped...
        try:
            async with async_timeout(timeout):  # ...and the same bound applies here (asyncio.timeout on 3.11)
                return await super().send_packed_command(command, check_health)  # type: ignore[misc]
        except asyncio.TimeoutError:
            await self.disconnect(nowait=True)  # type: ignore[attr-defined]
            raise redis.TimeoutError("Timeout writing to socket") from None
        finally:
            self.socket_timeout = timeout  # type: ignore[attr-defined]

    async def on_connect_check_health(self, *args: Any, **kwargs: Any) -> Any:
        return await self._quietly(super().on_connect_check_health, *args, **kwargs)  # type: ignore[misc]

    async def check_health(self) -> Any:
        return await self._quietly(super().check_health)  # type: ignore[misc]

    async def _quietly(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        self._patterns_quiet = True
        try:
            return await call(*args, **kwargs)
        finally:
            self._patterns_quiet = False


def _marking(connection_class: type) -> type:
    return sync._marking(connection_class, _MarksLostReplies)


_pools: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aredis.ConnectionPool]]" = \
    weakref.WeakKeyDictionary()


async def connect(url: str | None = None, *, namespace: str | None = None) -> Any:
    """An asyncio client for ``url``, else for ``REDIS_URL``, else for the embedded fakeredis server.

    The twin of ``patterns.connect()``: same URL rules and error messages, ``str`` replies,
    ``namespace`` (or ``WORKBOOK_NAMESPACE``) prefixing every key the patterns build.
    """
    url = url if url is not None else os.environ.get("REDIS_URL", "").strip() or None
    namespace = namespace if namespace is not None else os.environ.get("WORKBOOK_NAMESPACE") or None
    client = await _real_client(url) if url else fake_client()
    keys.set_namespace(client, namespace)
    client._patterns_loop = asyncio.get_running_loop()
    return client


def check_loop(r: Any) -> None:
    """Refuse a client made by connect() in another event loop, with what to do instead.

    Its connections, pool and locks belong to the loop it was made in: in another one they
    fail with "Event loop is closed" or "bound to a different event loop", after the command
    may have run. A web app makes its client in the loop that serves it (FastAPI's lifespan).
    """
    made_in = getattr(r, "_patterns_loop", None)
    if made_in is not None and made_in is not asyncio.get_running_loop():
        raise PatternError("this client was made by patterns.aio.connect() in another event loop; call "
                           "connect() in the loop that uses it (for a web app, at start-up in its lifespan)")


# Connections per pool (per URL and event loop). A burst of tasks waits for one of them, up to the
# socket timeout, rather than opening a socket each: redis.asyncio's plain pool refuses the 101st
# ("Too many connections"), which a limiter would take for an outage and fail open on.
MAX_CONNECTIONS = 100


def fake_client(server: Any = None) -> Any:
    """fakeredis's asyncio client on ``server`` (default: the embedded one), pooled as connect() pools."""
    import fakeredis

    return fakeredis.FakeAsyncRedis(server=server or sync.embedded_server(), decode_responses=True,
                                    connection_pool_class=aredis.BlockingConnectionPool,
                                    max_connections=MAX_CONNECTIONS, timeout=sync.SOCKET_TIMEOUT)


def _pool_for(url: str) -> aredis.ConnectionPool:
    for loop in [loop for loop in _pools if loop.is_closed()]:  # a pool keeps its loop alive: drop both
        del _pools[loop]
    by_url = _pools.setdefault(asyncio.get_running_loop(), {})
    pool = by_url.get(url)
    if pool is None:
        pool = by_url[url] = aredis.BlockingConnectionPool.from_url(
            url, max_connections=MAX_CONNECTIONS, timeout=sync.SOCKET_TIMEOUT, decode_responses=True,
            socket_connect_timeout=sync.CONNECT_TIMEOUT, socket_timeout=sync.SOCKET_TIMEOUT,
            health_check_interval=30, retry=_retry())
        pool.connection_class = _marking(pool.connection_class)
    return pool


async def _real_client(url: str) -> Any:
    sync._validate_url(url)
    client = aredis.Redis(connection_pool=_pool_for(url))
    try:
        await client.ping()
    except (redis.RedisError, OSError) as error:
        raise sync.ping_failure(url, error) from None
    try:
        clustered = bool((await client.info("cluster")).get("cluster_enabled"))
    except redis.ResponseError:  # INFO denied (a restricted ACL user): a single server
        clustered = False
    if not clustered:
        return client
    sync.check_cluster_url(url)
    tls = urlsplit(url).scheme == "rediss"
    cluster = aredis.RedisCluster.from_url(
        url, decode_responses=True, socket_connect_timeout=sync.CONNECT_TIMEOUT, socket_timeout=sync.SOCKET_TIMEOUT,
        retry=_retry(), max_connections=4 * MAX_CONNECTIONS)  # room for the app's own commands beside the gate
    # redis.asyncio's cluster takes no connection class: every node's connections mark lost replies
    # (its retry loop resends only errors of exactly the types it lists, and ReplyLost is not one).
    marked = _marking(aredis.SSLConnection if tls else aredis.Connection)
    for kwargs in (cluster.connection_kwargs, cluster.nodes_manager.connection_kwargs):
        kwargs["connection_class"] = marked
    for node in cluster.nodes_manager.startup_nodes.values():
        node.connection_class = marked
    await cluster.initialize()
    for node in cluster.get_nodes():
        node.connection_class = marked
    return cluster


def is_cluster(r: Any) -> bool:
    """True for an asyncio Redis Cluster client."""
    return isinstance(r, aredis.RedisCluster)


def gate(r: Any) -> asyncio.Semaphore | None:
    """For a cluster client, what bounds the patterns' commands in flight at once; None otherwise.

    redis.asyncio's cluster nodes refuse a connection past their limit (MaxConnectionsError,
    a ConnectionError) instead of waiting for one, so a burst of 1,000 tasks would look like an
    outage: a limiter would fail open. The patterns' commands wait here for one of
    MAX_CONNECTIONS slots instead (a single server's client waits in its BlockingConnectionPool),
    and connect() gives each node four times as many connections, so the app's own commands on
    the same client have room beside them. Make one cluster client and share it.
    """
    if not is_cluster(r):
        return None
    semaphore = getattr(r, "_patterns_gate", None)
    if semaphore is None:
        semaphore = asyncio.Semaphore(MAX_CONNECTIONS)
        r._patterns_gate = semaphore
    return semaphore


async def bounded(r: Any, call: Callable[[], Awaitable[Any]]) -> Any:
    """Await ``call()``, one command of the patterns on ``r``: in ``r``'s own loop, within its gate."""
    check_loop(r)
    semaphore = gate(r)
    if semaphore is None:
        return await call()
    async with semaphore:
        return await call()


async def send_batch(client: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
    """``patterns.connection.send_batch`` awaited: ``commands`` in one write, never twice, a reply each.

    ``client`` is a client of one server (redis.asyncio or fakeredis's) or a node of a
    redis.asyncio cluster (its own connections; redis.asyncio's cluster pipeline would send a
    node's commands again after a lost reply). An error reply comes back as its exception; when
    the connection fails, or the task is cancelled, between two reads, the replies not read are
    the connection's error (those commands may have run) and the connection is closed, so no
    later command reads a reply that is not its own.
    """
    if not commands:
        return []
    if sync.is_fake(client):  # in-process: nothing can be cut half-way or lost, but the server can be "down"
        try:
            async with client.pipeline(transaction=False) as pipe:
                for args in commands:
                    pipe.execute_command(*args)
                return list(await pipe.execute(raise_on_error=False))
        except sync.UNAVAILABLE_ERRORS as error:
            return [error] * len(commands)
    if getattr(client, "connection", None) is not None:  # a single-connection client: its one connection, its lock
        async with client._single_conn_lock:
            return await _send_and_read_all(client.connection, commands)
    if isinstance(client, aredis.cluster.ClusterNode):
        try:
            conn = client.acquire_connection()  # MaxConnectionsError when the node has none left
        except sync.UNAVAILABLE_ERRORS as error:
            return [error] * len(commands)
        try:
            await client.disconnect_if_needed(conn)  # one marked for reconnect (a topology change): afresh
            return await _send_and_read_all(conn, commands)
        finally:
            client.release(conn)
    pool = client.connection_pool
    try:
        conn = await pool.get_connection()  # it connects: a server that is down fails here, before anything is sent
    except sync.UNAVAILABLE_ERRORS as error:
        return [error] * len(commands)
    try:
        return await _send_and_read_all(conn, commands)
    finally:
        await pool.release(conn)


async def _send_and_read_all(conn: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
    replies: list[Any] = []
    try:
        await conn.send_packed_command(conn.pack_commands(commands))
        for _ in commands:
            try:
                replies.append(await conn.read_response())
            except redis.ResponseError as error:
                replies.append(error)
    except sync.UNAVAILABLE_ERRORS as error:
        replies += [error] * (len(commands) - len(replies))
    finally:
        if len(replies) < len(commands):  # cancelled or failed between two reads: never hand on unread replies
            await asyncio.shield(conn.disconnect(nowait=True))
    return replies
