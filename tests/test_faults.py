"""Server faults: the harness stops, pauses and restarts real servers mid-run.

What each pattern does when Redis fails, proven rather than argued:
- connect(): a stopped or frozen server is reported within a bounded time, never a hang;
- Cache: serves from the source while Redis is down (a single server stopped or frozen,
  or a cluster that lost a master and declared itself down) and uses Redis again once it
  is back;
- rate limiters: fail open or closed, as the caller chose, within the time bound, and
  count again once the server is back;
- a subscriber reconnects and subscribes again after a restart, and reports the gap;
- stream consumers resume from their last acknowledged entry after a restart;
- lock acquisition on a server that is down or frozen raises a clear error, within the
  bound: it never hangs, and it never grants the lock.
Each chapter adds its pattern's faults here.
"""
from __future__ import annotations

import os
import time

import pytest

import patterns
from patterns import Cache, connection
from patterns.errors import LockUnavailable
from patterns.lock import Lock
from patterns.pubsub import EventStream, Subscriber, publish_event
from patterns.ratelimit import ALGORITHMS
from patterns.sandbox import LocalCluster, LocalServer, redis_server_binary
from helpers import frozen, wait_for

pytestmark = pytest.mark.skipif(redis_server_binary() is None and not os.environ.get("CI"),
                                reason="redis-server is not installed")


@pytest.fixture
def server():
    """A server of this test's own: these tests stop, freeze and restart it."""
    with LocalServer() as local:
        yield local


@pytest.fixture
def short_timeouts(monkeypatch):
    """Timeouts of 0.3 s for clients made in the test, so bounds are proven in seconds."""
    monkeypatch.setattr(connection, "CONNECT_TIMEOUT", 0.3)
    monkeypatch.setattr(connection, "SOCKET_TIMEOUT", 0.3)
    monkeypatch.setattr(connection, "_pools", {})  # no pool made earlier with the real timeouts
    # Worst case: 1 try + RETRIES retries, each a full timeout, plus backoff (capped at 0.5 s).
    return (1 + connection.RETRIES) * (0.3 + 0.5) + 0.5


def test_connect_to_a_stopped_server_says_so_at_once(server):
    server.stop()
    started = time.monotonic()
    with pytest.raises(patterns.BackendUnavailable, match=f"127.0.0.1:{server.port}"):
        patterns.connect(server.url)
    assert time.monotonic() - started < 2


def test_connect_to_a_frozen_server_gives_up_within_the_bound(server, short_timeouts):
    with frozen(server):
        started = time.monotonic()
        with pytest.raises(patterns.BackendUnavailable, match="Timeout"):
            patterns.connect(server.url)
        elapsed = time.monotonic() - started
    assert 0.3 <= elapsed <= short_timeouts


def test_a_call_to_a_server_that_freezes_mid_run_is_bounded(server, short_timeouts):
    client = patterns.connect(server.url)
    client.set("k", "v")
    with frozen(server):
        started = time.monotonic()
        with pytest.raises(connection.UNAVAILABLE_ERRORS):
            client.get("k")
        elapsed = time.monotonic() - started
    assert 0.3 <= elapsed <= short_timeouts
    assert client.get("k") == "v"  # thawed: the same client works again


def test_cache_serves_from_the_source_while_the_server_is_down_and_recovers(server):
    cache = Cache(patterns.connect(server.url), "faults", breaker_seconds=0.2)
    assert cache.get_or_set("k", lambda: "v1") == "v1"
    server.stop()
    assert [cache.get_or_set("k", lambda: "from the database") for _ in range(3)] == ["from the database"] * 3
    assert cache.stats.redis_errors == 1 and cache.stats.bypassed == 2
    server.restart()  # same port, empty (nothing is persisted)
    time.sleep(0.25)  # the breaker closes
    calls = []
    assert cache.get_or_set("k", lambda: calls.append(1) or "v2") == "v2"
    assert cache.get_or_set("k", lambda: calls.append(1) or "v3") == "v2"
    assert len(calls) == 1  # cached in Redis again


def test_cache_on_a_frozen_server_pays_one_timeout_then_skips_redis(server, short_timeouts):
    cache = Cache(patterns.connect(server.url), "faults", breaker_seconds=30)
    with frozen(server):
        started = time.monotonic()
        values = [cache.get_or_set(f"k{i}", lambda: "source") for i in range(10)]
        elapsed = time.monotonic() - started
    assert values == ["source"] * 10
    assert cache.stats.redis_errors == 1 and cache.stats.bypassed == 9
    assert elapsed <= short_timeouts


