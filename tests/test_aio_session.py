"""patterns.aio's sessions: what awaiting adds to the synchronous store's behaviour.

tests/test_session.py runs every behaviour test on both APIs already (through tests/aio_twins.py).
These are the asyncio-only ones: many tasks updating one session at once, an operation cancelled
at each of its round trips, and refusing a client of the other kind.
"""
from __future__ import annotations

import asyncio

import fakeredis
import pytest

from patterns import aio
from patterns import session as sync


def _run(body):
    return asyncio.run(body())


def test_two_hundred_tasks_updating_their_own_fields_at_once_lose_none(make_async):
    async def body():
        r = await make_async()
        store = aio.SessionStore(r)
        sid = await store.create("ada", {"cart": []})
        await asyncio.gather(*(store.update(sid, **{f"f{i}": i}) for i in range(200)))
        data = await store.get(sid)
        await r.aclose()
        return data

    data = _run(body)
    assert data == {"cart": [], **{f"f{i}": i for i in range(200)}}


# Cancelled while the n-th script call of an operation waits for its reply, or before it is
# sent: the steps are ordered to fail safe, as a crash there would be. (fakeredis's async client
# waits for a reply with asyncio.wait_for, which on Python 3.11 drops a cancel that arrives as
# the reply does: the operation then simply finishes. Either way, nothing may escape.)
WHEN = ["before", "sent"]


@pytest.mark.parametrize("when", WHEN)
@pytest.mark.parametrize("call", range(1, 7))
@pytest.mark.parametrize("operation", ["create", "rotate", "destroy_all"])
def test_an_operation_cancelled_at_any_round_trip_leaves_no_session_log_out_everywhere_misses(
        make_async, monkeypatch, operation, call, when):
    real_run = aio.steps.run_script

    async def body():
        r = await make_async()
        store = aio.SessionStore(r)
        first = await store.create("bob", {"role": "user"})
        reached, counted = asyncio.Event(), [0]

        async def run(script, *args):
            counted[0] += 1
            if counted[0] != call:
                return await real_run(script, *args)
            if when == "before":
                reached.set()
                await asyncio.sleep(3600)
            inner = asyncio.ensure_future(real_run(script, *args))
            await asyncio.sleep(0)
            reached.set()
            return await inner

        monkeypatch.setattr(aio.steps, "run_script", run)
        operations = {"create": lambda: store.create("bob"), "rotate": lambda: store.rotate(first),
                      "destroy_all": lambda: store.destroy_all("bob")}
        task = asyncio.ensure_future(operations[operation]())
        done, _ = await asyncio.wait([task, asyncio.ensure_future(reached.wait())],
                                     return_when=asyncio.FIRST_COMPLETED)
        returned = None
        if task in done:  # the operation has fewer round trips than ``call``: it ran to the end
            returned = task.result()
        else:
            task.cancel()
            try:
                returned = await task  # fakeredis on Python 3.11 can lose a cancel (see below): it then ran on
            except asyncio.CancelledError:
                pass
        monkeypatch.setattr(aio.steps, "run_script", real_run)
        await store.destroy_all("bob")  # log out everywhere, after the cancelled operation
        alive = [sid for sid in (first, returned) if isinstance(sid, str) and await store.get(sid) is not None]
        listed = await store.sessions_of("bob")
        await r.aclose()
        return alive, listed

    alive, listed = _run(body)
    assert alive == [] and listed == []


def test_each_store_refuses_a_client_of_the_other_kind():
    with pytest.raises(TypeError, match="is an asyncio client: use patterns.aio.SessionStore"):
        sync.SessionStore(fakeredis.FakeAsyncRedis(decode_responses=True))
    with pytest.raises(TypeError, match="is not an asyncio client: use patterns.session.SessionStore"):
        aio.SessionStore(fakeredis.FakeRedis(decode_responses=True))


def test_the_methods_keep_their_names_and_documentation():
    for name in ("create", "get", "update", "user_of", "info", "rotate", "destroy", "sessions_of", "destroy_all"):
        method, twin = getattr(aio.SessionStore, name), getattr(sync.SessionStore, name)
        assert method.__name__ == twin.__name__ == name
        assert method.__doc__ == twin.__doc__ and method.__doc__
        assert asyncio.iscoroutinefunction(method) and not asyncio.iscoroutinefunction(twin)


def test_the_methods_show_what_they_return_and_which_class_they_are_on():
    """Review of 3 Dec: help(SessionStore.create) showed '-> Steps[str]' and 'SessionStoreBase.create'."""
    import inspect

    from patterns import cache, leaderboard

    for cls in (sync.SessionStore, aio.SessionStore, leaderboard.Leaderboard, aio.Leaderboard, aio.Board,
                cache.Cache, aio.Cache):
        for name in cls.OPERATIONS:
            method = getattr(cls, name)
            assert method.__qualname__ == f"{cls.__qualname__}.{name}"
            assert "Steps" not in str(inspect.signature(method)), (cls, name, inspect.signature(method))
    assert str(inspect.signature(sync.SessionStore.create)).endswith("-> 'str'")


def test_drain_waits_for_its_own_loops_calls_only():
    """Review of 3 Dec: a call left pending by a loop that was stopped (not closed by asyncio.run)
    made every later drain() fail: 'attached to a different loop'."""
    old = asyncio.new_event_loop()
    stuck = old.create_future()
    aio.steps.in_background(stuck, "a call its stopped loop never finished")
    try:
        async def body():
            done = aio.steps.in_background(asyncio.ensure_future(asyncio.sleep(0.01, "mine")), "mine")
            await aio.steps.drain()
            return done.result()

        assert _run(body) == "mine"
    finally:
        aio.steps._background.discard(stuck)
        old.close()
