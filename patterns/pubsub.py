"""Pub/sub and streams: fire-and-forget events, and the durable alternative.

``publish_event`` and ``Subscriber`` are the seed's publishEvent and its
duplicate-and-subscribe, done right: JSON in and out, a background thread that a
malformed message or a failing handler cannot kill, a clean stop, and a reconnect
(with the gap reported) when the connection drops. Pub/sub keeps nothing: whatever is
published while a subscriber is away is gone.

``EventStream`` is the durable alternative on Redis Streams: a consumer group
remembers what each consumer has been given and what it has acknowledged, so a
consumer that was away resumes where it stopped, and the messages of one that
crashed can be claimed by another. Delivery is at least once: handlers must be
idempotent.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, TypeVar

import redis

from . import keys, validate
from .cache import encode
from .connection import UNAVAILABLE_ERRORS, check_kind, is_cluster, longest_block
from .errors import PatternError
from .scripts import load_script
from .steps import Command, Steps, operations, run, synchronous

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_BLOCK = 86400.0  # seconds a read may wait: a day; longer is a bug, not a wait

_APPEND = load_script("stream_append")
_GROUP = load_script("stream_group")
_CLAIM = load_script("stream_claim")
_PENDING = load_script("stream_pending")
_BACKLOG = load_script("stream_backlog")

Handler = Callable[[str, Any], None]


def _channel_names(r: Any, names: Iterable[str], what: str) -> list[str]:
    names = [names] if isinstance(names, str) else list(names)
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{what} names must be non-empty strings, got {name!r}")
    return list(dict.fromkeys(keys.channel(r, name) for name in names))  # once each: Redis confirms once


def publish_event(r: Any, channel: str, event: Any, *, sharded: bool = False) -> int:
    """Publish ``event`` as JSON on ``channel``; returns how many subscribers received it.

    ``sharded=True`` uses SPUBLISH: on a cluster the message travels only to the master
    that owns the channel's slot instead of to every node (see notebook 08).
    """
    return run(r, _publish_event(r, channel, event, sharded))


def _publish_event(r: Any, channel: str, event: Any, sharded: bool) -> Steps[int]:
    (name,) = _channel_names(r, [channel], "channel")
    text = encode(event, key=f"event on {channel}", max_bytes=None)
    return (yield Command(("SPUBLISH" if sharded else "PUBLISH", name, text)))


@dataclass
class SubscriberStats:
    received: int = 0
    malformed: int = 0  # messages that were not JSON (reported, skipped)
    handler_errors: int = 0  # handler raised (logged, the subscriber goes on)
    callback_errors: int = 0  # on_malformed or on_gap raised (logged, the subscriber goes on)
    reconnects: int = 0
    gaps: list[float] = field(default_factory=list)  # seconds without a connection, per reconnect


CONFIRMATIONS = ("subscribe", "psubscribe", "ssubscribe")
DATA_MESSAGES = ("message", "pmessage", "smessage")


class SubscriberBase:
    """What the threaded Subscriber and patterns.aio's share: the subscriptions, decoding, the
    reconnect bookkeeping and the callbacks; each adds only how it waits (a thread, a task).

    channels / patterns   exact channel names and glob patterns (``orders.*``)
    sharded               SSUBSCRIBE (pair with publish_event(..., sharded=True))
    on_malformed          called with (channel, raw text, error) for a non-JSON message
    on_gap                called with the seconds a dropped connection was away, after
                          reconnecting: whatever was published meanwhile is lost
    """

    handler_optional = False  # the asyncio Subscriber may be iterated instead of given a handler

    def __init__(
        self,
        r: Any,
        channels: Iterable[str] | str = (),
        handler: Handler | None = None,
        *,
        patterns: Iterable[str] | str = (),
        sharded: bool = False,
        on_malformed: Callable[[str, str, Exception], None] | None = None,
        on_gap: Callable[[float], None] | None = None,
    ) -> None:
        if handler is not None or not self.handler_optional:
            validate.function(handler, "handler", "(channel, event)")
        self._check_client(r)
        self.r = r
        self.channels = _channel_names(r, channels, "channel")
        self.patterns = _channel_names(r, patterns, "pattern")
        if not self.channels and not self.patterns:
            raise ValueError("subscribe to at least one channel or pattern")
        if sharded and self.patterns:
            raise ValueError("sharded pub/sub has no patterns: subscribe to exact channels")
        self.handler = handler
        self.sharded = sharded
        if on_malformed is not None:
            validate.function(on_malformed, "on_malformed", "(channel, raw text, error)")
        if on_gap is not None:
            validate.function(on_gap, "on_gap", "(seconds away)")
        self.on_malformed = on_malformed or (lambda ch, raw, err: log.warning("malformed message on %s: %s", ch, err))
        self.on_gap = on_gap
        self.stats = SubscriberStats()
        self._prefix = keys.channel(r, "x")[:-1]  # what keys.channel() puts before a name
        self._pubsub: Any = None
        self._early: list[dict] = []
        self._lost_at: float | None = None
        self._delay = FIRST_DELAY
        self._subscribed_once = False  # a failure before the first subscription is no gap: nothing was missed

    def _check_client(self, r: Any) -> None:
        check_kind(r, asyncio=False, twin="patterns.aio.Subscriber")

    def _subscriptions(self) -> list[tuple[str, list[str]]]:
        """The PubSub methods to call and their names: SSUBSCRIBE, or SUBSCRIBE and PSUBSCRIBE."""
        if self.sharded:
            return [("ssubscribe", self.channels)]
        return [(method, names) for method, names in (("subscribe", self.channels), ("psubscribe", self.patterns))
                if names]

    def _after_subscribing(self, pubsub: Any, retry: Any, *, cluster: bool) -> None:
        if not cluster:
            # We reconnect ourselves, so that we can report the gap: no silent retries below us.
            pubsub.connection.retry = retry

    def _unconfirmed(self, expected: int) -> redis.ConnectionError:
        """What a subscription still unconfirmed after CONFIRM_WITHIN seconds raises: an outage, tried again."""
        return redis.ConnectionError(f"Redis confirmed {len(self.channels) + len(self.patterns) - expected} of "
                                     f"{len(self.channels) + len(self.patterns)} subscriptions within "
                                     f"{CONFIRM_WITHIN:g} s")

    def _confirmed(self, message: dict | None) -> int:
        """1 when ``message`` confirms a subscription; a message that arrives before the last
        confirmation is kept (``_early``) and delivered first."""
        if message is None:
            return 0
        if message["type"] in CONFIRMATIONS:
            return 1
        self._early.append(message)
        return 0

    def _data(self, message: dict | None) -> dict | None:
        return message if message and message["type"] in DATA_MESSAGES else None

    def _connection_lost(self, error: Exception) -> float:
        """Note a dropped connection (logged once per outage); the seconds to wait before trying again."""
        if self._lost_at is None:
            self._lost_at = time.monotonic()
            log.warning("subscriber lost its connection (%s); reconnecting", error)
        delay, self._delay = self._delay, min(self._delay * 2, MAX_DELAY)
        return delay

    def _reconnected(self) -> None:
        if not self._subscribed_once:
            self._subscribed_once, self._lost_at, self._delay = True, None, FIRST_DELAY
            return
        if self._lost_at is None:
            return
        seconds, self._lost_at, self._delay = time.monotonic() - self._lost_at, None, FIRST_DELAY
        self.stats.reconnects += 1
        self.stats.gaps.append(seconds)
        log.warning("subscriber reconnected after %.2f s: messages published meanwhile are lost", seconds)
        if self.on_gap:
            self._call_back("on_gap", self.on_gap, seconds)

    def _refusal_message(self, error: Exception) -> str:
        asked = ", ".join([*self.channels, *self.patterns])
        message = f"Redis refused to subscribe this user to {asked} ({error})."
        if self.patterns:
            message += (" An ACL allows a pattern subscription (PSUBSCRIBE) only to a pattern it lists, compared as "
                        "text, not as a glob: a workshop attendee may PSUBSCRIBE only to '<namespace>:*'. Subscribe "
                        "to exact channels instead.")
        return message

    def _event(self, message: dict) -> tuple[str, Any] | None:
        """(channel without the namespace, decoded event), or None for a malformed one (counted, reported)."""
        channel = message["channel"]
        channel = channel[len(self._prefix):] if channel.startswith(self._prefix) else channel
        raw = message["data"]
        event = _decode(raw)
        if isinstance(event, _Malformed):
            self.stats.malformed += 1
            self._call_back("on_malformed", self.on_malformed, channel, raw, event.error)
            return None
        self.stats.received += 1
        return channel, event

    def _handler_failed(self, channel: str) -> None:
        """A handler's bug must not end the subscription: counted and logged."""
        self.stats.handler_errors += 1
        log.exception("subscriber handler failed on %s", channel)

    def _call_back(self, name: str, callback: Callable[..., None], *args: Any) -> None:
        """Call a user callback as the handler is called: a bug in it must not end the subscription."""
        try:
            callback(*args)
        except Exception:
            self.stats.callback_errors += 1
            log.exception("subscriber %s callback failed", name)


