"""Every pattern on a client that speaks RESP3 (``?protocol=3``), synchronous and asyncio.

RESP3 changes the shape of replies: maps instead of flat lists (HGETALL, XREADGROUP),
doubles instead of strings (ZSCORE, WITHSCORES), sets, and push messages for pub/sub. A
pattern that parses replies by hand could work on RESP2 and break here; redis-py 5+ lets a
user pick RESP3 with one URL parameter. On the throwaway real server only (fakeredis speaks
RESP2 to redis-py's parser whatever it is asked).
"""
from __future__ import annotations

import asyncio
import queue

import pytest
import redis

import patterns
from patterns import aio
from patterns.leaderboard import Leaderboard
from patterns.lock import Lock
from patterns.pubsub import EventStream, Subscriber, publish_event
from patterns.ratelimit import ALGORITHMS
from patterns.session import SessionStore


@pytest.fixture
def url(redis_server):
    if not redis_server.running:
        redis_server.start()
    with redis.Redis.from_url(redis_server.url) as admin:
        admin.flushall()  # the throwaway server this suite started, never another
    return redis_server.url + "?protocol=3"


def test_every_pattern_works_on_a_synchronous_resp3_client(url):
    r = patterns.connect(url)
    assert r.connection_pool.connection_kwargs["protocol"] == 3
    for name, limiter in ALGORITHMS.items():
        decisions = [limiter(r, 2, 60, name=name).hit("ada").allowed for _ in range(3)]
        assert decisions == [True, True, False], name
    cache = patterns.Cache(r, "resp3")
    assert cache.get_or_set("k", lambda: {"n": 1}) == {"n": 1} == cache.get_or_set("k", lambda: {"n": 2})
    board = Leaderboard(r, "resp3")
    board.submit("ada", 10)
    board.submit("bob", 20.5)
    assert [(e.member, e.score, e.rank) for e in board.top(2)] == [("bob", 20.5, 1), ("ada", 10, 2)]
    store = SessionStore(r)
    sid = store.create("ada", {"cart": [1, 2]})
    assert store.get(sid) == {"cart": [1, 2]} and store.sessions_of("ada") == [sid]
    stream = EventStream(r, "resp3", group="g")
    stream.append({"n": 1})
    (message,) = stream.read("c")
    assert message.event == {"n": 1}
    assert stream.ack(message.id) == 1
    got: queue.Queue = queue.Queue()
    with Subscriber(r, ["news"], lambda channel, event: got.put((channel, event))):
        assert publish_event(r, "news", {"n": 2}) == 1
        assert got.get(timeout=30) == ("news", {"n": 2})
    with Lock(r, "resp3", ttl=10) as held:
        assert held.token and r.get(held.key) == held.token
    assert r.exists(held.key) == 0


def test_every_pattern_works_on_an_asyncio_resp3_client(url):
    async def body():
        r = await aio.connect(url)
        assert r.connection_pool.connection_kwargs["protocol"] == 3
        for name, limiter in aio.ratelimit.ALGORITHMS.items():
            decisions = [(await limiter(r, 2, 60, name=name).hit("ada")).allowed for _ in range(3)]
            assert decisions == [True, True, False], name
        cache = aio.Cache(r, "resp3")
        assert await cache.get_or_set("k", lambda: {"n": 1}) == {"n": 1}
        assert await cache.get_or_set("k", lambda: {"n": 2}) == {"n": 1}
        board = aio.Leaderboard(r, "resp3")
        await board.submit("ada", 10)
        await board.submit("bob", 20.5)
        assert [(e.member, e.score, e.rank) for e in await board.top(2)] == [("bob", 20.5, 1), ("ada", 10, 2)]
        store = aio.SessionStore(r)
        sid = await store.create("ada", {"cart": [1, 2]})
        assert await store.get(sid) == {"cart": [1, 2]} and await store.sessions_of("ada") == [sid]
        stream = await aio.EventStream(r, "resp3", group="g")
        await stream.append({"n": 1})
        (message,) = await stream.read("c")
        assert message.event == {"n": 1}
        assert await stream.ack(message.id) == 1
        async with aio.Subscriber(r, ["news"]) as news:
            assert await aio.publish_event(r, "news", {"n": 2}) == 1
            async for channel, event in news:
                assert (channel, event) == ("news", {"n": 2})
                break
        async with aio.Lock(r, "resp3", ttl=10) as held:
            assert await r.get(held.key) == held.token
        assert await r.exists(held.key) == 0
        await r.aclose()

    asyncio.run(body())
