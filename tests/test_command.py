"""connection.command: the lean path every script call takes, with execute_command's retry rules.

It skips redis-py's per-command bookkeeping, so each rule that bookkeeping enforced is checked
here on its own: the reply, retries of an unsent command, no resend of a lost reply, the
connection always given back, and the clients it must leave to their own path.
"""
from __future__ import annotations

import pytest
import redis

import patterns
from patterns import connection, keys
from patterns.connection import command
from patterns.errors import ReplyLost
from patterns.scripts import LuaScript
from patterns.trace import trace
from helpers import Proxy

COUNT = LuaScript("count", "return redis.call('INCR', KEYS[1])")


def in_use(client) -> int:
    return len(client.connection_pool._in_use_connections)


def test_command_gives_what_execute_command_gives_for_replies_without_a_callback(r):
    key = keys.key(r, "t", "a")
    assert command(r, "GET", key) is None
    assert COUNT(r, [key]) == 1 and COUNT(r, [key]) == 2
    assert command(r, "GET", key) == r.execute_command("GET", key) == "2"
    assert command(r, "EVAL", "return {1, 'two', false}", 0) == r.execute_command("EVAL", "return {1, 'two', false}", 0)


def test_a_script_is_one_round_trip_the_tracer_sees(r):
    key = keys.key(r, "t", "a")
    COUNT(r, [key])
    with trace(r) as t:
        COUNT(r, [key])
    assert t.round_trips == 1 and t.names == ["EVALSHA"]


def test_the_connection_goes_back_to_the_pool_after_an_error_reply(real):
    real.set("text", "not a number")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        COUNT(real, ["text"])
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        command(real, "LPUSH", "text", "x")
    assert in_use(real) == 0
    assert COUNT(real, ["n"]) == 1  # and the connection still works


def test_a_connection_the_server_closed_while_idle_is_replaced_and_the_script_runs_once(real):
    COUNT(real, ["n"])
    admin = redis.Redis(**{k: v for k, v in real.connection_pool.connection_kwargs.items()
                           if k in ("host", "port")}, decode_responses=True)
    assert admin.client_kill_filter(_type="normal", skipme=True) >= 1
    assert COUNT(real, ["n"]) == 2  # sent once on a fresh connection: not lost, not doubled
    admin.close()


@pytest.mark.parametrize(("failures", "sent"), [(connection.RETRIES, True), (connection.RETRIES + 1, False)])
def test_a_script_that_could_not_be_sent_is_tried_again_up_to_the_retries(redis_server, monkeypatch, failures, sent):
    monkeypatch.setattr(connection, "_pools", {})  # a pool made as connect() makes it, whatever ran before
    real = patterns.connect(redis_server.url)
    real.flushall()
    COUNT(real, ["n"])
    tries = []
    connection_class = real.connection_pool.connection_class
    original = connection_class.send_packed_command

    def cut(self, packed, check_health=True):
        if b"EVALSHA" not in b"".join(packed if isinstance(packed, list) else [packed]):
            return original(self, packed, check_health)  # the new connection's own set-up
        tries.append(1)
        if len(tries) <= failures:
            self.disconnect()
            raise redis.ConnectionError("cut before the command went out")
        return original(self, packed, check_health)

    monkeypatch.setattr(connection_class, "send_packed_command", cut)
    if sent:
        assert COUNT(real, ["n"]) == 2  # sent on the last try, and run once
    else:
        with pytest.raises(redis.ConnectionError, match="cut before"):
            COUNT(real, ["n"])
        monkeypatch.undo()
        assert real.get("n") == "1"  # never reached the server
    assert len(tries) == min(failures + 1, 1 + connection.RETRIES)
    assert in_use(real) == 0


