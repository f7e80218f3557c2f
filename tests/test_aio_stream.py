"""patterns.aio's streams: what awaiting adds to the synchronous EventStream's behaviour.

tests/test_pubsub.py runs every stream test on both APIs already (through tests/aio_twins.py).
These are the asyncio-only ones: a blocked read leaves the loop free, many consumer tasks share
a group, a read cancelled while it waits loses nothing, the group made by ``await``, and refusing
a client of the other kind.
"""
from __future__ import annotations

import asyncio
import time
import uuid

import fakeredis
import pytest

from patterns import aio
from patterns import pubsub as sync
from helpers import returned


def _run(body):
    return asyncio.run(body())


def _name() -> str:
    return f"s-{uuid.uuid4().hex[:6]}"


def test_a_blocked_read_leaves_the_event_loop_free_and_returns_when_an_event_arrives(make_async):
    async def body():
        r = await make_async()
        stream = await aio.EventStream(r, _name())
        ticks = []

        async def ticker():
            while len(ticks) < 20:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        async def producer():
            await asyncio.sleep(0.1)
            await stream.append({"n": 1})

        started = time.monotonic()
        found, _, _ = await asyncio.gather(stream.read("c", block=5), ticker(), producer())
        waited = time.monotonic() - started
        await r.aclose()
        return found, ticks, started, waited

    found, ticks, started, waited = _run(body)
    assert [m.event for m in found] == [{"n": 1}]
    assert waited < 4, "the read waited out its block although an event came"
    assert sum(1 for t in ticks if t < started + 0.1) >= 3, "the loop stood still while the read waited"


def test_consumer_tasks_of_one_group_get_each_event_once(make_crowd_client):
    async def body():
        r = await make_crowd_client()
        stream = await aio.EventStream(r, _name(), maxlen=10_000)
        await asyncio.gather(*(stream.append(i) for i in range(500)))
        seen: list[int] = []

        async def consumer(name: str) -> None:
            while True:
                found = await stream.read(name, count=7)
                if not found:
                    return
                seen.extend(m.event for m in found)
                await stream.ack(*(m.id for m in found))

        await asyncio.gather(*(consumer(f"c{i}") for i in range(10)))
        left = await stream.pending()
        await r.aclose()
        return seen, left

    seen, left = _run(body)
    assert sorted(seen) == list(range(500)) and left == []


def test_a_read_cancelled_while_it_waits_loses_no_event(make_async):
    """Cancelled mid-block: whatever XREADGROUP handed out before the cancel is in the consumer's pending list."""
    async def body():
        r = await make_async()
        stream = await aio.EventStream(r, _name())
        task = asyncio.ensure_future(stream.read("c", block=10))
        await asyncio.sleep(0.1)  # it waits on the server
        await stream.append("e1")
        task.cancel()
        finished = await returned(task)
        got = [m.event for m in task.result()] if finished else []
        again = [m.event for m in await stream.pending_for("c")] + [m.event for m in await stream.read("c")]
        await r.aclose()
        return got, again

    got, again = _run(body)
    assert "e1" in got + again  # at least once: given to the cancelled read, it is still pending for "c"


def test_a_stream_made_with_await_has_its_group_at_once_and_one_made_without_at_its_first_operation(r, make_async):
    async def body():
        client = await make_async()
        name = _name()
        awaited = await aio.EventStream(client, name, group="now")
        plain = aio.EventStream(client, name, group="later")
        before = {g["name"] for g in r.xinfo_groups(awaited.key)}
        await plain.length()
        after = {g["name"] for g in r.xinfo_groups(awaited.key)}
        await client.aclose()
        return before, after

    before, after = _run(body)
    assert before == {"now"} and after == {"now", "later"}


def test_each_stream_refuses_a_client_of_the_other_kind():
    with pytest.raises(TypeError, match="is an asyncio client: use patterns.aio.EventStream"):
        sync.EventStream(fakeredis.FakeAsyncRedis(decode_responses=True), "orders")
    with pytest.raises(TypeError, match="is not an asyncio client: use patterns.pubsub.EventStream"):
        aio.EventStream(fakeredis.FakeRedis(decode_responses=True), "orders")


def test_an_asyncio_stream_made_again_for_a_group_that_exists_keeps_it(r, make_async):
    async def body():
        client = await make_async()
        first = await aio.EventStream(client, "orders-again", group="g")
        await first.append({"n": 1})
        again = await aio.EventStream(client, "orders-again", group="g")
        found = [m.event for m in await again.read("c")]
        await client.aclose()
        return first.key, found

    key, found = _run(body)
    assert [g["name"] for g in r.xinfo_groups(key)] == ["g"] and found == [{"n": 1}]


def test_a_read_blocking_longer_than_the_socket_timeout_returns_empty_on_every_asyncio_client(make_async, monkeypatch):
    """Review of 3 Dec: no asyncio cluster test blocked longer than its socket timeout, so the cluster
    client's timeout going unseen (patterns.connection.socket_timeout) passed: ReplyTimeout after 5 s."""
    import patterns

    monkeypatch.setattr(patterns.connection, "SOCKET_TIMEOUT", 1.0)  # the clients made below wait 1 s for a reply

    async def body():
        client = await make_async()
        stream = await aio.EventStream(client, _name())
        started = time.monotonic()
        found = await stream.read("c", block=2.5)
        waited = time.monotonic() - started
        await client.aclose()
        return found, waited

    found, waited = _run(body)
    assert found == [] and 2.4 <= waited < 10
