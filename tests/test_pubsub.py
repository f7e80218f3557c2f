"""Pub/sub and streams: ordering, patterns, clean stop, reconnect, consumer groups, crash and claim."""
from __future__ import annotations

import gc
import logging
import math
import threading
import time

import fakeredis
import pytest

import aio_twins
from aio_twins import pytest_generate_tests  # noqa: F401  (pytest runs it: every test on both APIs)
from patterns import aio, keys
from patterns.errors import NotSerializable
from patterns.pubsub import EventStream, Subscriber, publish_event
from helpers import wait_for


# Every test here runs twice: on patterns.pubsub, and with patterns.aio's EventStream, Subscriber
# and publish_event through tests/aio_twins.py (the asyncio Subscriber's handler runs on the
# loop), unless marked sync_only with the reason.
api = aio_twins.both_apis(lambda leg: {"EventStream": leg.view(aio.EventStream),
                                       "Subscriber": leg.view(aio.Subscriber),
                                       "publish_event": leg.function(aio.publish_event)})


class Inbox:
    def __init__(self) -> None:
        self.items: list = []
        self.lock = threading.Lock()

    def __call__(self, channel, event) -> None:
        with self.lock:
            self.items.append((channel, event))


def test_events_arrive_in_order_with_their_json_types(r):
    inbox = Inbox()
    with Subscriber(r, ["orders"], inbox):
        for i in range(50):
            publish_event(r, "orders", {"n": i, "tags": ["a"], "ok": True})
        assert wait_for(lambda: len(inbox.items) == 50)
    assert [e["n"] for _, e in inbox.items] == list(range(50))
    assert inbox.items[0] == ("orders", {"n": 0, "tags": ["a"], "ok": True})


def test_publish_returns_the_number_of_receivers(r):
    assert publish_event(r, "nobody-listens", 1) == 0
    with Subscriber(r, ["news"], Inbox()), Subscriber(r, ["news"], Inbox()):
        assert publish_event(r, "news", 1) == 2


@pytest.mark.not_as_attendee("an ACL allows only the literal pattern it lists: test_workshop.py tests the error")
def test_pattern_subscriptions_receive_matching_channels_only(r):
    inbox = Inbox()
    with Subscriber(r, handler=inbox, patterns=["audit.*"]):
        publish_event(r, "audit.login", "ada")
        publish_event(r, "orders", "not for us")
        publish_event(r, "audit.logout", "ada")
        assert wait_for(lambda: len(inbox.items) == 2)
        time.sleep(0.1)
    assert inbox.items == [("audit.login", "ada"), ("audit.logout", "ada")]


def test_a_malformed_message_is_reported_and_the_subscriber_goes_on(r):
    inbox, reported = Inbox(), []
    with Subscriber(r, ["orders"], inbox, on_malformed=lambda ch, raw, err: reported.append(raw)) as sub:
        r.publish(keys.channel(r, "orders"), "{not json")
        publish_event(r, "orders", "fine")
        assert wait_for(lambda: inbox.items == [("orders", "fine")])
    assert reported == ["{not json"] and sub.stats.malformed == 1


def test_a_failing_handler_does_not_end_the_subscription(r):
    seen = []

    def handler(channel, event):
        seen.append(event)
        if event == "boom":
            raise RuntimeError("handler bug")

    with Subscriber(r, ["orders"], handler) as sub:
        publish_event(r, "orders", "boom")
        publish_event(r, "orders", "after")
        assert wait_for(lambda: seen == ["boom", "after"])
    assert sub.stats.handler_errors == 1


@pytest.mark.sync_only("counts threads: tests/test_aio_subscriber.py counts the asyncio one's tasks")
def test_stop_leaves_no_thread_behind(r):
    before = threading.active_count()
    sub = Subscriber(r, ["orders"], Inbox()).start()
    assert sub.running and threading.active_count() == before + 1
    sub.stop()
    assert not sub.running and threading.active_count() == before


def test_stop_leaves_no_subscribed_connection_behind(real):
    sub = Subscriber(real, ["orders"], Inbox()).start()
    assert real.pubsub_numsub("orders") == [("orders", 1)]
    sub.stop()
    assert real.pubsub_numsub("orders") == [("orders", 0)]
    assert [c for c in real.client_list() if int(c.get("sub", 0)) or int(c.get("psub", 0))] == []


