"""patterns.aio's cache: what awaiting adds to the synchronous cache's behaviour.

tests/test_cache.py runs every behaviour test on both APIs already (through tests/aio_twins.py).
These are the asyncio-only ones: 1,000 tasks missing at once, a task cancelled at each point of
a fill, a fetcher that is an ``async def``, the seed functions' cache and breaker kept on the
asyncio client, outages on clients of its own, and refusing a client of the other kind.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import time
import uuid
import weakref

import fakeredis
import pytest
import redis

import patterns
from patterns import aio
from patterns import cache as sync
from helpers import returned


def _run(body):
    return asyncio.run(body())


def _name() -> str:
    return f"t-{uuid.uuid4().hex[:6]}"


def test_a_thousand_tasks_missing_at_once_call_the_origin_once(make_crowd_client):
    calls = []

    async def body():
        r = await make_crowd_client()
        # The fill token's lease as long as the wait: the one fill's script waits behind 999 pollers for a
        # pooled connection, and under CI's load (r3, 3 Dec, as an attendee) it outlived the 10 s default, so a
        # second caller took the token, as it must after a filler that crashed: that is not what this tests.
        cache = aio.Cache(r, _name(), early_refresh_beta=0, wait_timeout=120, fill_timeout=120)

        async def origin():
            calls.append(1)
            await asyncio.sleep(0.2)  # the database is slow: every other task arrives meanwhile
            return {"menu": "soup"}

        values = await asyncio.gather(*(cache.get_or_set("today", origin) for _ in range(1000)))
        await r.aclose()
        return cache, values

    cache, values = _run(body)
    assert values == [{"menu": "soup"}] * 1000
    assert (len(calls), cache.stats.misses, cache.stats.hits, cache.stats.redis_errors) == (1, 1, 999, 0)


# The awaits of a miss, in order: the peek (cache_peek.lua), the claim (cache_read.lua), the
# fetcher, the fill (cache_fill.lua). "sent" cancels while the script's reply is awaited, "before"
# while the task waits to send it (the test holds it there), "fetch" while the fetcher runs.
POINTS = [("cache_peek", "before"), ("cache_peek", "sent"), ("cache_read", "before"), ("cache_read", "sent"),
          ("fetch", "inside"), ("cache_fill", "before"), ("cache_fill", "sent")]


@pytest.mark.parametrize(("step", "when"), POINTS, ids=[f"{s}-{w}" for s, w in POINTS])
def test_a_miss_cancelled_at_each_await_holds_no_token_and_leaves_the_client_working(r, make_async, monkeypatch,
                                                                                   step, when):
    real_run = aio.steps.run_script

    async def body():
        client = await make_async()
        cache = aio.Cache(client, _name(), early_refresh_beta=0, fill_timeout=30, wait_timeout=10)
        await cache.get_or_set("warm", lambda: 0)  # the scripts are loaded: each call is one round trip
        reached = asyncio.Event()

        async def run(script, *args):
            if script.name != step:
                return await real_run(script, *args)
            if when == "before":
                reached.set()
                await asyncio.sleep(3600)  # cancelled here, before anything is sent
            call = asyncio.ensure_future(real_run(script, *args))
            await asyncio.sleep(0)  # the command is written
            reached.set()
            return await call  # cancelled while its reply is awaited

        async def origin():
            if step == "fetch":
                reached.set()
                await asyncio.sleep(3600)
            return "v"

        monkeypatch.setattr(aio.steps, "run_script", run)
        task = asyncio.ensure_future(cache.get_or_set("k", origin))
        await asyncio.wait_for(reached.wait(), 30)
        task.cancel()
        finished = await returned(task)
        monkeypatch.setattr(aio.steps, "run_script", real_run)
        await aio.steps.drain()  # the give-back runs in the background: a second cancel cannot stop it
        token = r.pttl(cache.redis_keys("k")[1])
        started = time.monotonic()
        after = await cache.get_or_set("k", lambda: "fetched after")
        waited = time.monotonic() - started
        follow_up = await cache.get_or_set("other", lambda: "fine")  # the client still works
        await client.aclose()
        return cache, finished, token, after, waited, follow_up

    cache, finished, token, after, waited, follow_up = _run(body)
    assert not finished, "a task cancelled mid-call went on and returned"
    # Whatever it held or may have been granted (the claim's reply never read) it gave back on the
    # way out: the next caller fills at once, instead of waiting for the token to end (30 s here).
    assert token == -2, f"a fill token is left for {token} ms"
    assert waited < 5, "the next caller waited for a token nobody holds"
    assert after in ("v", "fetched after") and follow_up == "fine"
    assert cache.stats.redis_errors == 0


@pytest.mark.parametrize("cancels", [1, 5])
def test_a_task_cancelled_in_its_fetcher_gives_the_token_back_even_if_cancelled_again(r, make_async, cancels):
    """Review of 3 Dec: anyio (Starlette, FastAPI) cancels again at every await; the give-back, made
    inline by the cancelled task, was itself cancelled, and the token stayed for fill_timeout."""
    async def body():
        client = await make_async()
        cache = aio.Cache(client, _name(), fill_timeout=30, wait_timeout=30)
        entered = asyncio.Event()

        async def slow_origin():
            entered.set()
            await asyncio.sleep(60)

        task = asyncio.ensure_future(cache.get_or_set("k", slow_origin))
        await entered.wait()
        held = r.exists(cache.redis_keys("k")[1])
        for _ in range(cancels):  # cancelled, and cancelled again at each await on the way out
            task.cancel()
            await asyncio.sleep(0)
        with pytest.raises(asyncio.CancelledError):
            await task
        await aio.steps.drain()  # the give-back runs in the background, out of a second cancel's reach
        left = r.exists(cache.redis_keys("k")[1])
        await client.aclose()
        return held, left

    assert _run(body) == (1, 0)


def test_a_fetcher_may_be_an_async_def_or_a_plain_function_and_the_decorator_takes_async_defs(r, make_async):
    async def body():
        client = await make_async()
        cache = aio.Cache(client, _name())

        async def from_db():
            await asyncio.sleep(0)
            return {"id": 1}

        first = await cache.get_or_set("a", from_db)
        plain = await cache.get_or_set("b", lambda: [1, 2])
        again = await cache.get_or_set("a", lambda: "not this")
        looked_up = []

        @cache.cached(60, name="price")
        async def price(item: str, currency: str = "EUR") -> dict:
            looked_up.append(item)
            return {"item": item, "currency": currency}

        prices = [await price("tea"), await price(item="tea"), await price("tea", "EUR")]
        gone = await price.invalidate("tea")
        await price("tea")
        await client.aclose()
        return first, plain, again, prices, gone, looked_up

    first, plain, again, prices, gone, looked_up = _run(body)
    assert (first, plain, again) == ({"id": 1}, [1, 2], {"id": 1})
    assert prices == [{"item": "tea", "currency": "EUR"}] * 3 and gone is True
    assert looked_up == ["tea", "tea"]


def test_each_decorator_refuses_the_other_kind_of_function():
    aio_cache = aio.Cache(aio.connection.fake_client(fakeredis.FakeServer()), "t")
    sync_cache = sync.Cache(fakeredis.FakeRedis(server=fakeredis.FakeServer()), "t")

    async def coroutine_function(x):
        return x

    with pytest.raises(TypeError, match="is not an async def"):
        aio_cache.cached(name="f")(lambda x: x)
    with pytest.raises(TypeError, match="is an async def.*patterns.aio.Cache"):
        sync_cache.cached(name="f")(coroutine_function)


def test_each_cache_refuses_a_client_of_the_other_kind():
    with pytest.raises(TypeError, match="is an asyncio client: use patterns.aio.Cache"):
        sync.Cache(fakeredis.FakeAsyncRedis())
    with pytest.raises(TypeError, match="is not an asyncio client: use patterns.cache.Cache"):
        aio.Cache(fakeredis.FakeRedis())
    with pytest.raises(TypeError, match="is not an asyncio client"):
        _run(lambda: aio.get_or_set(fakeredis.FakeRedis(), "k", lambda: 1))
    with pytest.raises(TypeError, match="is an asyncio client"):
        sync.get_or_set(fakeredis.FakeAsyncRedis(), "k", lambda: 1)


def test_the_sync_and_the_async_cache_share_the_embedded_key_space():
    """A notebook that mixes both sees one cache: what one fills, the other hits."""
    server = fakeredis.FakeServer()
    sync_client = fakeredis.FakeRedis(server=server, decode_responses=True)
    sync.get_or_set(sync_client, "menu", lambda: "soup", 60)

    async def body():
        client = aio.connection.fake_client(server)
        value = await aio.get_or_set(client, "menu", lambda: "not this", 60)
        await aio.get_or_set(client, "drink", lambda: "tea", 60)
        await client.aclose()
        return value

    assert _run(body) == "soup"
    assert sync.get_or_set(sync_client, "drink", lambda: "not this", 60) == "tea"


def test_get_or_set_makes_one_cache_per_asyncio_client_and_lets_it_go_with_the_client(monkeypatch):
    made = []
    init = aio.Cache.__init__
    monkeypatch.setattr(aio.Cache, "__init__", lambda self, *a, **k: made.append(1) or init(self, *a, **k))

    async def body():
        client = aio.connection.fake_client(fakeredis.FakeServer())
        values = [await aio.get_or_set(client, "k", lambda: "v", 60) for _ in range(5)]
        gone = await aio.invalidate(client, "k")
        other = aio.connection.fake_client(fakeredis.FakeServer())
        await aio.get_or_set(other, "k", lambda: "v", 60)
        await client.aclose()
        await other.aclose()
        return values, gone, weakref.ref(client)

    values, gone, ref = _run(body)
    gc.collect()
    assert (values, gone, len(made)) == (["v"] * 5, True, 2)
    assert ref() is None  # the cache kept on the client does not keep the client alive


def test_get_or_set_skips_redis_for_a_while_after_it_failed_on_that_asyncio_client(caplog):
    server = fakeredis.FakeServer()
    server.connected = False
    calls = []

    async def body():
        client = aio.connection.fake_client(server)
        values = [await aio.get_or_set(client, "k", lambda: calls.append(1) or "from the database", 60)
                  for _ in range(3)]
        stats = sync._seed_cache(client, aio.Cache).stats
        await client.aclose()
        return values, stats

    with caplog.at_level(logging.WARNING, logger="patterns.cache"):
        values, stats = _run(body)
    assert values == ["from the database"] * 3
    assert (stats.redis_errors, stats.bypassed, len(calls)) == (1, 2, 3)
    assert caplog.text.count("Redis unavailable") == 1


def test_an_unreachable_server_costs_one_timeout_then_the_source_serves(monkeypatch):
    """An asyncio client of a port that refuses connections: served from the source, quickly, then bypassed."""
    from helpers import refusing_port

    monkeypatch.setattr(patterns.connection, "CONNECT_TIMEOUT", 0.5)
    with refusing_port() as port:
        async def body():
            client = redis.asyncio.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=0.5,
                                         decode_responses=True, retry=None)
            cache = aio.Cache(client, "t")
            started = time.monotonic()
            values = [await cache.get_or_set(f"k{i}", lambda i=i: i) for i in range(20)]
            elapsed = time.monotonic() - started
            await client.aclose()
            return cache, values, elapsed

        cache, values, elapsed = _run(body)
    assert values == list(range(20))
    assert (cache.stats.redis_errors, cache.stats.bypassed, cache.stats.origin_calls) == (1, 19, 20)
    assert elapsed < 5


def test_set_and_invalidate_raise_when_redis_is_down_as_the_synchronous_ones_do():
    server = fakeredis.FakeServer()

    async def body():
        client = aio.connection.fake_client(server)
        cache = aio.Cache(client, "t")
        await cache.set("k", 1)
        server.connected = False
        with pytest.raises(redis.ConnectionError):
            await cache.invalidate("k")
        with pytest.raises(redis.ConnectionError):
            await cache.set("k", 2)
        server.connected = True
        value = await cache.get_or_set("k", lambda: "not this")
        await client.aclose()
        return value

    assert _run(body) == 1


def test_keys_are_the_synchronous_caches_keys(r, make_async):
    async def body():
        client = await make_async()
        keys_of = aio.Cache(client, "menu").redis_keys("today")
        await client.aclose()
        return keys_of

    assert _run(body) == sync.Cache(r, "menu").redis_keys("today")


def test_the_seed_functions_never_hand_one_kind_of_cache_to_the_other_kind_of_call():
    """Review of 3 Dec: after one await aio.get_or_set(client, ...), patterns.cache.invalidate(client, ...)
    found that asyncio cache on the client and returned its coroutine, unrun: the entry stayed."""
    server = fakeredis.FakeServer()

    async def body():
        client = aio.connection.fake_client(server)
        await aio.get_or_set(client, "k", lambda: "v1", 60)
        with pytest.raises(TypeError, match="is an asyncio client"):
            sync.invalidate(client, "k")
        with pytest.raises(TypeError, match="is an asyncio client"):
            sync.get_or_set(client, "k", lambda: "v2", 60)
        await client.aclose()

    _run(body)
    sync_client = fakeredis.FakeRedis(server=server, decode_responses=True)
    sync.get_or_set(sync_client, "other", lambda: 1, 60)
    with pytest.raises(TypeError, match="is not an asyncio client"):
        _run(lambda: aio.get_or_set(sync_client, "other", lambda: 2, 60))


def test_the_synchronous_cache_refuses_an_async_fetcher_on_every_path():
    """Review of 3 Dec: a miss raised NotSerializable (a coroutine), the breaker's path returned the coroutine."""
    server = fakeredis.FakeServer()
    cache = sync.Cache(fakeredis.FakeRedis(server=server, decode_responses=True), "t")

    async def from_db():
        return 1

    for connected in (True, False):
        server.connected = connected
        with pytest.raises(TypeError, match="is an async def.*patterns.aio.Cache"):
            cache.get_or_set("k", from_db)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_fetcher_that_raises_stop_iteration_raises_what_python_would_and_gives_the_token_back(kind):
    """Review of 3 Dec: through the steps (a generator) it came out as RuntimeError('generator raised StopIteration')."""
    server = fakeredis.FakeServer()

    def first_row():
        return next(iter([]))

    if kind == "sync":
        cache = sync.Cache(fakeredis.FakeRedis(server=server, decode_responses=True), "t")
        with pytest.raises(StopIteration):
            cache.get_or_set("k", first_row)
        assert cache.get_or_set("k", lambda: "v") == "v"  # and the token was given back
    else:
        async def body():
            client = aio.connection.fake_client(server)
            cache = aio.Cache(client, "t")
            # What Python makes of a StopIteration leaving any coroutine (PEP 479), as an await of
            # first_row() itself would raise: the same error, not one the cache made up.
            with pytest.raises(RuntimeError, match="coroutine raised StopIteration"):
                await cache.get_or_set("k", first_row)
            value = await cache.get_or_set("k", lambda: "v")
            await client.aclose()
            return value

        assert _run(body) == "v"
