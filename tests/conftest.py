"""Backends for every test: embedded fakeredis always, and a real redis-server the harness starts.

Parametrize a test over backends by asking for ``r``. Each test gets an empty key
space: a new FakeServer, or a FLUSHALL of the throwaway server started here (never
of any other server). Under ``CI=true`` a real-server leg that cannot run fails.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import fakeredis
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from servers import RedisServer, redis_server_binary  # noqa: E402

import patterns  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ["fake", "real"]


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a skipped real-server leg fails the run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_server():
    """One throwaway redis-server for the whole session."""
    if redis_server_binary() is None:
        _unavailable("redis-server is not installed")
    server = RedisServer()
    try:
        server.start()
    except RuntimeError as error:
        _unavailable(str(error))
    yield server
    server.cleanup()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def r(request, backend):
    """A client with an empty key space, on the backend under test."""
    if backend == "fake":
        client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    else:
        server = request.getfixturevalue("redis_server")
        client = patterns.connect(server.url)
        client.flushall()
    yield client
    patterns.connection.keys.set_namespace(client, None)


@pytest.fixture
def real(redis_server):
    """A client of the throwaway real server (for tests that need real threads and sockets)."""
    client = patterns.connect(redis_server.url)
    client.flushall()
    return client


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true, a skipped real-server test is a failure, not a pass."""
    outcome = yield
    report = outcome.get_result()
    callspec = getattr(item, "callspec", None)
    backend = callspec.params.get("backend") if callspec else None
    on_real = backend == "real" or "redis_server" in getattr(item, "fixturenames", ())
    if IN_CI and report.skipped and on_real:
        report.outcome = "failed"
        report.longrepr = f"skipped on the real server under CI=true: {report.longrepr}"
