"""patterns.aio's limiters: the synchronous ones' decisions, awaited, on every backend.

Each asyncio limiter is its synchronous twin with the one script call awaited, so these tests
check what awaiting can change: the decisions (the same as the twin's, request for request),
exactness under 1,000 concurrent tasks, degraded mode, a reply lost on the way, and a task
cancelled at each point of its call.
"""
from __future__ import annotations

import asyncio
import uuid

import fakeredis
import pytest

import patterns
from patterns import aio, keys
from patterns import ratelimit as sync
from patterns.errors import BackendUnavailable, PatternError, ReplyLost
from patterns.ratelimit import Decision
from helpers import Proxy, returned

ALGORITHM_NAMES = sorted(sync.ALGORITHMS)


@pytest.fixture
def twins(r, make_async):
    """(a synchronous client, an async function making an asyncio client of the same key space)."""
    return r, make_async


def _run(body):
    return asyncio.run(body())


@pytest.mark.parametrize("algorithm", ALGORITHM_NAMES)
def test_an_async_limiter_decides_exactly_what_its_synchronous_twin_decides(twins, algorithm):
    client, make = twins
    run = uuid.uuid4().hex[:6]
    times = [1_700_000_000 + i * 0.07 + (i % 5) * 0.01 for i in range(120)]
    callers = [f"{run}-c{i % 3}" for i in range(120)]

    def decided_by_sync() -> list[Decision]:
        clock = [0.0]
        limiter = sync.ALGORITHMS[algorithm](client, 5, 2, name=f"sync-{run}", clock=lambda: clock[0])
        out = []
        for t, caller in zip(times, callers):
            clock[0] = t
            out.append(limiter.hit(caller, cost=1 + len(out) % 2))
        return out

    async def decided_by_async() -> list[Decision]:
        clock = [0.0]
        limiter = aio.ratelimit.ALGORITHMS[algorithm](await make(), 5, 2, name=f"async-{run}", clock=lambda: clock[0])
        out = []
        for t, caller in zip(times, callers):
            clock[0] = t
            out.append(await limiter.hit(caller, cost=1 + len(out) % 2))
        await limiter.r.aclose()
        return out

    expected = decided_by_sync()
    assert 0 < sum(d.allowed for d in expected) < len(expected)
    assert _run(decided_by_async) == expected


@pytest.mark.parametrize("algorithm", ALGORITHM_NAMES)
def test_a_thousand_concurrent_tasks_get_exactly_the_limit(make_crowd_client, algorithm):
    async def body():
        r = await make_crowd_client()
        # An hour's window: the buckets refill a request every 36 s, none while the crowd runs
        limiter = aio.ratelimit.ALGORITHMS[algorithm](r, 100, 3600, name=f"crowd-{uuid.uuid4().hex[:6]}")
        decisions = await asyncio.gather(*(limiter.hit("everyone") for _ in range(1000)))
        await r.aclose()
        return sum(d.allowed for d in decisions), sum(d.degraded for d in decisions)

    assert _run(body) == (100, 0)


def test_check_rate_limit_awaited_allows_the_limit_then_refuses(twins):
    _, make = twins

    async def body():
        r = await make()
        user = f"user-{uuid.uuid4().hex[:6]}"
        decided = [await aio.check_rate_limit(r, user, 3, 60) for _ in range(5)]
        await r.aclose()
        return decided

    assert _run(body) == [True, True, True, False, False]


@pytest.mark.parametrize("many", [False, True], ids=["hit", "hit_many"])
@pytest.mark.parametrize("on_unavailable", ["open", "closed"])
def test_without_redis_an_async_limiter_fails_as_told_and_spares_the_next_requests(on_unavailable, many, caplog):
    """One warning: hit_many tries its first batch of 1,000, and the breaker spares the other two."""
    server = fakeredis.FakeServer()
    server.connected = False

    async def body():
        limiter = aio.FixedWindow(fakeredis.FakeAsyncRedis(server=server), 5, 60, on_unavailable=on_unavailable,
                                  breaker_seconds=3)
        if many:
            return await limiter.hit_many(f"caller-{i}" for i in range(2500))
        return [await limiter.hit("ada") for _ in range(3)]

    expected = Decision(True, 0, 0.0, 0.0, degraded=True) if on_unavailable == "open" else \
        Decision(False, 0, 3.0, 3.0, degraded=True)
    assert _run(body) == [expected] * (2500 if many else 3)
    assert caplog.text.count(f"failing {on_unavailable}") == 1