def test_reconnects_after_the_server_drops_it_and_reports_the_gap(real):
    inbox, gaps = Inbox(), []
    with Subscriber(real, ["orders"], inbox, on_gap=gaps.append) as sub:
        publish_event(real, "orders", "before")
        assert wait_for(lambda: len(inbox.items) == 1)
        assert real.client_kill_filter(_type="pubsub") == 1
        assert wait_for(lambda: len(gaps) == 1)
        assert wait_for(lambda: real.pubsub_numsub("orders") == [("orders", 1)])
        publish_event(real, "orders", "after")
        assert wait_for(lambda: len(inbox.items) == 2)
    assert [e for _, e in inbox.items] == ["before", "after"] and sub.stats.reconnects == 1


def test_sharded_subscribers_receive_sharded_publishes(r):
    inbox = Inbox()
    with Subscriber(r, ["ticks"], inbox, sharded=True):
        assert publish_event(r, "ticks", 1, sharded=True) == 1
        assert wait_for(lambda: inbox.items == [("ticks", 1)])


@pytest.mark.not_as_attendee("it publishes to another namespace: test_workshop.py tests that it is refused")
def test_channels_live_under_the_namespace(r):
    keys.set_namespace(r, "alice")
    inbox = Inbox()
    with Subscriber(r, ["orders"], inbox):
        r.publish("orders", '"someone else\'s"')  # another attendee's channel
        publish_event(r, "orders", "mine")
        assert wait_for(lambda: inbox.items == [("orders", "mine")])
    assert r.pubsub_numsub("alice:orders") == [("alice:orders", 0)]


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda r: publish_event(r, "", 1), ValueError, "channel names must be non-empty"),
    (lambda r: publish_event(r, "orders", object()), NotSerializable, "as JSON"),
    (lambda r: Subscriber(r, [], lambda c, e: None), ValueError, "at least one channel"),
    (lambda r: Subscriber(r, ["a"], "print"), TypeError, "handler must be a function"),
    (lambda r: Subscriber(r, ["a"], lambda c, e: None, patterns=["b*"], sharded=True), ValueError, "no patterns"),
    (lambda r: EventStream(r, "s", maxlen=0), ValueError, "maxlen"),
])
def test_bad_input_is_refused_clearly(call, error, message):
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    with pytest.raises(error, match=message):
        call(client)


@pytest.mark.sync_only("the asyncio Subscriber without a handler is iterated: tests/test_aio_subscriber.py")
def test_a_threaded_subscriber_without_a_handler_is_refused():
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    with pytest.raises(TypeError, match="handler must be a function"):
        Subscriber(client, ["a"], None)


# -- streams ------------------------------------------------------------------------------------


def test_a_consumer_group_hands_each_message_to_one_consumer_in_order(r):
    stream = EventStream(r, "orders", start="0")
    ids = [stream.append({"n": i}) for i in range(10)]
    first, second = stream.read("a", count=4), stream.read("b", count=10)
    assert [m.event["n"] for m in first + second] == list(range(10))
    assert [m.id for m in first + second] == ids and stream.read("a") == []


def test_acknowledged_messages_leave_the_pending_list(r):
    stream = EventStream(r, "orders", start="0")
    stream.append("x")
    stream.append("y")
    messages = stream.read("a")
    assert [p["deliveries"] for p in stream.pending()] == [1, 1]
    assert stream.ack(messages[0].id) == 1 and stream.ack(messages[0].id) == 0
    assert [p["id"] for p in stream.pending()] == [messages[1].id]


def test_a_consumer_that_was_away_resumes_after_its_last_ack(r):
    stream = EventStream(r, "orders", start="0")
    for i in range(3):
        stream.append(i)
    done = stream.read("worker", count=1)
    stream.ack(done[0].id)
    stream.read("worker", count=1)  # received, then the worker went down before acknowledging it
    for i in range(3, 6):
        stream.append(i)  # published while it was away: kept
    resumed = stream.pending_for("worker") + stream.read("worker")
    assert [m.event for m in resumed] == [1, 2, 3, 4, 5]


def test_crash_and_claim_loses_nothing_and_counts_the_redelivery(r):
    stream = EventStream(r, "orders", start="0")
    for i in range(5):
        stream.append(i)
    crashed = stream.read("a", count=3)  # a dies without acknowledging
    stream.ack(*[m.id for m in stream.read("b")])  # b handles the rest
    time.sleep(0.05)
    claimed = stream.claim("b", min_idle=0.02)
    assert [(m.event, m.deliveries) for m in claimed] == [(0, 2), (1, 2), (2, 2)]
    assert [m.id for m in claimed] == [m.id for m in crashed]
    stream.ack(*[m.id for m in claimed])
    assert stream.pending() == []


