"""patterns.pooling, which notebook 00 uses to compare the shared pool with a connection per request."""
from __future__ import annotations

from patterns import is_cluster, keys
from patterns.pooling import client_of_its_own, ms_per_call, pool_serving


def test_a_client_of_its_own_reaches_the_same_data_through_a_new_pool(r):
    key = keys.plain(r, "start:greeting")
    r.set(key, "hello", ex=60)
    client = client_of_its_own(r, key)
    try:
        assert client.get(key) == "hello"
        assert client.connection_pool is not pool_serving(r, key)
    finally:
        client.close()


def test_closing_it_closes_its_connection_as_the_end_of_a_request_would(r):
    key = keys.plain(r, "start:greeting")
    client = client_of_its_own(r, key)
    client.get(key)
    pool = client.connection_pool
    assert len(pool._available_connections) == 1
    client.close()
    assert all(c._sock is None for c in pool._available_connections)


def test_the_pool_serving_a_key_is_its_nodes_on_a_cluster(r):
    key = keys.plain(r, "start:greeting")
    pool = pool_serving(r, key)
    if is_cluster(r):
        assert pool is r.get_node_from_key(key).redis_connection.connection_pool
    else:
        assert pool is r.connection_pool


def test_ms_per_call_calls_the_function_that_many_times():
    calls = []
    assert ms_per_call(lambda: calls.append(1), times=7) >= 0
    assert len(calls) == 7