def test_cache_on_a_cluster_that_loses_a_master(tmp_path):
    """A master dies with no replica: its keys fail at once; after cluster-node-timeout the
    cluster declares itself down (CLUSTERDOWN) for every key. The cache serves all of it
    from the source, and only the first failure costs time (the breaker)."""
    with LocalCluster() as cluster:
        client = patterns.connect(cluster.url)
        try:
            cache = Cache(client, "faults", breaker_seconds=60)
            names = [f"k{i}" for i in range(30)]
            for name in names:
                cache.get_or_set(name, lambda: "cached")
            cluster.nodes[1].stop()
            _wait_for_cluster_down(cluster)
            started = time.monotonic()
            values = [cache.get_or_set(name, lambda: "source") for name in names]
            elapsed = time.monotonic() - started
        finally:
            client.close()
    assert values == ["source"] * 30
    assert cache.stats.redis_errors == 1 and cache.stats.bypassed == 29
    assert elapsed < 10


def _wait_for_cluster_down(cluster: LocalCluster, timeout: float = 30) -> None:
    import redis

    survivor = redis.Redis(port=cluster.nodes[0].port, decode_responses=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if survivor.cluster("info").get("cluster_state") == "fail":
            survivor.close()
            return
        time.sleep(0.2)
    survivor.close()
    pytest.fail("the cluster never declared itself down after losing a master")


@pytest.mark.parametrize("on_unavailable", ["open", "closed"])
def test_rate_limiter_fails_as_configured_while_the_server_is_down_then_counts_again(server, on_unavailable):
    limiter = ALGORITHMS["sliding_log"](patterns.connect(server.url), 2, 60, on_unavailable=on_unavailable,
                                        breaker_seconds=0.2)
    assert [limiter.hit("client").allowed for _ in range(3)] == [True, True, False]
    server.stop()
    started = time.monotonic()
    decisions = [limiter.hit("client") for _ in range(5)]
    assert time.monotonic() - started < 2
    assert all(d.degraded and d.allowed is (on_unavailable == "open") for d in decisions)
    server.restart()  # empty again: nothing is persisted
    time.sleep(0.25)
    assert [limiter.hit("client").allowed for _ in range(3)] == [True, True, False]


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_rate_limiter_on_a_frozen_server_decides_within_the_bound(server, short_timeouts, algorithm):
    limiter = ALGORITHMS[algorithm](patterns.connect(server.url), 5, 60, on_unavailable="closed",
                                    breaker_seconds=30)
    with frozen(server):
        started = time.monotonic()
        decisions = [limiter.hit("client") for _ in range(5)]
        elapsed = time.monotonic() - started
    assert all(d.degraded and not d.allowed for d in decisions)
    assert elapsed <= short_timeouts  # one timeout, then the breaker answers at once


def test_subscriber_survives_a_server_restart_and_reports_the_gap(server):
    client = patterns.connect(server.url)
    received, gaps = [], []
    with Subscriber(client, ["orders"], lambda ch, ev: received.append(ev), on_gap=gaps.append):
        publish_event(client, "orders", "before")
        assert wait_for(lambda: received == ["before"])
        server.stop()
        time.sleep(0.3)
        server.restart()
        assert wait_for(lambda: len(gaps) == 1)  # reconnected and subscribed again
        assert wait_for(lambda: client.pubsub_numsub("orders") == [("orders", 1)])
        publish_event(client, "orders", "after")
        assert wait_for(lambda: received == ["before", "after"])
    assert gaps[0] >= 0.3


def test_stream_consumers_resume_from_their_last_ack_after_a_restart():
    with LocalServer("--appendonly", "yes", "--appendfsync", "always") as durable:
        client = patterns.connect(durable.url)
        stream = EventStream(client, "jobs", start="0")
        for i in range(6):
            stream.append(i)
        done = stream.read("worker", count=2)
        stream.ack(*[m.id for m in done])
        stream.read("worker", count=2)  # taken, then the server goes down before the ack
        durable.restart()
        resumed = stream.pending_for("worker") + stream.read("worker")
        assert [m.event for m in resumed] == [2, 3, 4, 5]
        client.connection_pool.disconnect()


def test_lock_acquire_on_a_stopped_server_raises_at_once(server):
    lock = Lock(patterns.connect(server.url), "job", ttl=5, timeout=30)
    server.stop()
    started = time.monotonic()
    with pytest.raises(LockUnavailable, match="the lock was not granted"):
        lock.acquire()
    assert time.monotonic() - started < 2 and lock.token is None


def test_lock_acquire_on_a_frozen_server_raises_within_the_bound(server, short_timeouts):
    lock = Lock(patterns.connect(server.url), "job", ttl=5, timeout=30)
    with frozen(server):
        started = time.monotonic()
        with pytest.raises(LockUnavailable):
            lock.acquire()
        elapsed = time.monotonic() - started
    assert elapsed <= short_timeouts and lock.token is None