def test_claim_leaves_messages_that_are_not_idle_long_enough(r):
    stream = EventStream(r, "orders", start="0")
    stream.append(1)
    stream.read("a")
    assert stream.claim("b", min_idle=60) == []


def test_the_stream_is_bounded_and_expires(r):
    stream = EventStream(r, "orders", maxlen=10, start="0", retention=3600)
    for i in range(25):
        stream.append(i)
    assert stream.trim(10) >= 0 and stream.length() == 10
    assert 0 < r.pttl(stream.key) <= 3_600_000


def test_a_new_group_started_at_the_end_sees_only_new_events(r):
    EventStream(r, "orders", group="early", start="0").append("old")
    late = EventStream(r, "orders", group="late")  # start="$"
    late.append("new")
    assert [m.event for m in late.read("c")] == ["new"]


def test_concurrent_consumers_share_the_work_without_overlap(real):
    stream = EventStream(real, "jobs", start="0")
    for i in range(200):
        stream.append(i)
    handled, lock = [], threading.Lock()

    def worker(name):
        while True:
            batch = stream.read(name, count=7)
            if not batch:
                return
            with lock:
                handled.extend(m.event for m in batch)
            stream.ack(*[m.id for m in batch])

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(handled) == list(range(200)) and stream.pending() == []


# -- hardening: the group exists whenever the stream does ---------------------------------------------


@pytest.mark.parametrize("retention", [0, -1, 0.0004, math.inf, math.nan, "60", True])
def test_a_retention_redis_cannot_express_is_refused(retention):
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    with pytest.raises((TypeError, ValueError), match="retention"):
        EventStream(client, "orders", retention=retention)
    assert client.keys("*") == []


def test_after_the_stream_expires_its_group_comes_back_with_it(r):
    stream = EventStream(r, "orders", retention=0.2, start="0")
    stream.append("first")
    assert wait_for(lambda: r.exists(stream.key) == 0)  # quiet for longer than its retention
    assert stream.read("c") == []  # no NOGROUP: the group is made again
    assert 0 < r.pttl(stream.key)  # ...and the stream it needs has a TTL, as every key does
    assert wait_for(lambda: r.exists(stream.key) == 0)
    stream.append("after the gap")  # the append recreates the stream: with its group
    assert [m.event for m in stream.read("c")] == ["after the gap"]


def test_entries_trimmed_before_they_were_read_are_lost_and_counted_in_the_backlog(r):
    stream = EventStream(r, "orders", maxlen=10, start="0")
    for i in range(3):
        stream.append(i)
    assert [m.event for m in stream.read("c", count=2)] == [0, 1]
    assert stream.backlog() == {"waiting": 1, "trimmed_unread": 0}
    for i in range(3, 30):
        stream.append(i)
    stream.trim(5)  # as MAXLEN does when the consumers fall behind: the oldest go, read or not
    assert stream.backlog() == {"waiting": 5, "trimmed_unread": 23}
    assert [m.event for m in stream.read("c", count=100)] == list(range(25, 30))


def test_an_entry_trimmed_while_pending_is_acknowledged_and_counted_never_handed_out_empty(r, caplog):
    stream = EventStream(r, "orders", maxlen=10, start="0")
    for i in range(4):
        stream.append(i)
    taken = stream.read("crashed", count=4)
    stream.trim(2)  # entries 0 and 1 are gone while still pending
    with caplog.at_level(logging.WARNING, logger="patterns.pubsub"):
        again = stream.pending_for("crashed")
    assert [m.event for m in again] == [2, 3] and stream.lost == 2
    assert [p["id"] for p in stream.pending()] == [m.id for m in taken[2:]]
    assert "trimmed" in caplog.text


def test_claim_counts_entries_trimmed_while_pending_as_lost(r):
    stream = EventStream(r, "orders", maxlen=10, start="0")
    for i in range(4):
        stream.append(i)
    stream.read("crashed", count=4)
    stream.trim(2)
    claimed = stream.claim("rescuer", min_idle=0)
    assert [m.event for m in claimed] == [2, 3] and stream.lost == 2
    assert len(stream.pending()) == 2


# -- hardening: a blocking read of any length returns normally ----------------------------------------


