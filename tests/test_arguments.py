"""Every public function and constructor refuses bad arguments clearly, before anything reaches Redis.

For each argument, a strategy from ``bad_values`` draws values of the wrong type, ``bool``
for a number, NaN, infinities, zero, negatives, durations finer than a millisecond, empty
names and numbers past a maximum. Each must raise ``TypeError`` or ``ValueError`` whose
message names the argument, and the call must send nothing to Redis.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import fakeredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bad_values as bad
from patterns import Cache, get_or_set, invalidate, keys
from patterns.audit import audit
from patterns.leaderboard import Leaderboard, get_top_users, update_score
from patterns.lock import Lock, Redlock, with_lock
from patterns.pubsub import EventStream, Subscriber, publish_event
from patterns.ratelimit import ALGORITHMS, check_rate_limit
from patterns.session import SessionStore, new_session_id, set_session
from patterns.trace import trace


@dataclass(frozen=True)
class Case:
    """``call(made, r, value)`` with ``value`` in argument ``name``; ``make(r)`` builds what it needs first."""

    label: str
    name: str
    values: st.SearchStrategy
    call: Callable[[Any, Any, Any], Any]
    make: Callable[[Any], Any] = lambda r: None


def noop(*args: Any) -> None:
    return None


def limiter_cases() -> list[Case]:
    found = []
    for algorithm, cls in ALGORITHMS.items():
        found += [
            Case(f"{algorithm}(limit)", "limit", bad.whole(), lambda m, r, v, c=cls: c(r, v, 60)),
            Case(f"{algorithm}(window)", "window", bad.seconds(), lambda m, r, v, c=cls: c(r, 5, v)),
            Case(f"{algorithm}(name)", "name", bad.name(), lambda m, r, v, c=cls: c(r, 5, 60, name=v)),
            Case(f"{algorithm}(breaker_seconds)", "breaker_seconds", bad.seconds(zero=True),
                 lambda m, r, v, c=cls: c(r, 5, 60, breaker_seconds=v)),
            Case(f"{algorithm}.hit(identifier)", "identifier", bad.name(), lambda m, r, v: m.hit(v),
                 lambda r, c=cls: c(r, 5, 60)),
            Case(f"{algorithm}.hit(cost)", "cost", bad.whole(maximum=5), lambda m, r, v: m.hit("x", cost=v),
                 lambda r, c=cls: c(r, 5, 60)),
        ]
    return found


def store(r: Any) -> tuple[SessionStore, str]:
    sessions = SessionStore(r)
    return sessions, sessions.create("ada")


def stream(r: Any) -> EventStream:
    return EventStream(r, "orders")


CASES: list[Case] = [
    # cache
    Case("get_or_set(key)", "key", bad.name(), lambda m, r, v: get_or_set(r, v, lambda: 1)),
    Case("get_or_set(ttl_seconds)", "ttl_seconds", bad.seconds(), lambda m, r, v: get_or_set(r, "k", lambda: 1, v)),
    Case("get_or_set(fetcher)", "fetcher", st.sampled_from([None, 42, "fetch"]), lambda m, r, v: get_or_set(r, "k", v)),
    Case("invalidate(key)", "key", bad.name(), lambda m, r, v: invalidate(r, v)),
    *[Case(f"Cache({option})", option, strategy, lambda m, r, v, o=option: Cache(r, **{o: v}))
      for option, strategy in [("ttl", bad.seconds()), ("negative_ttl", bad.seconds(none=True)),
                               ("stale_ttl", bad.seconds(zero=True)), ("fill_timeout", bad.seconds()),
                               ("wait_timeout", bad.seconds(zero=True)), ("breaker_seconds", bad.seconds(zero=True)),
                               ("jitter", bad.fraction()), ("max_value_bytes", bad.whole(none=True)),
                               ("namespace", bad.name()), ("early_refresh_beta", st.sampled_from(
                                   [-1, -0.5, *bad.NOT_FINITE, *bad.BOOLS, "1", None]))]],
    Case("Cache.get_or_set(ttl)", "ttl", bad.seconds(none=True), lambda m, r, v: m.get_or_set("k", lambda: 1, v), Cache),
    Case("Cache.set(ttl)", "ttl", bad.seconds(none=True), lambda m, r, v: m.set("k", 1, v), Cache),
    Case("Cache.cached(ttl)", "ttl", bad.seconds(none=True), lambda m, r, v: m.cached(v), Cache),
    # rate limiting
    Case("check_rate_limit(user_id)", "user_id", bad.name(), lambda m, r, v: check_rate_limit(r, v, 5, 10)),
    Case("check_rate_limit(limit)", "limit", bad.whole(), lambda m, r, v: check_rate_limit(r, "u", v, 10)),
    Case("check_rate_limit(window_seconds)", "window", bad.seconds(), lambda m, r, v: check_rate_limit(r, "u", 5, v)),
    *limiter_cases(),
    # leaderboards
    Case("update_score(user_id)", "member", bad.name(), lambda m, r, v: update_score(r, v, 1)),
    Case("update_score(score)", "score", bad.number(), lambda m, r, v: update_score(r, "ada", v)),
    Case("update_score(board)", "name", bad.name(), lambda m, r, v: update_score(r, "ada", 1, board=v)),
    Case("get_top_users(count)", "count", bad.whole(), lambda m, r, v: get_top_users(r, v)),
    Case("Leaderboard(name)", "name", bad.name(), lambda m, r, v: Leaderboard(r, v)),
    Case("Leaderboard(ttl)", "ttl", bad.seconds(none=True), lambda m, r, v: Leaderboard(r, ttl=v)),
    Case("Leaderboard(clock)", "clock", st.sampled_from([42, "now"]), lambda m, r, v: Leaderboard(r, clock=v)),
    Case("Leaderboard.submit(member)", "member", bad.name(), lambda m, r, v: m.submit(v, 1), Leaderboard),
    Case("Leaderboard.submit(score)", "score", bad.number(), lambda m, r, v: m.submit("ada", v), Leaderboard),
    Case("Leaderboard.top(count)", "count", bad.whole(), lambda m, r, v: m.top(v), Leaderboard),
    Case("Leaderboard.page(number)", "page number", bad.whole(), lambda m, r, v: m.page(v), Leaderboard),
    Case("Leaderboard.page(size)", "page size", bad.whole(), lambda m, r, v: m.page(1, v), Leaderboard),
    Case("Leaderboard.rank(member)", "member", bad.name(), lambda m, r, v: m.rank(v), Leaderboard),
    Case("Leaderboard.around(radius)", "radius", bad.whole(minimum=0), lambda m, r, v: m.around("a", v), Leaderboard),
    Case("Leaderboard.remove(member)", "member", bad.name(), lambda m, r, v: m.remove(v), Leaderboard),
    Case("Leaderboard.last_days(days)", "days", bad.whole(), lambda m, r, v: m.last_days(v), Leaderboard),
    Case("Leaderboard.last_days(ttl)", "ttl", bad.seconds(), lambda m, r, v: m.last_days(2, ttl=v), Leaderboard),
    Case("Leaderboard.last_days(weights)", "weights", st.sampled_from([[1], [1, "2"], [1, float("nan")], "11"]),
         lambda m, r, v: m.last_days(2, weights=v), Leaderboard),
    # sessions
    Case("set_session(ttl)", "ttl", bad.seconds(), lambda m, r, v: set_session(r, new_session_id(), {}, ttl=v)),
    Case("SessionStore(idle_ttl)", "idle_ttl", bad.seconds(), lambda m, r, v: SessionStore(r, idle_ttl=v)),
    Case("SessionStore(absolute_ttl)", "absolute_ttl", bad.seconds(), lambda m, r, v: SessionStore(r, absolute_ttl=v)),
    Case("SessionStore(max_per_user)", "max_per_user", bad.whole(none=True),
         lambda m, r, v: SessionStore(r, max_per_user=v)),
    Case("SessionStore.create(user_id)", "user_id", bad.name(), lambda m, r, v: m[0].create(v), store),
    Case("SessionStore.rotate(user_id)", "user_id", bad.name().filter(lambda v: v is not None),
         lambda m, r, v: m[0].rotate(m[1], user_id=v), store),
    Case("SessionStore.destroy_all(user_id)", "user_id", bad.name(), lambda m, r, v: m[0].destroy_all(v), store),
    Case("SessionStore.sessions_of(user_id)", "user_id", bad.name(), lambda m, r, v: m[0].sessions_of(v), store),
    # pub/sub and streams
    Case("publish_event(channel)", "channel", bad.name(), lambda m, r, v: publish_event(r, v, 1)),
    Case("Subscriber(channels)", "channel", bad.name(), lambda m, r, v: Subscriber(r, [v], noop)),
    Case("Subscriber(handler)", "handler", st.sampled_from([None, 42, "print"]), lambda m, r, v: Subscriber(r, ["a"], v)),
    Case("Subscriber(on_gap)", "on_gap", st.sampled_from([42, "print"]),
         lambda m, r, v: Subscriber(r, ["a"], noop, on_gap=v)),
    Case("Subscriber.start(timeout)", "timeout", bad.seconds(), lambda m, r, v: Subscriber(r, ["a"], noop).start(v)),
    Case("EventStream(name)", "name", bad.name(), lambda m, r, v: EventStream(r, v)),
    Case("EventStream(group)", "group", bad.name(), lambda m, r, v: EventStream(r, "s", v)),
    Case("EventStream(maxlen)", "maxlen", bad.whole(), lambda m, r, v: EventStream(r, "s", maxlen=v)),
    Case("EventStream(retention)", "retention", bad.seconds(), lambda m, r, v: EventStream(r, "s", retention=v)),
    Case("EventStream(start)", "start", st.sampled_from(["", "1", "$$", None, 0]),
         lambda m, r, v: EventStream(r, "s", start=v)),
    Case("EventStream.read(consumer)", "consumer", bad.name(), lambda m, r, v: m.read(v), stream),
    Case("EventStream.read(count)", "count", bad.whole(), lambda m, r, v: m.read("c", count=v), stream),
    Case("EventStream.read(block)", "block", bad.seconds(none=True), lambda m, r, v: m.read("c", block=v), stream),
    Case("EventStream.pending_for(count)", "count", bad.whole(), lambda m, r, v: m.pending_for("c", v), stream),
    Case("EventStream.claim(min_idle)", "min_idle", bad.seconds(zero=True), lambda m, r, v: m.claim("c", v), stream),
    Case("EventStream.claim(count)", "count", bad.whole(), lambda m, r, v: m.claim("c", 1, v), stream),
    Case("EventStream.pending(count)", "count", bad.whole(), lambda m, r, v: m.pending(v), stream),
    Case("EventStream.trim(maxlen)", "maxlen", bad.whole(minimum=0), lambda m, r, v: m.trim(v), stream),
    # locks
    Case("with_lock(key)", "key", bad.name(), lambda m, r, v: with_lock(r, v, noop)),
    Case("with_lock(ttl_ms)", "ttl_ms", bad.milliseconds(), lambda m, r, v: with_lock(r, "job", noop, ttl_ms=v)),
    Case("Lock(name)", "name", bad.name(), lambda m, r, v: Lock(r, v)),
    Case("Lock(ttl)", "ttl", bad.seconds(), lambda m, r, v: Lock(r, "job", ttl=v)),
    Case("Lock(timeout)", "timeout", bad.seconds(zero=True), lambda m, r, v: Lock(r, "job", timeout=v)),
    Case("Lock(backoff)", "backoff", bad.seconds(), lambda m, r, v: Lock(r, "job", backoff=v)),
    Case("Lock(max_backoff)", "max_backoff", bad.seconds(), lambda m, r, v: Lock(r, "job", max_backoff=v)),
    Case("Lock.acquire(timeout)", "timeout", bad.seconds(zero=True, none=True), lambda m, r, v: m.acquire(v),
         lambda r: Lock(r, "job")),
    Case("Lock.extend(ttl)", "ttl", bad.seconds(none=True), lambda m, r, v: m.extend(v), lambda r: Lock(r, "job")),
    Case("Redlock(ttl)", "ttl", bad.seconds(), lambda m, r, v: Redlock([r, r, r], "job", ttl=v)),
    Case("Redlock(retries)", "retries", bad.whole(minimum=0), lambda m, r, v: Redlock([r, r, r], "job", retries=v)),
    Case("Redlock(retry_delay)", "retry_delay", bad.seconds(zero=True),
         lambda m, r, v: Redlock([r, r, r], "job", retry_delay=v)),
    Case("Redlock(node_timeout)", "node_timeout", bad.seconds(none=True),
         lambda m, r, v: Redlock([r, r, r], "job", node_timeout=v)),
    Case("Redlock(drift_factor)", "drift_factor", bad.fraction().filter(lambda v: not (isinstance(v, float) and v < 0.5)),
         lambda m, r, v: Redlock([r, r, r], "job", drift_factor=v)),
    # the audit and key names
    Case("audit(count)", "count", bad.whole(maximum=10_000), lambda m, r, v: audit(r, count=v)),
    Case("keys.key(name)", "key name", bad.name(), lambda m, r, v: keys.key(r, "kind", v)),
    Case("keys.plain(name)", "key name", bad.name(), lambda m, r, v: keys.plain(r, v)),
    Case("keys.channel(name)", "channel name", bad.name(), lambda m, r, v: keys.channel(r, v)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_bad_argument_is_refused_naming_it_before_anything_reaches_redis(case, data):
    r = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    made = case.make(r)
    value = data.draw(case.values, label=case.name)
    with trace(r) as sent:
        with pytest.raises((TypeError, ValueError)) as raised:
            case.call(made, r, value)
    assert case.name in str(raised.value), f"{case.label}: {value!r} gave {raised.value!r}"
    assert sent.commands == [], f"{case.label}: {value!r} reached Redis first"
