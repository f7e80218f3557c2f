"""patterns.aio's Subscriber: what the asyncio one adds to the shared tests of tests/test_pubsub.py.

Those run every Subscriber test on both APIs. These cover what only the asyncio one has: a
task instead of a thread, iteration without a handler, ``async def`` handlers, and
cancellation at each turn of the event loop leaving no subscription and a working client.
"""
from __future__ import annotations

import asyncio
import logging

import pytest

from patterns import aio
from patterns.aio.connection import async_timeout
from patterns.errors import PatternError


def _run(body):
    async def bounded():  # in the same task (the tests count tasks): a Subscriber that never ends fails the test
        async with async_timeout(120):
            return await body()

    return asyncio.run(bounded())


async def _until(condition, timeout: float = 30.0) -> bool:
    """Wait on the loop (not by blocking it) until ``condition()`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


def test_start_and_stop_leave_no_task_behind(make_async):
    async def body():
        r = await make_async()
        before = len(asyncio.all_tasks())
        sub = await aio.Subscriber(r, ["orders"], lambda channel, event: None).start()
        during = len(asyncio.all_tasks())
        await sub.stop()
        after = len(asyncio.all_tasks())
        await r.aclose()
        return before, during, after, sub.running

    before, during, after, running = _run(body)
    assert (during, after, running) == (before + 1, before, False)


def test_without_a_handler_it_is_an_async_iterator_in_publish_order(make_async):
    async def body():
        r = await make_async()
        got = []
        async with aio.Subscriber(r, ["orders"]) as orders:
            for i in range(50):
                await aio.publish_event(r, "orders", {"n": i})
            async for channel, event in orders:
                got.append((channel, event["n"]))
                if len(got) == 50:
                    break
        left = await aio.publish_event(r, "orders", "anyone?")  # how many it reaches (an attendee may not NUMSUB)
        await r.aclose()
        return got, orders.stats.received, left

    got, received, left = _run(body)
    assert got == [("orders", n) for n in range(50)] and received == 50
    assert left == 0, "leaving `async with` after a break left the subscription open"


def test_an_async_handler_is_awaited_one_message_at_a_time_in_order(make_async):
    async def body():
        r = await make_async()
        seen, inside, most = [], [0], [0]

        async def handler(channel, event):
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            await asyncio.sleep(0.001)  # another message's handler would start here if they overlapped
            seen.append(event)
            inside[0] -= 1

        async with aio.Subscriber(r, ["orders"], handler):
            for i in range(20):
                await aio.publish_event(r, "orders", i)
            arrived = await _until(lambda: len(seen) == 20)
        await r.aclose()
        return arrived, seen, most[0]

    arrived, seen, most = _run(body)
    assert arrived and seen == list(range(20)) and most == 1


def test_iterating_one_that_has_a_handler_is_refused(make_async):
    async def body():
        r = await make_async()
        sub = aio.Subscriber(r, ["orders"], print)
        try:
            with pytest.raises(TypeError, match="iterate over one made without a handler"):
                sub.__aiter__()
        finally:
            await r.aclose()

    _run(body)


def test_a_synchronous_client_is_refused_with_the_class_to_use(r):
    with pytest.raises(TypeError, match="patterns.pubsub.Subscriber"):
        aio.Subscriber(r, ["orders"])


def test_a_refused_subscription_raises_at_start_and_says_why(attendee):
    async def body():
        r = await aio.connect(attendee.url, namespace=attendee.namespace)
        try:
            with pytest.raises(PatternError, match="compared as text, not as a glob"):
                await aio.Subscriber(r, patterns=["orders.*"]).start()
            return await r.ping()  # the refusal left the client working
        finally:
            await r.aclose()

    assert _run(body) is True


# Cancelled after 0, 1, 2, ... turns of the event loop: while SUBSCRIBE is sent, while its
# confirmation is read, while a message is read, inside the handler, and once running.
TURNS = range(14)


@pytest.mark.parametrize("turns", TURNS)
def test_an_iterating_task_cancelled_at_any_turn_leaves_no_subscription_and_the_client_working(real, redis_server,
                                                                                               turns):
    async def body():
        r = await aio.connect(redis_server.url)
        got = []

        async def listen():
            async with aio.Subscriber(r, ["orders", "audit"]) as sub:
                async for channel, event in sub:
                    got.append(event)

        publishing = asyncio.ensure_future(_publish_forever(r))
        task = asyncio.ensure_future(listen())
        for _ in range(turns):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        left = await _until(lambda: real.pubsub_numsub("orders", "audit") == [("orders", 0), ("audit", 0)], 10)
        publishing.cancel()
        await asyncio.gather(publishing, return_exceptions=True)
        works = [await r.set("after", "ok"), await r.get("after"), await r.ping()]
        await r.aclose()
        return left, works

    left, works = _run(body)
    assert left, "a cancelled subscriber left its connection subscribed"
    assert works == [True, "ok", True], "the client was left with a half-read connection"
    assert [c for c in real.client_list() if int(c.get("sub", 0)) or int(c.get("psub", 0))] == []


@pytest.mark.parametrize("turns", TURNS)
def test_stop_at_any_turn_of_a_starting_subscriber_ends_its_task_and_subscription(real, redis_server, turns):
    async def body():
        r = await aio.connect(redis_server.url)
        got = []

        async def handler(channel, event):
            await asyncio.sleep(0)
            got.append(event)

        sub = aio.Subscriber(r, ["orders"], handler)
        publishing = asyncio.ensure_future(_publish_forever(r))
        starting = asyncio.ensure_future(sub.start())
        for _ in range(turns):
            await asyncio.sleep(0)
        if not starting.done():
            starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        await sub.stop()
        publishing.cancel()
        await asyncio.gather(publishing, return_exceptions=True)
        left = await _until(lambda: real.pubsub_numsub("orders") == [("orders", 0)], 10)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        works = await r.ping()
        await r.aclose()
        return left, sub.running, tasks, works

    left, running, tasks, works = _run(body)
    assert left and not running and works
    assert tasks == [], f"tasks left behind: {tasks}"


async def _publish_forever(r) -> None:
    i = 0
    while True:
        await aio.publish_event(r, "orders", i)
        i += 1
        await asyncio.sleep(0)


def test_a_failing_async_handler_is_logged_counted_and_the_subscriber_goes_on(make_async, caplog):
    async def body():
        r = await make_async()
        seen = []

        async def handler(channel, event):
            await asyncio.sleep(0)
            if event == "boom":
                raise RuntimeError("handler bug")
            seen.append(event)

        with caplog.at_level(logging.ERROR, logger="patterns.pubsub"):
            async with aio.Subscriber(r, ["orders"], handler) as sub:
                await aio.publish_event(r, "orders", "boom")
                await aio.publish_event(r, "orders", "after")
                arrived = await _until(lambda: seen == ["after"])
                running = sub.running
        await r.aclose()
        return arrived, running, sub.stats.handler_errors

    assert _run(body) == (True, True, 1)
    assert "subscriber handler failed on orders" in caplog.text


def test_stopped_while_its_handler_awaits_it_ends_the_task_and_the_subscription(real, redis_server):
    """Cancelled inside the handler, not in a read: redis-py closes a connection whose read is
    cancelled, but here nothing is being read, and only the Subscriber can close it."""
    async def body():
        r = await aio.connect(redis_server.url)
        entered = asyncio.Event()

        async def handler(channel, event):
            entered.set()
            await asyncio.Event().wait()  # a handler stuck on something else

        sub = await aio.Subscriber(r, ["orders"], handler).start()
        await aio.publish_event(r, "orders", 1)
        await asyncio.wait_for(entered.wait(), 30)
        await sub.stop()
        left = real.pubsub_numsub("orders")
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        await r.aclose()
        return left, tasks, sub.running

    assert _run(body) == ([("orders", 0)], [], False)


def test_a_task_cancelled_while_it_handles_an_iterated_event_leaves_no_subscription(real, redis_server):
    async def body():
        r = await aio.connect(redis_server.url)
        entered = asyncio.Event()

        async def listen():
            async with aio.Subscriber(r, ["orders"]) as sub:
                async for channel, event in sub:
                    entered.set()
                    await asyncio.Event().wait()  # the task's own work on the event, cancelled here

        task = asyncio.ensure_future(listen())
        while not entered.is_set():
            await aio.publish_event(r, "orders", 1)
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        left = real.pubsub_numsub("orders")
        works = await r.ping()
        await r.aclose()
        return left, works

    assert _run(body) == ([("orders", 0)], True)


# -- found by the review of the first version (repros in the review's own words) ----------------------


def test_two_starts_at_once_make_one_subscription_and_stop_leaves_none(real, redis_server):
    """Two requests racing a lazy start: both subscribed, the task died, two connections stayed subscribed."""
    async def body():
        r = await aio.connect(redis_server.url)
        got = []
        sub = aio.Subscriber(r, ["orders"], lambda channel, event: got.append(event))
        started = await asyncio.gather(sub.start(), sub.start(), return_exceptions=True)
        subscribed = real.pubsub_numsub("orders")
        await aio.publish_event(r, "orders", "once")
        arrived = await _until(lambda: got == ["once"])
        await sub.stop()
        left = real.pubsub_numsub("orders")
        await r.aclose()
        return started, subscribed, arrived, got, left

    started, subscribed, arrived, got, left = _run(body)
    assert [type(s).__name__ for s in started] == ["Subscriber", "Subscriber"]
    assert subscribed == [("orders", 1)] and arrived and got == ["once"] and left == [("orders", 0)]


def test_stop_ends_an_iteration_running_in_another_task(real, redis_server, caplog):
    """The FastAPI shape: started in the lifespan, iterated by a background task, stopped at shutdown."""
    async def body():
        r = await aio.connect(redis_server.url)
        sub = await aio.Subscriber(r, ["orders"]).start()
        got = []

        async def listen():
            async for channel, event in sub:
                got.append(event)

        listening = asyncio.ensure_future(listen())
        await aio.publish_event(r, "orders", "before")
        assert await _until(lambda: got == ["before"])
        await sub.stop()
        ended = await _until(listening.done, 10)
        reached = await aio.publish_event(r, "orders", "after stop")
        await asyncio.sleep(0.3)  # time for a subscription that came back to deliver it
        await r.aclose()
        return ended, sub.running, reached, got, sub.stats.reconnects

    with caplog.at_level(logging.WARNING, logger="patterns.pubsub"):
        ended, running, reached, got, reconnects = _run(body)
    assert ended and not running and reached == 0 and got == ["before"] and reconnects == 0
    assert "lost its connection" not in caplog.text


def test_a_second_iteration_at_once_is_refused_and_the_first_goes_on(make_async):
    async def body():
        r = await make_async()
        got = []
        async with aio.Subscriber(r, ["orders"]) as sub:
            async def first():
                async for channel, event in sub:
                    got.append(event)

            listening = asyncio.ensure_future(first())
            await asyncio.sleep(0.05)
            with pytest.raises(RuntimeError, match="already being iterated"):
                async for _ in sub:
                    pass
            await aio.publish_event(r, "orders", 0)
            arrived = await _until(lambda: got == [0])
            reconnects = sub.stats.reconnects
        await asyncio.wait_for(listening, 10)
        await r.aclose()
        return arrived, reconnects

    assert _run(body) == (True, 0)


def test_a_start_whose_subscription_is_not_confirmed_in_time_raises_instead_of_returning(redis_server, monkeypatch):
    """A server slow to answer: start() returned after 5 s unconfirmed, and a later refusal killed the task."""
    from helpers import Proxy

    with Proxy(redis_server.port) as proxy:
        async def body():
            r = await aio.connect(proxy.url)
            sub = aio.Subscriber(r, ["orders"], lambda channel, event: None)
            proxy.hold_replies(True)
            try:
                with pytest.raises(TimeoutError, match="could not subscribe within 1"):
                    await sub.start(timeout=1)
                return sub.running
            finally:
                proxy.hold_replies(False)
                await r.aclose()

        monkeypatch.setattr("patterns.pubsub.CONFIRM_WITHIN", 0.5)
        monkeypatch.setattr("patterns.aio.pubsub.CONFIRM_WITHIN", 0.5)
        assert _run(body) is False


@pytest.mark.parametrize("callback", ["on_gap", "on_malformed"])
def test_an_async_def_callback_is_refused_since_it_would_never_be_awaited(callback):
    import fakeredis

    async def later(*args):
        pass

    with pytest.raises(TypeError, match=f"{callback} must be a plain function"):
        aio.Subscriber(fakeredis.FakeAsyncRedis(), ["orders"], print, **{callback: later})


def test_more_subscribers_than_pooled_connections_are_refused_with_what_to_do(real, redis_server, monkeypatch):
    from patterns import connection

    monkeypatch.setattr(aio.connection, "MAX_CONNECTIONS", 3)
    monkeypatch.setattr(connection, "SOCKET_TIMEOUT", 0.5)  # the pool's wait for a free connection

    async def body():
        r = await aio.connect(redis_server.url)
        subs = [await aio.Subscriber(r, [f"c{i}"]).start() for i in range(3)]
        try:
            with pytest.raises(PatternError, match="every connection of this client's pool is in use"):
                await aio.Subscriber(r, ["one too many"]).start(timeout=5)
        finally:
            for sub in subs:
                await sub.stop()
            await r.aclose()

    _run(body)


def test_a_handler_that_swallows_the_cancel_still_ends_at_stop(real, redis_server):
    async def body():
        r = await aio.connect(redis_server.url)
        entered = asyncio.Event()

        async def stubborn(channel, event):
            entered.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass  # a handler that catches everything

        sub = await aio.Subscriber(r, ["orders"], stubborn).start()
        await aio.publish_event(r, "orders", 1)
        await asyncio.wait_for(entered.wait(), 30)
        await sub.stop()
        left = await _until(lambda: real.pubsub_numsub("orders") == [("orders", 0)], 10)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        await r.aclose()
        return left, sub.running, tasks

    assert _run(body) == (True, False, [])