def test_a_read_that_blocks_longer_than_the_socket_timeout_returns_empty(one_second_socket_timeout):
    stream = EventStream(one_second_socket_timeout, "orders", start="0")
    started = time.monotonic()
    assert stream.read("c", block=2.5) == []
    assert time.monotonic() - started >= 2.5


def test_a_read_that_blocks_longer_than_the_socket_timeout_returns_what_arrives(one_second_socket_timeout):
    stream = EventStream(one_second_socket_timeout, "orders", start="0")
    late = threading.Timer(1.5, lambda: stream.append("late"))
    late.start()
    assert [m.event for m in stream.read("c", block=5)] == ["late"]
    # The read can return before the appending thread has read its own reply: let it finish before
    # the fixture disconnects the pool under it (under load its read then met a closed connection).
    late.join()


@pytest.mark.parametrize("block", [0, -1, 0.0004, math.inf, math.nan, "1"])
def test_a_block_redis_would_read_as_forever_or_cannot_express_is_refused(r, block):
    stream = EventStream(r, "orders")
    with pytest.raises((TypeError, ValueError), match="block"):
        stream.read("c", block=block)


# -- hardening: delivery counts equal XPENDING's ------------------------------------------------------


def xpending_counts(r, stream, consumer=None):
    entries = r.xpending_range(stream.key, stream.group, "-", "+", 1000, consumername=consumer) if consumer \
        else r.xpending_range(stream.key, stream.group, "-", "+", 1000)
    return {p["message_id"]: p["times_delivered"] for p in entries}


def test_claimed_messages_report_the_delivery_counts_xpending_reports(r):
    stream = EventStream(r, "orders", start="0")
    for i in range(4):
        stream.append(i)
    taken = stream.read("crashed", count=4)
    # The last two look idle for a minute; the first two were delivered just now, so a claim of
    # entries idle for 30 s takes only the last two: not the group's first pending entries.
    r.xclaim(stream.key, stream.group, "crashed", 0, [m.id for m in taken[2:]], idle=60_000)
    claimed = stream.claim("rescuer", min_idle=30, count=2)
    counts = xpending_counts(r, stream)
    assert [m.id for m in claimed] == [m.id for m in taken[2:]]
    assert [m.deliveries for m in claimed] == [counts[m.id] for m in claimed] == [3, 3]


def test_pending_for_reports_the_delivery_counts_xpending_reports(r):
    stream = EventStream(r, "orders", start="0")
    for i in range(3):
        stream.append(i)
    stream.read("worker")
    for _ in range(3):  # a worker that restarts three times re-reads its pending entries
        again = stream.pending_for("worker")
    counts = xpending_counts(r, stream, "worker")
    assert [m.deliveries for m in again] == [counts[m.id] for m in again] == [4, 4, 4]


# -- hardening: a failing callback does not end the subscriber ----------------------------------------


def test_a_failing_on_malformed_callback_is_contained_logged_and_counted(r, caplog):
    inbox = Inbox()

    def on_malformed(channel, raw, error):
        raise RuntimeError("callback bug")

    with caplog.at_level(logging.ERROR, logger="patterns.pubsub"):
        with Subscriber(r, ["orders"], inbox, on_malformed=on_malformed) as sub:
            r.publish(keys.channel(r, "orders"), "{not json")
            publish_event(r, "orders", "after")
            assert wait_for(lambda: inbox.items == [("orders", "after")])
            assert sub.running
    assert sub.stats.malformed == 1 and sub.stats.callback_errors == 1
    assert "on_malformed" in caplog.text


def test_a_failing_on_gap_callback_is_contained_and_the_subscriber_goes_on(real):
    inbox, calls = Inbox(), []

    def on_gap(seconds):
        calls.append(seconds)
        raise RuntimeError("callback bug")

    with Subscriber(real, ["orders"], inbox, on_gap=on_gap) as sub:
        assert real.client_kill_filter(_type="pubsub") == 1
        assert wait_for(lambda: len(calls) == 1)
        assert wait_for(lambda: real.pubsub_numsub("orders") == [("orders", 1)])
        publish_event(real, "orders", "after the gap")
        assert wait_for(lambda: inbox.items == [("orders", "after the gap")])
        assert sub.running
    assert sub.stats.callback_errors == 1 and sub.stats.reconnects == 1


# -- hardening, second review: every call finds its group; odd entries never stop a consumer ----------


def expire_now(r, stream):
    r.pexpire(stream.key, 1)
    assert wait_for(lambda: r.exists(stream.key) == 0)