FIRST_DELAY, MAX_DELAY = 0.05, 2.0  # seconds between reconnect attempts: doubling from the first to the most
POLL = 0.2  # seconds one read waits for a message before looking whether to stop
CONFIRM_WITHIN = 5.0  # seconds for Redis to confirm every subscription, or the connection is tried again


class Subscriber(SubscriberBase):
    """The seed's subscriber: a background thread calling ``handler(channel, event)`` (see SubscriberBase)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._refused: Exception | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, timeout: float = 5.0) -> "Subscriber":
        """Subscribe and start the thread; returns once the subscription is in place."""
        validate.seconds(timeout, "timeout")
        if self._thread and self._thread.is_alive():
            return self
        self._stop.clear()
        self._ready.clear()
        self._refused = None
        self._thread = threading.Thread(target=self._run, name="patterns-subscriber", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise TimeoutError(f"could not subscribe within {timeout} s")
        if self._refused is not None:
            self.stop()
            raise PatternError(self._refusal_message(self._refused)) from self._refused
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Unsubscribe, close the connection and end the thread."""
        validate.seconds(timeout, "timeout")
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
        self._close()

    def __enter__(self) -> "Subscriber":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    # -- the thread -----------------------------------------------------------------------------
    def _subscribe(self) -> None:
        pubsub = self.r.pubsub()
        self._pubsub = pubsub
        for method, names in self._subscriptions():
            getattr(pubsub, method)(*names)
        self._after_subscribing(pubsub, redis.retry.Retry(redis.backoff.NoBackoff(), 0), cluster=is_cluster(self.r))
        self._await_confirmations(len(self.channels) + len(self.patterns))

    def _await_confirmations(self, expected: int) -> None:
        """Read the server's answer to every subscription before calling it ready.

        A refusal (an ACL without this channel: NOPERM) then surfaces in ``start()``
        instead of killing the thread later; a server too slow to confirm is an outage.
        """
        deadline = time.monotonic() + CONFIRM_WITHIN
        while expected and time.monotonic() < deadline:
            expected -= self._confirmed(self._read(timeout=POLL))
        if expected:
            raise self._unconfirmed(expected)

    def _read(self, timeout: float) -> dict | None:
        if self.sharded:
            return self._pubsub.get_sharded_message(timeout=timeout)
        return self._pubsub.get_message(timeout=timeout)

    def _next(self) -> dict | None:
        if self._early:
            return self._early.pop(0)
        return self._data(self._read(timeout=POLL))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._pubsub is None:
                    try:
                        self._subscribe()
                    except redis.exceptions.NoPermissionError as error:  # retrying will not help
                        self._refused = error
                        self._close()
                        if self._ready.is_set():  # refused on a reconnect: start() has returned long ago
                            log.error("subscriber stopped: %s", self._refusal_message(error))
                        self._ready.set()
                        return
                    self._ready.set()
                    self._reconnected()
                message = self._next()
            except UNAVAILABLE_ERRORS as error:
                delay = self._connection_lost(error)
                self._close()
                self._stop.wait(delay)
                continue
            if message:
                self._deliver(message)

    def _deliver(self, message: dict) -> None:
        event = self._event(message)
        if event is None:
            return
        try:
            self.handler(*event)
        except Exception:
            self._handler_failed(event[0])

    def _close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:  # closing a dead connection may fail; it is closed either way
                pass


