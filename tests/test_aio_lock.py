"""patterns.aio's Lock and with_lock: the synchronous lock's decisions, awaited and safe to cancel.

Mutual exclusion is proven with 1,000 tasks on every backend; cancellation by cancelling an
acquire and a release at each turn of the event loop and checking that the lock ends up free.
"""
from __future__ import annotations

import asyncio
import uuid

import fakeredis
import pytest
import redis

import patterns
from patterns import aio, keys
from patterns import lock as sync
from patterns.errors import LockLost, LockNotAcquired


@pytest.fixture
def make(make_async):
    """An async function making an asyncio client with an empty key space, on the backend under test."""
    return make_async


def _run(body):
    return asyncio.run(body())


def _name() -> str:
    return f"job-{uuid.uuid4().hex[:8]}"


async def _critical_section(state: dict) -> None:
    """A read-modify-write that loses an update, and counts an overlap, if two tasks are inside at once."""
    state["inside"] += 1
    state["most"] = max(state["most"], state["inside"])
    seen = state["count"]
    await asyncio.sleep(0)  # another task would run here if it were inside too
    state["count"] = seen + 1
    state["inside"] -= 1


def test_a_thousand_tasks_never_overlap_and_lose_no_update(make_crowd_client):
    async def body():
        r = await make_crowd_client()
        name, state = _name(), {"inside": 0, "most": 0, "count": 0}

        async def one():
            async with aio.Lock(r, name, ttl=30, timeout=300, max_backoff=2.0):  # waiters poll less often
                await _critical_section(state)

        await asyncio.gather(*(one() for _ in range(1000)))
        await r.aclose()
        return state

    state = _run(body)
    assert (state["most"], state["count"]) == (1, 1000)


def test_with_lock_runs_the_function_once_held_and_refuses_while_someone_holds_it(make):
    async def body():
        r = await make()
        name = _name()
        result = await aio.with_lock(r, name, lambda: asyncio.sleep(0, "done"))
        holder = aio.Lock(r, name, ttl=10, timeout=0)
        assert await holder.acquire()
        with pytest.raises(LockNotAcquired, match="held by someone else"):
            await aio.with_lock(r, name, lambda: asyncio.sleep(0))
        await holder.release()
        await r.aclose()
        return result

    assert _run(body) == "done"


def test_a_lease_that_ran_out_is_reported_after_the_work(make):
    async def body():
        r = await make()
        lock = aio.Lock(r, _name(), ttl=0.05, timeout=0)

        async def slow():
            await asyncio.sleep(0.2)
            return "finished"

        with pytest.raises(LockLost, match="expired before release"):
            async with lock:
                await slow()
        await r.aclose()

    _run(body)


async def _free_within(r, lock, seconds: float = 5.0) -> bool:
    """Wait (on the server's answers, not a fixed sleep) until nobody holds ``lock``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while await lock.locked():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


@pytest.mark.parametrize("steps", range(10))
def test_a_release_cancelled_at_any_point_still_frees_the_lock(real, redis_server, steps):
    async def body():
        r = await aio.connect(redis_server.url)
        lock = aio.Lock(r, _name(), ttl=30, timeout=0)
        assert await lock.acquire()
        task = asyncio.ensure_future(lock.release())
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        if lock.token is not None:  # cancelled before it began: this Lock still holds it, and can release
            await lock.release()
        free = await _free_within(r, lock)
        await r.aclose()
        return free

    assert _run(body), "a cancelled release left the lock held, and this Lock no longer knew it held it"


@pytest.mark.parametrize("steps", range(10))
def test_an_acquire_cancelled_at_any_point_leaves_nobody_holding_the_lock(real, redis_server, steps):
    async def body():
        r = await aio.connect(redis_server.url)
        lock = aio.Lock(r, _name(), ttl=30, timeout=0)
        task = asyncio.ensure_future(lock.acquire())
        for _ in range(steps):
            await asyncio.sleep(0)
        pending = not task.done()
        task.cancel()
        try:
            got = await task
        except asyncio.CancelledError:
            got = None
        if got:  # it finished before the cancel: it holds the lock, and gives it back
            await lock.release()
        free = await _free_within(r, lock)
        await r.aclose()
        return pending, got, free

    pending, got, free = _run(body)
    assert not (pending and got is not None), "a task still running when cancelled went on and took the lock"
    assert free, "a cancelled acquire left the lock held by nobody's code"


def test_each_lock_refuses_a_client_of_the_other_kind():
    with pytest.raises(TypeError, match="is an asyncio client: use patterns.aio.Lock"):
        sync.Lock(fakeredis.FakeAsyncRedis(), "job")
    with pytest.raises(TypeError, match="is not an asyncio client: use patterns.lock.Lock"):
        aio.Lock(fakeredis.FakeRedis(), "job")
    assert not isinstance(aio.Lock(fakeredis.FakeAsyncRedis(), "job"), sync.Lock)


def test_the_async_lock_is_used_with_async_with_only():
    with pytest.raises(TypeError, match="async with"):
        with aio.Lock(fakeredis.FakeAsyncRedis(), "job"):
            pass


def test_a_sync_and_an_async_lock_on_one_embedded_server_exclude_each_other(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    name = _name()
    held = sync.Lock(patterns.connect(), name, ttl=10, timeout=0)
    assert held.acquire()

    async def body():
        return await aio.Lock(await aio.connect(), name, ttl=10, timeout=0).acquire()

    assert _run(body) is False
    held.release()
    assert _run(body) is True


# -- found by the review of the first version --------------------------------------------------------


def test_one_lock_object_shared_by_two_tasks_is_refused_rather_than_letting_them_overlap():
    """A module-level Lock, as with asyncio.Lock: the second task must not take over the first's token."""
    async def body():
        r = aio.connection.fake_client(fakeredis.FakeServer())
        shared = aio.Lock(r, _name(), ttl=10, timeout=0)
        assert await shared.acquire()
        with pytest.raises(RuntimeError, match="one Lock per"):
            await shared.acquire()
        await shared.release()
        assert await shared.acquire()  # released: the object may be used again
        await shared.release()

    _run(body)