def test_after_the_stream_expires_every_call_finds_its_group(r):
    stream = EventStream(r, "orders", start="0")
    stream.append("before")
    expire_now(r, stream)
    assert stream.pending_for("c") == [] and stream.claim("c", min_idle=0) == [] and stream.pending() == []
    assert stream.backlog() == {"waiting": 0, "trimmed_unread": 0}
    stream.append("after")
    assert [m.event for m in stream.read("c")] == ["after"]


def test_a_second_group_on_an_expired_stream_comes_back_too(r):
    billing = EventStream(r, "orders", group="billing", start="0")
    shipping = EventStream(r, "orders", group="shipping", start="0")
    billing.append("old")
    expire_now(r, billing)
    billing.append("new")  # re-creates the stream, with billing's group only
    assert shipping.pending_for("s") == []  # no NOGROUP: shipping's group comes back, from 0
    assert [m.event for m in shipping.read("s")] == ["new"]


def test_a_read_blocked_when_the_stream_expires_returns_normally(on_server):
    stream = EventStream(on_server, "orders", start="0", retention=0.5)
    stream.append("soon gone")
    stream.read("c")
    started = time.monotonic()
    assert stream.read("c", block=2) == []  # the key expires while the read waits (UNBLOCKED)
    assert time.monotonic() - started >= 2


def test_the_backlog_is_exact_after_the_group_reads_past_what_was_trimmed(r):
    stream = EventStream(r, "orders", maxlen=100, start="0")
    for i in range(10):
        stream.append(i)
    stream.read("c", count=1)
    assert stream.trim(2) == 8
    assert stream.backlog() == {"waiting": 2, "trimmed_unread": 7}
    assert [m.event for m in stream.read("c", count=10)] == [8, 9]
    assert stream.backlog() == {"waiting": 0, "trimmed_unread": 7}
    stream.append(10)
    assert stream.backlog() == {"waiting": 1, "trimmed_unread": 7}


def test_the_backlog_counts_what_a_group_that_read_nothing_lost(r):
    stream = EventStream(r, "orders", maxlen=100, start="0")
    for i in range(10):
        stream.append(i)
    stream.trim(0)
    assert stream.backlog() == {"waiting": 0, "trimmed_unread": 10}


def test_appends_past_maxlen_count_what_they_trim_from_a_group_behind(r):
    stream = EventStream(r, "orders", maxlen=5, start="0")
    for i in range(12):
        stream.append(i)
    assert stream.length() <= 5 + 5 // 100
    assert stream.backlog() == {"waiting": 5, "trimmed_unread": 7}


@pytest.mark.parametrize(("option", "value"), [("retention", 1e16), ("maxlen", 2**63)])
def test_a_size_redis_cannot_store_is_refused_before_anything_is_written(option, value):
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    with pytest.raises(ValueError, match=option):
        EventStream(client, "orders", **{option: value})
    assert client.keys("*") == []


def test_a_message_too_deeply_nested_to_decode_is_malformed_and_the_subscriber_goes_on(r):
    inbox = Inbox()
    with Subscriber(r, ["orders"], inbox, on_malformed=lambda *a: None) as sub:
        r.publish(keys.channel(r, "orders"), "[" * 100_000)
        publish_event(r, "orders", "after")
        assert wait_for(lambda: inbox.items == [("orders", "after")])
        assert sub.running and sub.stats.malformed == 1


def test_a_stream_entry_too_deeply_nested_to_decode_is_handed_out_as_none(r):
    stream = EventStream(r, "orders", start="0")
    r.xadd(stream.key, {"event": "[" * 100_000})
    stream.append("fine")
    # The decode runs to the recursion limit: a finalizer of another test's garbage that the
    # collector ran right then would fail there too (once in CI: a cluster pub/sub's weakref.finalize).
    gc.collect()
    gc.disable()
    try:
        assert [m.event for m in stream.read("c")] == [None, "fine"]
        assert [m.event for m in stream.pending_for("c")] == [None, "fine"]
    finally:
        gc.enable()


def test_pending_for_skips_whole_pages_of_trimmed_entries(r):
    stream = EventStream(r, "orders", maxlen=10_000, start="0")
    for i in range(120):
        stream.append(i)
    stream.read("dead", count=120)
    stream.trim(20)  # the first hundred pending entries are gone
    again = stream.pending_for("dead", count=10)
    assert [m.event for m in again] == list(range(100, 110)) and stream.lost == 100