@dataclass(frozen=True)
class StreamMessage:
    id: str
    event: Any  # the decoded JSON, or None when it was not JSON
    deliveries: int = 1  # how often the group has handed it out (2+: a redelivery), as XPENDING counts


STARTS = ("$", "0")
STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")  # an entry id: milliseconds-sequence
MAX_ENTRIES = 10**12  # maxlen: past it a bound bounds nothing
MAX_COUNT = 100_000  # entries one call asks for: a page, not a dump (Redis refuses far larger ones)
TRIM_BATCH = 10_000  # entries stream_append.lua trims per call at most


def _decode(raw: Any) -> Any:
    """An event's JSON, or the exception that says why it is not JSON (any input, any depth)."""
    try:
        return json.loads(raw)
    except (TypeError, ValueError, RecursionError) as error:  # "[" * 100000 is a RecursionError
        return _Malformed(error)


@dataclass(frozen=True)
class _Malformed:
    error: Exception


class EventStreamBase:
    """A durable event log on a Redis Stream, read through a consumer group (whichever client).

    maxlen      keep at most about this many entries: a bound on memory, not a promise of
                delivery. When the consumers fall behind by more than this, the oldest
                entries are trimmed, read or not (the stream may run 1% over before a trim).
                An entry trimmed before this group was given it is never delivered;
                ``backlog()`` counts those. One trimmed while pending (given, not acknowledged)
                is acknowledged at the next ``pending_for()``/``claim()``, logged and counted
                in ``lost``, never handed to a handler empty. Size it for the longest outage
                you must survive: events per second x seconds away.
    retention   seconds the stream lives after the last append (a TTL, refreshed by appends
                only: a stream nobody appends to expires, with whatever is still waiting or
                pending). Every call of this object finds its group: if the stream expired,
                taking its groups along, the next append or read makes the stream and this
                group again, from id 0, so nothing appended afterwards is skipped. (The same
                holds for a group someone destroyed: it comes back and starts over.)
    start       where a new group starts: "$" (new events only) or "0" (from the beginning)

    Delivery is at least once: a handler sees an entry again after a crash, a claim, or an
    append whose reply was lost (an append is never resent, but the caller may retry it). A
    pending_for() or claim() whose reply is lost has acknowledged the trimmed entries it found
    without counting them in ``lost``: the count is a floor.
    """

    def __init__(self, r: Any, name: str, group: str = "workers", *, maxlen: int = 10_000,
                 retention: float = 7 * 86400, start: str = "$") -> None:
        self._check_client(r)
        self.maxlen = validate.whole(maxlen, "maxlen", maximum=MAX_ENTRIES)
        self.retention = validate.seconds(retention, "retention")
        self.group = validate.text(group, "group")
        validate.choice(start, "start", STARTS)
        self.r, self.name = r, validate.text(name, "name")
        self.key = keys.key(r, "stream", name)
        self.trimmed_key = keys.key(r, "stream", name, "trimmed")  # per group: trimmed before it read them
        self.groups_key = keys.key(r, "stream", name, "groups")  # every group: all come back with the stream
        self.lost = 0  # entries trimmed while pending: acknowledged, never delivered again
        self._start: str | None = start  # the group is made with it before the first other step (then None)

    OPERATIONS = ("append", "read", "pending_for", "ack", "pending", "claim", "backlog", "length", "trim", "since")

    def _check_client(self, r: Any) -> None:
        check_kind(r, asyncio=False, twin="patterns.aio.EventStream")

    def _retention_ms(self) -> int:
        return int(self.retention * 1000)

    def _first(self) -> Steps[None]:
        """Make this object's group, once, before its first operation (the synchronous one does it at once)."""
        if self._start is not None:
            yield from self._ensure_group(self._start)
            self._start = None

    def _ensure_group(self, start: str) -> Steps[None]:
        yield (_GROUP, [self.key, self.groups_key], [self.group, start, self._retention_ms()])

    def _with_group(self, plan: Callable[[], Steps[T]]) -> Steps[T]:
        """``plan()``'s steps, and once more after making the group again if the stream (or group) had gone."""
        yield from self._first()
        try:
            return (yield from plan())
        except redis.ResponseError as error:
            if not _group_missing(error):
                raise
        yield from self._ensure_group("0")
        return (yield from plan())

    def _append(self, event: Any) -> Steps[str]:
        """Add ``event`` (as JSON); returns its id. One step: the group kept, XADD, the trim, the TTL."""
        text = encode(event, key=f"stream {self.name}")
        yield from self._first()
        return (yield (_APPEND, [self.key, self.trimmed_key, self.groups_key],
                       [self.group, self.maxlen, self._retention_ms(), text, self.maxlen // 100]))

    def _read(self, consumer: str, count: int = 10, block: float | None = None) -> Steps[list[StreamMessage]]:
        """New messages for ``consumer`` (each given to one consumer of the group).

        ``block``: wait up to that many seconds for one to arrive (None: do not wait). A
        wait longer than the client's socket timeout is made of shorter blocks, so it
        returns normally: empty after ``block`` seconds, or as soon as something arrives,
        also when the stream expires while it waits.
        """
        _check_consumer(consumer)
        _check_count(count)
        if block is None:
            return (yield from self._with_group(lambda: self._read_new(consumer, count, None)))
        deadline = time.monotonic() + validate.seconds(block, "block", maximum=MAX_BLOCK)
        longest = longest_block(self.r)
        yield from self._first()
        while True:
            remaining = deadline - time.monotonic()
            wait = remaining if longest is None else min(remaining, longest)
            try:
                found = yield from self._read_new(consumer, count, max(1, int(wait * 1000)))
            except redis.ResponseError as error:  # NOGROUP, or UNBLOCKED: the stream expired meanwhile
                if not _group_missing(error):
                    raise
                yield from self._ensure_group("0")
                found = []
            if found or deadline - time.monotonic() <= 0:
                return found

    def _read_new(self, consumer: str, count: int, block_ms: int | None) -> Steps[list[StreamMessage]]:
        waits = () if block_ms is None else ("BLOCK", block_ms)
        found = yield Command(("XREADGROUP", "GROUP", self.group, consumer, "COUNT", count, *waits,
                               "STREAMS", self.key, ">"))
        if isinstance(found, dict):  # RESP3: {stream: [[entries]]}
            entries = next(iter(found.values()), [[]])[0]
        else:
            entries = found[0][1] if found else []
        return [self._message(entry_id, fields) for entry_id, fields in entries]

    def _pending_for(self, consumer: str, count: int = 100) -> Steps[list[StreamMessage]]:
        """Messages already given to ``consumer`` but not acknowledged: read these first after a restart.

        Reading them again counts as a delivery; the counts returned are XPENDING's, read
        in the same step (one script). An empty list means nothing is pending.
        """
        _check_consumer(consumer)
        _check_count(count)
        after, found, gone = "", [], []
        while True:  # each call looks at a bounded part of the pending list, and says where it stopped
            entries, counts, trimmed, more, after = yield from self._with_group(
                lambda: _one((_PENDING, [self.key], [self.group, consumer, count - len(found), after])))
            gone += trimmed
            found += [self._message(entry_id, fields, n) for (entry_id, fields), n in zip(entries, counts)]
            if not more or len(found) >= count:
                break
        if gone:
            self._count_lost(list(gone))
        return found

    def _message(self, entry_id: str, fields: dict | list, deliveries: int = 1) -> StreamMessage:
        if isinstance(fields, list):  # a script's reply: [field, value, ...]
            fields = dict(zip(fields[::2], fields[1::2]))
        event = _decode(fields.get("event", ""))
        return StreamMessage(entry_id, None if isinstance(event, _Malformed) else event, int(deliveries))

    def _count_lost(self, ids: list[str]) -> None:
        self.lost += len(ids)
        log.warning("stream %s: %d pending entries were trimmed (maxlen) before they were acknowledged: %s",
                    self.name, len(ids), ", ".join(ids[:5]) + (" ..." if len(ids) > 5 else ""))

    def _ack(self, *ids: str) -> Steps[int]:
        """Acknowledge processed messages; returns how many were pending."""
        if not ids:
            return 0
        yield from self._first()
        return (yield Command(("XACK", self.key, self.group, *ids)))

    def _pending(self, count: int = 100) -> Steps[list[dict]]:
        """Unacknowledged messages: id, consumer, idle ms and how often each was delivered."""
        _check_count(count)
        found = yield from self._with_group(
            lambda: _one(Command(("XPENDING", self.key, self.group, "-", "+", count), parse_detail=True)))
        return [
            {"id": p["message_id"], "consumer": p["consumer"], "idle_ms": p["time_since_delivered"],
             "deliveries": p["times_delivered"]}
            for p in found
        ]

    def _claim(self, consumer: str, min_idle: float, count: int = 100) -> Steps[list[StreamMessage]]:
        """Take over messages another consumer left unacknowledged for ``min_idle`` seconds (XAUTOCLAIM)."""
        _check_consumer(consumer)
        idle_ms = int(validate.seconds(min_idle, "min_idle", zero=True) * 1000)
        _check_count(count)
        cursor, found, gone = "", [], []
        while True:  # each call takes a bounded number of XAUTOCLAIM steps, and says where it stopped
            entries, counts, deleted, cursor = yield from self._with_group(
                lambda: _one((_CLAIM, [self.key], [self.group, consumer, idle_ms, count - len(found), cursor])))
            gone += deleted  # XAUTOCLAIM already dropped them from the pending list
            found += [self._message(entry_id, fields, n) for (entry_id, fields), n in zip(entries, counts) if fields]
            if cursor == "0-0" or len(found) >= count:
                break
        if gone:
            self._count_lost(list(gone))
        return found

    def _backlog(self) -> Steps[dict[str, int | None]]:
        """How far this group is behind: entries still ``waiting`` to be given to it, and entries
        ``trimmed_unread`` (trimmed by maxlen before it was given them: lost), since the stream
        was made. None for both when the stream exists without this group. One round trip."""
        yield from self._first()
        found = yield (_BACKLOG, [self.key, self.trimmed_key], [self.group])
        waiting, trimmed = (int(found[0]), int(found[1])) if found else (None, None)
        return {"waiting": waiting, "trimmed_unread": trimmed}

    def _since(self, after: str, count: int = 100) -> Steps[list[StreamMessage]]:
        """Up to ``count`` entries after id ``after``, oldest first, whoever has read them (XRANGE).

        Outside the consumer group: for a reader that keeps its own place, as a browser keeps
        the last event id it saw, and resumes from it after a reconnect.
        """
        if not isinstance(after, str) or not STREAM_ID.fullmatch(after):
            raise ValueError(f"after must be a stream entry id like '1700000000000-0', got {after!r}")
        count = _check_count(count)
        entries = yield Command(("XRANGE", self.key, f"({after}", "+", "COUNT", count))
        return [self._message(entry_id, fields) for entry_id, fields in entries]

    def _length(self) -> Steps[int]:
        """How many entries the stream holds now."""
        yield from self._first()
        return (yield Command(("XLEN", self.key)))

    def _trim(self, maxlen: int) -> Steps[int]:
        """Keep the last ``maxlen`` entries now (counting what goes, as appends do); returns how many went."""
        keep = validate.whole(maxlen, "maxlen", minimum=0, maximum=MAX_ENTRIES)
        yield from self._first()
        removed = 0
        while True:  # in batches (the script trims at most 10,000 a call): the server never stalls
            batch = int((yield (_APPEND, [self.key, self.trimmed_key, self.groups_key],
                                [self.group, keep, self._retention_ms(), "", 0])))
            removed += batch
            if batch < TRIM_BATCH:
                return removed


def _one(step: Any) -> Steps[Any]:
    """One step as a plan of its own (what _with_group tries, and tries again)."""
    return (yield step)


@operations(synchronous)
class EventStream(EventStreamBase):
    """A durable event log on a Redis Stream (see EventStreamBase): its consumer group made at once."""

    def __init__(self, r: Any, name: str, group: str = "workers", *, maxlen: int = 10_000,
                 retention: float = 7 * 86400, start: str = "$") -> None:
        super().__init__(r, name, group, maxlen=maxlen, retention=retention, start=start)
        run(r, self._first())


def _check_consumer(consumer: Any) -> str:
    return validate.text(consumer, "consumer")


def _check_count(count: Any) -> int:
    return validate.whole(count, "count", maximum=MAX_COUNT)


def _group_missing(error: redis.ResponseError) -> bool:
    # Redis says NOGROUP, or UNBLOCKED to a read that was waiting when the stream expired;
    # fakeredis, for a stream that does not exist, answers as XGROUP would.
    text = str(error)
    return "NOGROUP" in text or "UNBLOCKED" in text or "requires the key to exist" in text