def test_an_acquire_that_raised_counts_as_a_try(monkeypatch):
    async def body():
        lock = aio.Lock(aio.connection.fake_client(fakeredis.FakeServer()), _name(), ttl=10, timeout=0)

        async def down(*args, **kwargs):
            raise redis.ConnectionError("down")

        monkeypatch.setattr(aio.lock, "run", down)
        with pytest.raises(Exception, match="cannot reach Redis"):
            await lock.acquire()
        return lock.attempts

    assert _run(body) == 1


def test_a_grant_given_up_at_the_loops_end_is_named_in_the_log(redis_server, caplog):
    """asyncio.run cancels what is left: a lock then stays held for its lease, and the log says which."""
    from helpers import Proxy
    with Proxy(redis_server.port) as proxy:
        name = _name()

        async def body():
            r = await aio.connect(proxy.url)
            lock = aio.Lock(r, name, ttl=30, timeout=0)
            await lock.locked()  # connected
            proxy.hold_replies(True)
            task = asyncio.ensure_future(lock.acquire())
            await asyncio.sleep(0.05)  # the acquire is sent; its reply waits in the proxy
            task.cancel()
            # returning now: asyncio.run cancels the shielded call that would have given the grant back

        _run(body)
        proxy.hold_replies(False)
    assert name in caplog.text and "30 s" in caplog.text, caplog.text


def test_the_sync_with_lock_refuses_an_async_function_rather_than_running_it_unlocked():
    from patterns.lock import with_lock

    async def job():
        return "done"

    with pytest.raises(TypeError, match="patterns.aio.with_lock"):
        with_lock(fakeredis.FakeRedis(decode_responses=True), _name(), job)


def test_the_async_with_lock_refuses_a_function_that_returns_no_awaitable():
    async def body():
        r = aio.connection.fake_client(fakeredis.FakeServer())
        await aio.with_lock(r, _name(), lambda: "not awaitable")

    with pytest.raises(TypeError, match="async def"):
        _run(body)


# -- Redlock -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def three_servers():
    from patterns.sandbox import LocalServer, redis_server_binary

    if redis_server_binary() is None:
        pytest.fail("redis-server is not installed")
    servers = [LocalServer().start() for _ in range(3)]
    yield servers
    for server in servers:
        server.cleanup()


async def _redlock_clients(servers):
    return [await aio.connect(s.url) for s in servers]


async def _held_anywhere(clients, name) -> list:
    return [await c.get(keys.key(c, "lock", name)) for c in clients]


def test_redlock_refuses_a_synchronous_client_naming_the_class_to_use(three_servers):
    clients = [patterns.connect(s.url) for s in three_servers]
    with pytest.raises(TypeError, match="patterns.lock.Redlock"):
        aio.Redlock(clients, "job")


def test_redlock_critical_sections_of_a_hundred_tasks_never_overlap(three_servers):
    async def body():
        clients = await _redlock_clients(three_servers)
        name, state = _name(), {"inside": 0, "most": 0, "count": 0}

        async def one():
            lock = aio.Redlock(clients, name, ttl=30, retries=10_000, retry_delay=0.02)
            async with lock:
                await _critical_section(state)

        await asyncio.gather(*(one() for _ in range(100)))
        left = await _held_anywhere(clients, name)
        for c in clients:
            await c.aclose()
        return state, left

    state, left = _run(body)
    assert (state["most"], state["count"]) == (1, 100) and left == [None, None, None]


@pytest.mark.parametrize("steps", range(10))
def test_a_redlock_acquire_cancelled_at_any_turn_leaves_no_server_holding_it(three_servers, steps):
    async def body():
        clients = await _redlock_clients(three_servers)
        name = _name()
        lock = aio.Redlock(clients, name, ttl=30, retries=0, node_timeout=2)  # 2 s: a loaded machine still answers
        task = asyncio.ensure_future(lock.acquire())
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        got = (await asyncio.gather(task, return_exceptions=True))[0]
        if got is True:  # it finished before the cancel: it holds the lock, and gives it back
            await lock.release()
        await aio.lock.drain()  # the undo of a cancelled acquire runs in the background
        left = await _held_anywhere(clients, name)
        for c in clients:
            await c.aclose()
        return left

    assert _run(body) == [None, None, None], "a cancelled Redlock acquire left servers holding the lock"


@pytest.mark.parametrize("steps", range(10))
def test_a_redlock_release_cancelled_at_any_turn_still_frees_every_server(three_servers, steps):
    async def body():
        clients = await _redlock_clients(three_servers)
        name = _name()
        lock = aio.Redlock(clients, name, ttl=30, retries=0, node_timeout=2)  # 2 s: a loaded machine still answers
        assert await lock.acquire()
        task = asyncio.ensure_future(lock.release())
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if lock.token is not None:  # cancelled before it began: this Redlock still holds it, and can release
            await lock.release()
        await aio.lock.drain()
        left = await _held_anywhere(clients, name)
        for c in clients:
            await c.aclose()
        return left

    assert _run(body) == [None, None, None], "a cancelled Redlock release left servers holding the lock"
