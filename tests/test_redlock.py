"""Redlock: a majority of independent servers, on both APIs (patterns.lock and patterns.aio).

Every test runs twice through tests/aio_twins.py: on patterns.lock.Redlock, and on
patterns.aio.Redlock made over the same servers' asyncio clients.
"""
from __future__ import annotations

import math

import fakeredis
import pytest

import aio_twins
import patterns
from aio_twins import pytest_generate_tests  # noqa: F401  (pytest runs it: every test on both APIs)
from patterns import aio, keys
from patterns.lock import Redlock
from patterns.sandbox import LocalServer, redis_server_binary
from helpers import frozen

api = aio_twins.both_apis(lambda leg: {"Redlock": leg.view_over(aio.Redlock)})


@pytest.mark.parametrize(("servers", "message"), [(2, "at least 3 independent servers"), (0, "needs servers")])
def test_too_few_servers_are_refused(servers, message):
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    with pytest.raises(ValueError, match=message):
        Redlock([client] * servers, "job", allow_fewer=servers == 0)


# -- Redlock, over servers the harness starts and stops ---------------------------------------------


@pytest.fixture(scope="module")
def five_servers():
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed")
    servers = [LocalServer().start() for _ in range(5)]
    yield servers
    for server in servers:
        server.cleanup()


@pytest.fixture
def redlock_clients(five_servers, api, request):
    for server in five_servers:
        if not server.running:
            server.restart()
    clients = [patterns.connect(s.url) for s in five_servers]
    for client in clients:
        client.flushall()
        if api == "async":  # its asyncio twin made now: a test stops servers before making the Redlock
            request.node.aio_leg.client(client)
    return clients


def test_redlock_holds_on_a_majority_and_excludes_others(redlock_clients):
    first = Redlock(redlock_clients, "job", ttl=5)
    assert first.acquire() and 0 < first.validity < 5
    assert Redlock(redlock_clients, "job", ttl=5, retries=0).acquire() is False
    first.release()
    assert all(c.exists(keys.key(c, "lock", "job")) == 0 for c in redlock_clients)


def test_redlock_with_two_of_five_servers_down_still_acquires(five_servers, redlock_clients):
    for server in five_servers[:2]:
        server.stop()
    with Redlock(redlock_clients, "job", ttl=5, retries=0) as lock:
        assert lock.token


def test_redlock_with_three_of_five_servers_down_fails_and_leaves_nothing(five_servers, redlock_clients):
    for server in five_servers[:3]:
        server.stop()
    lock = Redlock(redlock_clients, "job", ttl=5, retries=1, retry_delay=0.01)
    assert lock.acquire() is False
    assert all(c.exists(keys.key(c, "lock", "job")) == 0 for c in redlock_clients[3:])


def test_redlock_a_minority_holding_the_lock_is_not_enough(redlock_clients):
    for client in redlock_clients[:3]:  # someone else holds it on three servers
        client.set(keys.key(client, "lock", "job"), "someone else", px=5000)
    assert Redlock(redlock_clients, "job", ttl=5, retries=0).acquire() is False
    assert [c.get(keys.key(c, "lock", "job")) for c in redlock_clients[3:]] == [None, None]


# -- hardening: Redlock with a frozen node --------------------------------------------------------


def test_redlock_acquires_a_short_lock_while_one_of_three_nodes_is_frozen(five_servers, redlock_clients):
    three = redlock_clients[:3]
    with frozen(five_servers[0]):
        lock = Redlock(three, "job", ttl=3, retries=0)
        assert lock.acquire()
        # The validity left is the lease minus the time acquiring took: a frozen node must cost a
        # per-node timeout far below the lease, not the client's 5 s socket timeout (x retries).
        assert lock.validity > 2.0
        lock.release()
        assert all(c.exists(keys.key(c, "lock", "job")) == 0 for c in three[1:])
    # The frozen node runs what was sent to it once it thaws: at worst a grant that expires
    # with its lease, as the algorithm allows for.
    assert three[0].pttl(keys.key(three[0], "lock", "job")) <= 3000


@pytest.mark.parametrize("node_timeout", [0, -1, math.nan, math.inf, 3, 5, "0.1", True])
def test_redlock_refuses_a_node_timeout_that_is_not_far_below_the_lease(node_timeout):
    clients = [fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True) for _ in range(3)]
    with pytest.raises((TypeError, ValueError), match="node_timeout"):
        Redlock(clients, "job", ttl=3, node_timeout=node_timeout)


def test_redlock_refuses_three_clients_of_one_server():
    one = fakeredis.FakeServer()
    same = [fakeredis.FakeRedis(server=one, decode_responses=True) for _ in range(3)]
    with pytest.raises(ValueError, match="same server"):
        Redlock(same, "job", ttl=5)
    with pytest.raises(ValueError, match="same server"):
        Redlock([patterns.connect(), patterns.connect(), patterns.connect()], "job", ttl=5)


def test_redlock_says_when_its_ttl_is_too_short_rather_than_blaming_node_timeout():
    clients = [fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True) for _ in range(3)]
    with pytest.raises(ValueError, match="ttl=0.005 s is too short"):
        Redlock(clients, "job", ttl=0.005)