def test_connect_refuses_a_server_that_is_not_there_with_what_to_do():
    async def body():
        await aio.connect("redis://127.0.0.1:1/0")

    with pytest.raises(BackendUnavailable, match="Cannot reach Redis at redis://127.0.0.1:1/0.*unset REDIS_URL"):
        _run(body)


def test_the_async_and_the_sync_client_without_a_url_share_the_embedded_server(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    key = f"shared-{uuid.uuid4().hex[:6]}"
    patterns.connect().set(key, "from sync", ex=60)

    async def body():
        return await (await aio.connect()).get(key)

    assert _run(body) == "from sync"


def test_an_async_hit_whose_reply_was_lost_is_counted_once_and_degrades(real, redis_server):
    with Proxy(redis_server.port) as proxy:
        async def body():
            r = await aio.connect(proxy.url)
            limiter = aio.FixedWindow(r, 10, 60, name=f"lost-{uuid.uuid4().hex[:6]}", on_unavailable="closed")
            await limiter.hit("ada")  # connected, script loaded
            proxy.drop_replies(1)
            lost = await limiter.hit("ada")
            await r.aclose()
            return limiter, lost

        limiter, lost = _run(body)
        assert proxy.dropped == 1
        assert lost.degraded and not lost.allowed
        assert real.hget(limiter.key_for("ada"), "n") == "2"  # the lost one ran once: a resend would make it 3


def test_a_lost_reply_raises_reply_lost_from_the_async_client_and_is_not_sent_again(real, redis_server):
    with Proxy(redis_server.port) as proxy:
        key = keys.key(real, "t", f"lost-{uuid.uuid4().hex[:6]}")

        async def body():
            r = await aio.connect(proxy.url)
            await r.incr(key)
            proxy.drop_replies(1)
            try:
                await r.incr(key)
            finally:
                await r.aclose()

        with pytest.raises(ReplyLost, match="may have run"):
            _run(body)
        assert real.get(key) == "2"


def test_every_node_of_an_async_cluster_client_marks_lost_replies(redis_cluster):
    async def body():
        r = await aio.connect(redis_cluster.url)
        await r.set(f"{{n}}-{uuid.uuid4().hex[:6]}", 1, ex=60)  # the nodes are found and connected
        classes = {node.connection_class for node in r.get_nodes()}
        await r.aclose()
        return classes

    classes = _run(body)
    assert all(issubclass(c, aio.connection._MarksLostReplies) for c in classes), classes


@pytest.mark.parametrize("steps", range(12))
def test_a_hit_cancelled_at_any_point_counts_at_most_once_and_leaves_the_client_working(real, redis_server, steps):
    """Cancelled after ``steps`` turns of the event loop: before sending, while reading, or after."""
    async def body():
        r = await aio.connect(redis_server.url)
        limiter = aio.FixedWindow(r, 10, 60, name=f"cancel-{uuid.uuid4().hex[:6]}")
        await limiter.hit("ada")
        task = asyncio.ensure_future(limiter.hit("ada"))
        for _ in range(steps):
            await asyncio.sleep(0)
        pending = not task.done()
        task.cancel()
        finished = await returned(task)
        after = await limiter.hit("ada")
        await r.aclose()
        return limiter, pending, finished, after

    limiter, pending, finished, after = _run(body)
    assert not (pending and finished), "a task still running when cancelled went on and returned a Decision"
    counted = int(real.hget(limiter.key_for("ada"), "n"))
    assert counted in ((3,) if finished else (2, 3))  # the cancelled hit ran once or not at all
    assert after.allowed and not after.degraded and after.remaining == 10 - counted


def test_a_client_made_in_one_event_loop_is_refused_in_another_with_what_to_do(redis_server):
    made = {}

    async def first():
        made["r"] = await aio.connect(redis_server.url)
        made["limiter"] = aio.FixedWindow(made["r"], 5, 60, name=f"loops-{uuid.uuid4().hex[:6]}")
        return (await made["limiter"].hit("ada")).allowed

    async def second():
        return await made["limiter"].hit("ada")

    assert _run(first)
    with pytest.raises(PatternError, match="another event loop.*lifespan"):
        _run(second)


def test_pools_of_event_loops_that_closed_are_let_go(redis_server):
    async def one_loop():
        r = await aio.connect(redis_server.url)
        await aio.FixedWindow(r, 5, 60, name=f"pools-{uuid.uuid4().hex[:6]}").hit("ada")

    for _ in range(5):
        _run(one_loop)
    open_loops = [loop for loop in aio.connection._pools if not loop.is_closed()]
    assert len(aio.connection._pools) - len(open_loops) <= 1, "every closed loop's pool is still kept"


def test_a_limiter_refuses_a_client_of_the_other_kind():
    with pytest.raises(TypeError, match="is an asyncio client: use patterns.aio.SlidingLog"):
        sync.SlidingLog(fakeredis.FakeAsyncRedis(), 5, 60)
    with pytest.raises(TypeError, match="is not an asyncio client: use patterns.ratelimit.GCRA"):
        aio.GCRA(fakeredis.FakeRedis(), 5, 60)
    assert not isinstance(aio.SlidingLog(fakeredis.FakeAsyncRedis(), 5, 60), sync.SlidingLog)
    assert repr(aio.SlidingLog(fakeredis.FakeAsyncRedis(), 5, 60)).startswith("aio.SlidingLog(")


def test_the_sync_and_the_async_check_rate_limit_do_not_share_a_limiter():
    server = fakeredis.FakeServer()
    sync_client = fakeredis.FakeRedis(server=server, decode_responses=True)
    with pytest.raises(TypeError, match="is not an asyncio client"):
        _run(lambda: aio.check_rate_limit(sync_client, "ada", 3, 60))
    assert sync.check_rate_limit(sync_client, "ada", 3, 60) is True  # not left broken by the wrong call


def test_a_cancel_while_the_server_is_slow_ends_the_task_at_once(redis_server):
    """Python 3.11's wait_for lost a cancel that came as the write finished: the task waited out its timeout."""
    with Proxy(redis_server.port) as proxy:
        async def body():
            r = await aio.connect(proxy.url)
            limiter = aio.FixedWindow(r, 10, 60, name=f"slow-{uuid.uuid4().hex[:6]}")
            await limiter.hit("ada")
            outcomes = []
            for steps in range(4):
                proxy.hold_replies(True)  # the server's replies wait in the proxy
                task = asyncio.ensure_future(limiter.hit("ada"))
                for _ in range(steps):
                    await asyncio.sleep(0)
                task.cancel()
                try:
                    outcomes.append(await asyncio.wait_for(task, 2))
                except asyncio.CancelledError:
                    outcomes.append("cancelled")
                proxy.hold_replies(False)
            after = await limiter.hit("bob")
            await r.aclose()
            return outcomes, after

        outcomes, after = _run(body)
        assert outcomes == ["cancelled"] * 4
        assert not after.degraded


def test_hit_many_awaited_decides_what_the_synchronous_hit_many_decides_in_a_round_trip_per_batch(twins):
    """One implementation (the limiter's _hit_many steps), two runners: the same decisions on every
    backend, and each batch of 100 is one write per server or cluster node, its SCRIPT LOAD included."""
    client, make = twins
    run = uuid.uuid4().hex[:6]
    callers = [f"{run}-c{i % 7}" for i in range(250)]
    expected = sync.SlidingLog(client, 10, 60, name=f"sync-{run}").hit_many(callers, batch=100)

    async def body():
        r = await make()
        limiter = aio.SlidingLog(r, 10, 60, name=f"async-{run}")
        with patterns.trace(r) as sent:
            decisions = await limiter.hit_many(callers, batch=100)
        await r.aclose()
        nodes = len({r.get_node_from_key(limiter.key_for(c)).name for c in set(callers)}) \
            if hasattr(r, "get_node_from_key") else 1
        return decisions, sent, nodes

    decisions, sent, nodes = _run(body)
    assert [d.allowed for d in decisions] == [d.allowed for d in expected] == [i < 70 for i in range(250)]
    assert [d.remaining for d in decisions] == [d.remaining for d in expected]
    assert sent.names.count("EVALSHA") == 250
    assert sent.round_trips == 3 * nodes, sent.summary()


@pytest.mark.parametrize("steps", range(12))
def test_hit_many_cancelled_at_any_point_sends_its_batch_at_most_once_and_leaves_the_client_working(
        real, redis_server, steps):
    """Cancelled after ``steps`` turns of the event loop: before the write, between two replies, or after."""
    async def body():
        r = await aio.connect(redis_server.url)
        limiter = aio.FixedWindow(r, 1000, 60, name=f"cancel-many-{uuid.uuid4().hex[:6]}")
        await limiter.hit("ada")
        task = asyncio.ensure_future(limiter.hit_many(["ada"] * 200, batch=200))
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        finished = await returned(task)
        after = await limiter.hit("ada")
        await r.aclose()
        return limiter, finished, after

    limiter, finished, after = _run(body)
    counted = int(real.hget(limiter.key_for("ada"), "n"))
    # Never twice: at most the whole batch once. A cancel between two replies closes the connection, and
    # the server drops the commands it had not read yet, so part of a batch may have run (it "may have run").
    assert counted == 202 if finished else 2 <= counted <= 202
    assert after.allowed and not after.degraded and after.remaining == 1000 - counted


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_hit_many_on_a_server_that_is_down_decides_as_told_instead_of_raising(kind, caplog):
    """The connection is made as the batch is sent: a refused connect once escaped hit_many (both kinds)."""
    import redis as redis_py
    import redis.asyncio as aredis

    from patterns.sandbox import LocalServer

    with LocalServer() as server:
        url = server.url  # stopped on leaving the block: nothing listens there now
    if kind == "sync":
        limiter = sync.FixedWindow(redis_py.Redis.from_url(url), 5, 60, on_unavailable="closed")
        decisions = limiter.hit_many(["a", "b"])
    else:
        async def body():
            return await aio.FixedWindow(aredis.Redis.from_url(url), 5, 60, on_unavailable="closed").hit_many(["a", "b"])

        decisions = _run(body)
    assert [d.degraded and not d.allowed for d in decisions] == [True, True]
    assert "failing closed for 2 requests" in caplog.text


def test_hit_many_on_a_single_connection_asyncio_client_uses_its_one_connection(redis_server):
    """It once asked the pool for a second connection, which a pool of one refused."""
    import redis.asyncio as aredis

    if not redis_server.running:
        redis_server.start()

    async def body():
        pool = aredis.BlockingConnectionPool.from_url(redis_server.url, max_connections=1, timeout=1)
        r = aredis.Redis(connection_pool=pool, single_connection_client=True)
        await r.ping()  # its one connection is taken now
        decisions = await aio.FixedWindow(r, 5, 60, name=f"single-{uuid.uuid4().hex[:6]}").hit_many(["a"] * 6)
        await r.aclose()
        return decisions

    assert [d.allowed for d in _run(body)] == [True] * 5 + [False]


def test_hit_many_on_an_async_cluster_node_without_a_free_connection_degrades_instead_of_raising(redis_cluster):
    """A node at its connection limit answers MaxConnectionsError as the connection is taken: that once escaped."""
    import redis.asyncio as aredis

    async def body():
        r = aredis.RedisCluster.from_url(redis_cluster.url, decode_responses=True, max_connections=1)
        await r.initialize()
        limiter = aio.FixedWindow(r, 10**6, 60, name=f"full-{uuid.uuid4().hex[:6]}")
        found = await asyncio.gather(limiter.hit_many(["same"] * 50), limiter.hit_many(["same"] * 50),
                                     limiter.hit("same"), return_exceptions=True)
        await r.aclose()
        return found

    first, second, one = _run(body)
    assert isinstance(first, list) and isinstance(second, list) and len(first) == len(second) == 50
    assert isinstance(one, Decision)