def test_a_script_whose_reply_was_lost_raises_reply_lost_and_ran_exactly_once(real, redis_server):
    with Proxy(redis_server.port) as proxy:
        client = patterns.connect(proxy.url)
        COUNT(client, ["n"])  # loads the script: the reply dropped below is EVALSHA's
        proxy.drop_replies(1)
        with pytest.raises(ReplyLost, match="may have run"):
            COUNT(client, ["n"])
        assert proxy.dropped == 1
        assert real.get("n") == "2"  # it ran, once: a resend would have made it 3
        assert in_use(client) == 0
        assert COUNT(client, ["n"]) == 3  # the next call opens a new connection
        client.connection_pool.disconnect()


def test_a_pipeline_queues_the_command_as_execute_command_would(r):
    key = keys.key(r, "t", "a")
    COUNT(r, [key])  # loaded: a pipeline cannot fall back from EVALSHA to EVAL
    pipe = r.pipeline(transaction=False)
    COUNT(pipe, [key])
    command(pipe, "GET", key)
    assert pipe.execute() == [2, "2"]


def test_a_single_connection_client_keeps_its_one_connection(redis_server):
    client = redis.Redis(host="127.0.0.1", port=redis_server.port, decode_responses=True, single_connection_client=True)
    client.flushall()
    assert connection._lean_pool(client) is None
    own = client.connection
    assert COUNT(client, ["n"]) == 1 and COUNT(client, ["n"]) == 2
    assert client.connection is own and in_use(client) == 1  # its own, held for good
    client.close()


def test_fakeredis_and_cluster_clients_use_their_own_path(r):
    lean = connection._lean_pool(r) is not None
    assert lean == (not patterns.is_fake(r) and not patterns.is_cluster(r))


# A script call packs its EVALSHA prefix once and only its keys per call (scripts.LuaScript). The
# review of that change found three ways its own packing could differ from the connection's; each
# client below must get the bytes, the keys and the memory its own packer would give.

class _RecordingPacker(redis.connection.PythonRespSerializer):
    """A connection's own packer that is not redis-py's pure-Python one (hiredis is another)."""

    used = 0

    def pack(self, *args):
        type(self).used += 1
        return super().pack(*args)


def test_a_script_call_packs_with_the_connections_own_packer_when_it_has_its_own(redis_server):
    class Packing(redis.Connection):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._command_packer = _RecordingPacker(6000, self.encoder.encode)

    pool = redis.ConnectionPool.from_url(redis_server.url, decode_responses=True, connection_class=Packing)
    client = redis.Redis(connection_pool=pool)
    key = keys.key(client, "t", "packer")
    COUNT(client, [key])  # loads the script (EVAL)
    before = _RecordingPacker.used
    assert COUNT(client, [key]) == 2
    assert _RecordingPacker.used == before + 1, "the script call was packed by something other than the client's packer"
    client.close()


def test_a_script_call_works_on_a_client_side_caching_client(redis_server, monkeypatch):
    from redis.cache import CacheConfig
    from redis.connection import CacheProxyConnection
    monkeypatch.setattr(CacheProxyConnection, "MIN_ALLOWED_VERSION", "7.0.0")  # the throwaway server is 7.0
    client = redis.Redis.from_url(redis_server.url, protocol=3, cache_config=CacheConfig(), decode_responses=True)
    key = keys.key(client, "t", "cached")
    assert COUNT(client, [key]) == 1 and COUNT(client, [key]) == 2
    from patterns.ratelimit import FixedWindow
    assert FixedWindow(client, 5, 10, name="cached").hit("alice").allowed
    assert in_use(client) == 0
    client.close()


def test_a_large_script_argument_is_sent_without_copies_of_it(real):
    import tracemalloc
    value = b"x" * 8_000_000
    key = keys.key(real, "t", "large")
    store = LuaScript("store", "return redis.call('SET', KEYS[1], ARGV[1])")
    store(real, [key], [b""])  # the script is loaded and a connection open before measuring
    tracemalloc.start()
    try:
        store(real, [key], [value])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < len(value) // 2, f"sending {len(value):,} bytes took {peak:,} bytes more memory"
    assert real.strlen(key) == len(value)
    real.delete(key)
