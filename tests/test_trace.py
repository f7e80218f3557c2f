"""The tracer: which commands a block sent, in how many round trips, on every backend."""
from __future__ import annotations

import fakeredis
import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.connection import PythonRespSerializer

import patterns
from patterns.scripts import LuaScript
from patterns.trace import parse_packed, trace

pytestmark = pytest.mark.not_as_attendee("the tracer on raw keys; attendees trace in tests/test_workshop.py")


def test_each_plain_command_is_one_round_trip(r):
    with trace(r) as t:
        r.set("a", "1")
        r.get("a")
    assert t.names == ["SET", "GET"]
    assert t.round_trips == 2
    assert t.summary() == "2 commands in 2 round trips"


def test_a_pipeline_is_one_round_trip(r):
    with trace(r) as t:
        pipe = r.pipeline(transaction=False)
        pipe.set("a", "1")
        pipe.get("a")
        pipe.execute()
    assert (t.names, t.round_trips) == (["SET", "GET"], 1)


def test_a_transaction_shows_multi_and_exec_in_one_round_trip(r):
    with trace(r) as t:
        pipe = r.pipeline(transaction=True)
        pipe.incr("n")
        pipe.expire("n", 60)
        pipe.execute()
    assert (t.names, t.round_trips) == (["MULTI", "INCRBY", "EXPIRE", "EXEC"], 1)


def test_a_loaded_script_is_one_round_trip(r):
    script = LuaScript("demo", "return redis.call('INCR', KEYS[1])")
    script(r, ["n"])  # first call loads it
    with trace(r) as t:
        assert script(r, ["n"]) == 2
    assert (t.names, t.round_trips) == (["EVALSHA"], 1)


def test_an_unknown_script_costs_one_extra_round_trip_once(r):
    # With a key, a cluster routes every call to the same node (keyless ones go anywhere).
    script = LuaScript("fresh", "return 7")
    with trace(r) as t:
        assert script(r, ["k"]) == 7
        assert script(r, ["k"]) == 7
    assert t.names == ["EVALSHA", "EVAL", "EVALSHA"]


def test_connection_setup_is_not_counted(r):
    if patterns.is_cluster(r):
        r.disconnect_connection_pools()
    else:
        r.connection_pool.disconnect()
    with trace(r) as t:
        r.ping()
    assert t.names == ["PING"]


def test_other_clients_are_not_recorded(r):
    other = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    with trace(r) as t:
        other.set("x", "1")
        r.get("x")
    assert t.names == ["GET"]


def test_tracing_without_a_client_records_every_client(r):
    other = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    with trace() as t:
        other.set("x", "1")
        r.get("x")
    assert t.names == ["SET", "GET"]


def test_str_lists_each_command_with_its_round_trip(r):
    with trace(r) as t:
        r.set("greeting", "x" * 100)
    text = str(t)
    assert text.splitlines()[0] == "1 command in 1 round trip"
    assert "  1  SET greeting " + "x" * 23 + "…" in text


def test_cell_magic_prints_the_trace(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "patterns.trace")
    shell.user_ns["c"] = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    shell.run_cell_magic("trace_redis", "c", "c.set('a', 1)\nc.get('a')\n")
    out = capsys.readouterr().out
    assert "2 commands in 2 round trips" in out and "SET a 1" in out


def test_trace_rejects_something_that_is_not_a_client():
    with pytest.raises(TypeError, match="cannot trace"):
        with trace(object()):
            pass


# A command name (redis-py splits the first argument on spaces), then any arguments.
resp_args = st.builds(
    lambda name, rest: [name, *rest],
    st.sampled_from(["GET", "SET", "EVALSHA", "HSET"]),
    st.lists(st.one_of(st.text(max_size=30), st.binary(max_size=8000), st.integers()), max_size=6),
)


@given(commands=st.lists(resp_args, min_size=1, max_size=4))
def test_parse_packed_inverts_redis_py_packing(commands):
    serializer = PythonRespSerializer(buffer_cutoff=6000, encode=fakeredis.FakeRedis().connection_pool.get_encoder().encode)
    packed = [chunk for args in commands for chunk in serializer.pack(*args)]
    expected = [
        tuple((a if isinstance(a, bytes) else str(a).encode()).decode("utf-8", "replace") for a in args)
        for args in commands
    ]
    assert parse_packed(packed) == expected


def test_describe_and_trace_are_public():
    assert patterns.trace is trace


def test_a_cluster_pipeline_costs_one_round_trip_per_node_it_touches(cluster_client):
    # These three keys hash to slots owned by three different masters.
    names = ["a", "b", "c"]
    assert len({cluster_client.get_node_from_key(n).name for n in names}) == 3
    with trace(cluster_client) as t:
        pipe = cluster_client.pipeline(transaction=False)
        for name in names:
            pipe.get(name)
        pipe.execute()
    assert sorted(t.names) == ["GET", "GET", "GET"] and t.round_trips == 3
    with trace(cluster_client) as t:
        pipe = cluster_client.pipeline(transaction=False)
        for name in ["{a}1", "{a}2", "{a}3"]:
            pipe.get(name)
        pipe.execute()
    assert t.round_trips == 1  # one hash tag, one slot, one node


def test_an_asyncio_client_is_traced_as_a_synchronous_one_is(r, make_async):
    """Every backend's asyncio client: its commands and round trips, its first connection's handshake left out."""
    import asyncio

    async def body():
        client = await make_async()
        with trace(client) as t:
            await client.set("{t}a", "1")  # a fresh connection: its handshake is not shown
            await client.get("{t}a")
            async with client.pipeline(transaction=True) as pipe:
                pipe.incr("{t}n")
                pipe.expire("{t}n", 60)
                await pipe.execute()
        await client.aclose()
        return t

    t = asyncio.run(body())
    assert t.names == ["SET", "GET", "MULTI", "INCRBY", "EXPIRE", "EXEC"]  # redis.asyncio's incr sends INCRBY
    assert t.round_trips == 3
