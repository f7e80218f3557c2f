"""Backends for every test: embedded fakeredis, a real redis-server, a 3-master cluster, and a
workshop attendee (a real server, through an ACL user fenced into its namespace).

Parametrize a test over backends by asking for ``r``. Each test gets an empty key
space: a new FakeServer, or a FLUSHALL of a throwaway server or cluster started here
(never of any other server). Under ``CI=true`` a real-server or cluster leg that
cannot run fails instead of being skipped.
"""
from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any

import fakeredis
import pytest

import patterns
from patterns import connection, keys, workshop
from patterns.sandbox import LocalCluster, LocalServer, redis_server_binary

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ["fake", "real", "cluster", "attendee"]
ATTENDEE = "alice"  # the namespace tests set with keys.set_namespace(r, "alice") is the attendee's own
SERVER_FIXTURES = {"redis_server", "redis_cluster"}


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a skipped real-server or cluster leg fails the run)")
    pytest.skip(reason)


def _started(make):
    """Make and start a throwaway server or cluster, or skip (fail under CI) where impossible."""
    if redis_server_binary() is None:
        _unavailable("redis-server is not installed")
    resource = make()
    try:
        return resource.start()
    except RuntimeError as error:
        resource.cleanup()
        _unavailable(str(error))


@pytest.fixture(scope="session")
def redis_server():
    """One throwaway redis-server for the whole session (tests may stop and restart it)."""
    server = _started(LocalServer)
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def redis_cluster():
    """One throwaway 3-master Redis Cluster for the whole session."""
    cluster = _started(lambda: LocalCluster(masters=3))
    yield cluster
    cluster.cleanup()


@pytest.fixture(scope="session")
def cluster_client(redis_cluster):
    client = patterns.connect(redis_cluster.url)
    yield client
    client.close()


@dataclass
class Attendee:
    """A workshop attendee on the throwaway server: its URL, its namespace, and an admin client."""

    url: str
    namespace: str
    admin: Any

    def client(self) -> Any:
        return patterns.connect(self.url, namespace=self.namespace)


def make_attendee(server: LocalServer, name: str = ATTENDEE, **rules: Any) -> Attendee:
    """An ACL user with exactly the rules ``patterns.workshop.provision`` gives an attendee."""
    admin = patterns.connect(server.url, namespace="")
    password = secrets.token_urlsafe(workshop.PASSWORD_BYTES)
    admin.execute_command("ACL", "SETUSER", name, "reset", f">{password}", *workshop.attendee_rules(name, **rules))
    return Attendee(workshop.attendee_url(server.url, name, password), name, admin)


@pytest.fixture
def attendee(redis_server) -> Attendee:
    """A workshop attendee on the throwaway server (made afresh: a restarted server forgets its users)."""
    if not redis_server.running:
        redis_server.start()
    made = make_attendee(redis_server)
    yield made
    made.admin.acl_deluser(made.namespace)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def r(request, backend):
    """A client with an empty key space, on the backend under test."""
    client = _empty_client(request, backend)
    yield client
    keys.set_namespace(client, None)


@pytest.fixture
def make_async(r):
    """An async function making an asyncio client of ``r``'s key space, in the event loop that awaits it
    (the same FakeServer, or server, user and namespace: see tests/aio_twins.py)."""
    from aio_twins import async_client_like

    return lambda: async_client_like(r)


@pytest.fixture
def make_crowd_client(make_async, monkeypatch):
    """``make_async`` for 1,000 tasks at once: the waits are not what such a test tests, so they are long.

    Under CI's load, with a second suite beside it, 100 connections opened at once took longer than
    a connect's 2 s, a reply waited over 5 s for the busy event loop to read it, and a task waited
    longer than 5 s for a free connection of the pool: limiters failed open, locks could not reach
    Redis. Connects and replies get 60 s here, and the pool's wait has no limit.
    """
    monkeypatch.setattr(connection, "SOCKET_TIMEOUT", 60.0)
    monkeypatch.setattr(connection, "CONNECT_TIMEOUT", 60.0)

    async def made():
        client = await make_async()
        if hasattr(client, "connection_pool"):  # a cluster client waits for a slot of its own (aio.connection.gate)
            client.connection_pool.timeout = None
        return client

    return made