def test_pending_for_acknowledges_more_trimmed_entries_than_lua_can_unpack(r):
    stream = EventStream(r, "orders", maxlen=100_000, start="0")
    pipe = r.pipeline(transaction=False)
    for i in range(9000):
        pipe.xadd(stream.key, {"event": str(i)})
    pipe.execute()
    stream.read("dead", count=9000)
    stream.trim(0)
    assert stream.pending_for("dead", count=9000) == [] and stream.lost == 9000 and stream.pending() == []


def test_claim_finds_idle_entries_behind_many_busy_ones(r):
    stream = EventStream(r, "orders", maxlen=10_000, start="0")
    for i in range(30):
        stream.append(i)
    taken = stream.read("crashed", count=30)
    r.xclaim(stream.key, stream.group, "crashed", 0, [m.id for m in taken[-1:]], idle=60_000)
    claimed = stream.claim("rescuer", min_idle=30, count=1)  # one idle entry, behind 29 busy ones
    assert [m.event for m in claimed] == [29]


def test_a_channel_named_twice_is_subscribed_once(r):
    inbox = Inbox()
    with Subscriber(r, ["orders", "orders"], inbox, on_malformed=None) as sub:
        publish_event(r, "orders", 1)
        assert wait_for(lambda: inbox.items == [("orders", 1)]) and sub.running


# -- hardening, third review ------------------------------------------------------------------------------


def test_every_group_comes_back_with_an_expired_stream_and_counts_what_it_missed(r):
    a = EventStream(r, "orders", group="a", maxlen=100, start="0")
    b = EventStream(r, "orders", group="b", maxlen=100, start="0")
    a.append("old")
    expire_now(r, a)
    for i in range(300):
        a.append(i)  # b is away: the stream comes back with b's group too, so b's losses are counted
    assert b.backlog() == {"waiting": 100, "trimmed_unread": 200}
    assert [m.event for m in b.read("c", count=1)] == [200]


def test_a_reader_that_brings_an_expired_stream_back_brings_back_the_other_groups(r):
    a = EventStream(r, "orders", group="a", maxlen=100, start="0")
    b = EventStream(r, "orders", group="b", maxlen=100, start="0")
    a.append("old")
    expire_now(r, a)
    assert b.read("c") == []  # b's read makes the stream again: with a's group as well
    for i in range(300):
        a.append(i)
    assert a.backlog() == {"waiting": 100, "trimmed_unread": 200}


def test_pending_for_over_more_trimmed_entries_than_one_call_looks_at(on_server):
    # (a real server only: fakeredis runs Lua some hundred times slower, and the logic is the same)
    r = on_server
    stream = EventStream(r, "orders", maxlen=100_000, start="0")
    pipe = r.pipeline(transaction=False)
    for i in range(12_000):
        pipe.xadd(stream.key, {"event": str(i)})
    pipe.execute()
    stream.read("dead", count=12_000)
    stream.trim(0)
    assert stream.pending_for("dead", count=1) == [] and stream.lost == 12_000 and stream.pending() == []


def test_a_trim_far_below_the_streams_length_goes_in_batches_and_counts_everything(r):
    stream = EventStream(r, "orders", maxlen=100_000, start="0")
    pipe = r.pipeline(transaction=False)
    for i in range(12_000):
        pipe.xadd(stream.key, {"event": str(i)})
    pipe.execute()
    assert stream.trim(10) == 11_990 and stream.length() == 10
    assert stream.backlog() == {"waiting": 10, "trimmed_unread": 11_990}


def test_a_read_works_on_a_client_speaking_resp3(redis_server):
    import redis as redis_py

    client = redis_py.Redis.from_url(redis_server.url, protocol=3, decode_responses=True)
    client.flushall()
    stream = EventStream(client, "orders", start="0")
    stream.append("hello")
    assert [m.event for m in stream.read("c")] == ["hello"]


@pytest.mark.sync_only("makes patterns.pubsub.EventStream itself; tests/test_aio_stream.py makes the asyncio stream again")
def test_an_event_stream_made_again_for_a_group_that_exists_keeps_it(r):
    """Re-running a notebook cell makes the same EventStream twice: the group exists, and that is no error
    (on fakeredis the script's error text came back as a non-string and the script itself failed)."""
    from patterns.pubsub import EventStream

    first = EventStream(r, "orders-again", group="g")
    first.append({"n": 1})
    EventStream(r, "orders-again", group="g")
    assert [g["name"] for g in r.xinfo_groups(keys.key(r, "stream", "orders-again"))] == ["g"]