@pytest.fixture(params=[b for b in BACKENDS if b != "fake"])
def on_server(request):
    """Like ``r``, on every backend but fakeredis: for tests that skew this process's clock.

    fakeredis answers TIME from this very process's ``time.time``, so skewing the app's
    clock would skew its "server" clock too, and such a test could not tell them apart.
    """
    client = _empty_client(request, request.param)
    yield client
    keys.set_namespace(client, None)


def _empty_client(request, backend: str):
    if backend == "fake":
        client = fakeredis.FakeRedis(server=connection.fake_server(), decode_responses=True)
    elif backend == "real":
        client = patterns.connect(request.getfixturevalue("redis_server").url)
    elif backend == "attendee":
        attendee = request.getfixturevalue("attendee")
        attendee.admin.flushall()
        client = attendee.client()
        client.admin = attendee.admin  # for tests that look at every key: an attendee may not SCAN
    else:
        client = request.getfixturevalue("cluster_client")
    if backend in ("real", "cluster"):
        if backend == "real" and not request.getfixturevalue("redis_server").running:
            request.getfixturevalue("redis_server").start()
        client.flushall()
    return client


@pytest.fixture
def one_second_socket_timeout(monkeypatch, redis_server):
    """A client of the throwaway server whose socket timeout is 1 s (the real one is 5 s), so a
    wait longer than the socket timeout is quick to test; made the way connect() makes every client."""
    monkeypatch.setattr(connection, "SOCKET_TIMEOUT", 1.0)
    monkeypatch.setattr(connection, "_pools", {})
    if not redis_server.running:
        redis_server.start()
    client = patterns.connect(redis_server.url)
    client.flushall()
    yield client
    client.connection_pool.disconnect()


@pytest.fixture
def skewed_clock(monkeypatch):
    """``skewed_clock(offset)`` makes this app server's clock run ``offset`` seconds off.

    Only ``time.time`` moves, as NTP drift would move it; ``time.monotonic`` (timeouts) does
    not. Pair it with ``on_server``: the server's clock must decide, and on a real server it
    is untouched.
    """
    real_time = time.time

    def skew(offset: float) -> None:
        monkeypatch.setattr(time, "time", lambda: real_time() + offset)

    return skew


@pytest.fixture
def real(redis_server):
    """A client of the throwaway real server (for tests that need real threads and sockets)."""
    client = patterns.connect(redis_server.url)
    client.flushall()
    return client


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "not_as_attendee(reason): no attendee leg for this test (it tests something an attendee "
        "may not do, or the tracer/audit themselves); the reason says where the attendee's side is tested")


def pytest_collection_modifyitems(config, items):
    """Drop the attendee leg of tests marked not_as_attendee (reported as deselected, never as passed).

    Notebooks whose labs start their own redis-server have committed outputs from a machine that
    has one; where it is missing (and not under CI), skip them rather than fail the comparison."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        as_attendee = callspec is not None and _backend_of(callspec) == "attendee"
        (dropped if as_attendee and item.get_closest_marker("not_as_attendee") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    if redis_server_binary() is not None or IN_CI:
        return
    needs_server: dict[str, bool] = {}
    for item in items:
        path = str(getattr(item, "fspath", ""))
        if path.endswith(".ipynb"):
            if path not in needs_server:
                needs_server[path] = _starts_a_server(path)
            if needs_server[path]:
                item.add_marker(pytest.mark.skip(reason="its labs start a redis-server, which is not installed"))


def _starts_a_server(path: str) -> bool:
    """Whether a notebook's committed outputs came from throwaway servers (scripts/run_notebooks.py notes it)."""
    with open(path, encoding="utf-8") as notebook:
        metadata = json.load(notebook).get("metadata", {})
    return metadata.get("workbook", {}).get("starts_redis_server", True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true, a skipped real-server or cluster test is a failure, not a pass."""
    outcome = yield
    report = outcome.get_result()
    callspec = getattr(item, "callspec", None)
    backend = _backend_of(callspec) if callspec else None
    on_server = backend in ("real", "cluster", "attendee") or bool(SERVER_FIXTURES & set(getattr(item, "fixturenames", ())))
    if IN_CI and report.skipped and on_server:
        report.outcome = "failed"
        report.longrepr = f"skipped on a real server or cluster under CI=true: {report.longrepr}"


def _backend_of(callspec) -> str | None:
    """The backend a parametrized test runs on (through ``r`` or ``on_server``)."""
    return callspec.params.get("backend") or callspec.params.get("on_server")
