"""Rate limiting: five algorithms and the seed's checkRateLimit, exact under concurrency."""
from __future__ import annotations

import logging
import threading
import time
import uuid

import fakeredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patterns import keys
from patterns.ratelimit import ALGORITHMS, GCRA, Decision, FixedWindow, SlidingLog, SlidingWindowCounter, TokenBucket
from patterns.ratelimit import check_rate_limit
from patterns.trace import trace
from ratelimit_model import MODELS

ALGORITHM_NAMES = sorted(ALGORITHMS)


class Clock:
    """Real time plus an offset the test advances: virtual time never runs slower than real
    time, so a key never expires (in real time) before its algorithm says it may."""

    def __init__(self) -> None:
        self.offset, self.last = 0.0, 0.0

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def __call__(self) -> float:
        self.last = time.time() + self.offset
        return self.last


class FrozenClock:
    def __init__(self, at: float = 1_000_000.0) -> None:
        self.now = at

    def __call__(self) -> float:
        return self.now


def hammer(limiter, identifier: str, threads: int, hits_each: int) -> int:
    """``threads`` threads hit at once; returns how many requests were allowed."""
    barrier, allowed, lock = threading.Barrier(threads), [0], threading.Lock()

    def worker():
        barrier.wait()
        for _ in range(hits_each):
            if limiter.hit(identifier).allowed:
                with lock:
                    allowed[0] += 1

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    return allowed[0]


# -- every algorithm: exact, one round trip, a TTL, clear errors ------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHM_NAMES)
def test_exactly_limit_requests_pass_under_thread_concurrency(r, algorithm):
    limiter = ALGORITHMS[algorithm](r, 100, 3600)
    assert hammer(limiter, "client", threads=20, hits_each=10) == 100


@pytest.mark.parametrize("algorithm", ALGORITHM_NAMES)
def test_each_decision_is_one_round_trip(r, algorithm):
    limiter = ALGORITHMS[algorithm](r, 5, 60)
    limiter.hit("client")  # loads the script
    with trace(r) as t:
        limiter.hit("client")
    assert (t.names, t.round_trips) == (["EVALSHA"], 1)


@pytest.mark.parametrize("algorithm", ALGORITHM_NAMES)
def test_every_key_gets_a_ttl_no_longer_than_it_matters(r, algorithm):
    limiter = ALGORITHMS[algorithm](r, 5, 60)
    limiter.hit("client", cost=2)
    ttl_ms = r.pttl(limiter.key_for("client"))
    longest = 120_000 if algorithm == "sliding_window_counter" else 60_000  # counts matter for 2 windows
    assert 0 < ttl_ms <= longest


@pytest.mark.parametrize("algorithm", ALGORITHM_NAMES)
def test_keys_are_namespaced_and_hash_tagged(r, algorithm):
    keys.set_namespace(r, "alice")
    limiter = ALGORITHMS[algorithm](r, 5, 60, name="api")
    limiter.hit("user:7")
    assert limiter.key_for("user:7") == f"alice:ratelimit:{algorithm}:api:{{user:7}}"
    assert r.exists(limiter.key_for("user:7")) == 1


@pytest.mark.parametrize("algorithm", ALGORITHM_NAMES)
def test_callers_do_not_share_a_limit(r, algorithm):
    clock = FrozenClock()
    limiter = ALGORITHMS[algorithm](r, 2, 60, clock=clock)
    assert [limiter.hit("a").allowed for _ in range(3)] == [True, True, False]
    assert limiter.hit("b").allowed


@pytest.mark.parametrize("algorithm", ALGORITHM_NAMES)
@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"limit": 0, "window": 60}, ValueError, "limit must be a whole number of at least 1"),
        ({"limit": 2.5, "window": 60}, TypeError, "limit must be a whole number"),
        ({"limit": 5, "window": 0}, ValueError, "window must be a positive"),
        ({"limit": 5, "window": float("inf")}, ValueError, "window must be a finite number of seconds"),
        ({"limit": 5, "window": "60"}, TypeError, "window must be a positive number of seconds"),
        ({"limit": 5, "window": 60, "on_unavailable": "maybe"}, ValueError, "on_unavailable must be"),
        ({"limit": 5, "window": 60, "name": "a b"}, ValueError, "namespace"),
    ],
)
def test_bad_arguments_are_refused_with_the_fix(algorithm, arguments, error, message):
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    with pytest.raises(error, match=message):
        ALGORITHMS[algorithm](client, **arguments)


@pytest.mark.parametrize("algorithm", ALGORITHM_NAMES)
def test_bad_hits_are_refused_before_reaching_redis(r, algorithm):
    limiter = ALGORITHMS[algorithm](r, 5, 60)
    with pytest.raises(ValueError, match="cost 6 is more than the limit 5"):
        limiter.hit("client", cost=6)
    with pytest.raises(ValueError, match="cost must be a whole number of at least 1"):
        limiter.hit("client", cost=0)
    with pytest.raises(ValueError, match="identifier must not be empty"):
        limiter.hit("")
    assert r.exists(limiter.key_for("client")) == 0


# -- Decision fields, with an injected clock ---------------------------------------------------------


def decisions(limiter, clock, schedule):
    """Run (seconds to advance, cost) steps; return the decisions."""
    out = []
    for advance, cost in schedule:
        clock.now += advance
        out.append(limiter.hit("client", cost))
    return out


def test_sliding_log_decisions(r):
    clock = FrozenClock()
    limiter = SlidingLog(r, 3, 10, clock=clock)
    d = decisions(limiter, clock, [(0, 1), (2, 2), (1, 1), (7, 1), (0, 1)])
    assert d[0] == Decision(True, 2, 0.0, 10.0)
    assert d[1] == Decision(True, 0, 0.0, 10.0)
    assert d[2] == Decision(False, 0, 7.0, 9.0)  # the entry of t=0 leaves at t=10
    assert d[3] == Decision(True, 0, 0.0, 10.0)  # t=10: it left, this one fits
    assert d[4] == Decision(False, 0, 2.0, 10.0)  # next to leave: t=2's two entries


def test_fixed_window_decisions_and_the_boundary(r):
    clock = FrozenClock(at=1_000_009.5)  # 0.5 s before a 10 s window boundary
    limiter = FixedWindow(r, 3, 10, clock=clock)
    d = decisions(limiter, clock, [(0, 3), (0, 1), (0.5, 3)])
    assert d[0] == Decision(True, 0, 0.0, 0.5)
    assert d[1] == Decision(False, 0, 0.5, 0.5)
    assert d[2] == Decision(True, 0, 0.0, 10.0)  # 6 requests within half a second: the known flaw


def test_sliding_window_counter_weighs_the_previous_window(r):
    clock = FrozenClock(at=1_000_000.0)  # a window boundary
    limiter = SlidingWindowCounter(r, 10, 10, clock=clock)
    decisions(limiter, clock, [(0, 10)])
    d = decisions(limiter, clock, [(12.5, 1), (0, 3)])  # 25% into the next window: 10 * 0.75 = 7.5 counted
    assert d[0] == Decision(True, 1, 0.0, 17.5)  # floor(10 - 7.5 - 1)
    assert d[1].allowed is False and d[1].remaining == 1
    # It fits once 10 * (1 - t/10) + 1 + 3 <= 10, i.e. t = 4 s into the window: 1.5 s after t = 2.5 s.
    assert d[1].retry_after == pytest.approx(1.5)


def test_token_bucket_refills_continuously(r):
    clock = FrozenClock()
    limiter = TokenBucket(r, 10, 10, clock=clock)  # 10 tokens, 1 per second
    d = decisions(limiter, clock, [(0, 10), (0, 1), (2.5, 2), (0, 1)])
    assert d[0] == Decision(True, 0, 0.0, 10.0)
    assert d[1] == Decision(False, 0, 1.0, 10.0)
    assert d[2] == Decision(True, 0, 0.0, 9.5)  # 2.5 tokens back, 2 taken
    assert d[3] == Decision(False, 0, 0.5, 9.5)


def test_gcra_matches_the_token_bucket_with_one_number(r):
    clock = FrozenClock()
    limiter = GCRA(r, 10, 10, clock=clock)
    d = decisions(limiter, clock, [(0, 10), (0, 1), (2.5, 2), (0, 1)])
    assert [x.allowed for x in d] == [True, False, True, False]
    assert d[1].retry_after == 1.0 and d[3].retry_after == 0.5
    assert r.type(limiter.key_for("client")) == "string"


# -- properties: the scripts agree with plain-Python models -------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHM_NAMES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_script_agrees_with_a_plain_python_model(r, algorithm, data):
    limit = data.draw(st.integers(1, 8), label="limit")
    window = data.draw(st.sampled_from([1.0, 2.5, 10.0, 60.0]), label="window")
    steps = data.draw(st.lists(st.tuples(st.floats(0, 3 * window, allow_nan=False), st.integers(1, limit)),
                               min_size=1, max_size=25), label="steps")
    clock, model = Clock(), MODELS[algorithm](limit, window * 1000)
    limiter = ALGORITHMS[algorithm](r, limit, window, clock=clock)
    identifier = uuid.uuid4().hex  # a fresh caller per example
    for advance, cost in steps:
        clock.advance(advance)
        got = limiter.hit(identifier, cost)
        expected = model.hit(clock.last * 1000, cost)
        assert (got.allowed, got.remaining, round(got.retry_after * 1000), round(got.reset_after * 1000)) == expected


# -- the seed's checkRateLimit ------------------------------------------------------------------------


def test_check_rate_limit_allows_exactly_limit_under_concurrency(r):
    allowed = []
    barrier = threading.Barrier(20)

    def worker():
        barrier.wait()
        for _ in range(5):
            allowed.append(check_rate_limit(r, "user-1", 30, 3600))

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert allowed.count(True) == 30 and len(allowed) == 100


def test_requests_in_the_same_millisecond_are_all_counted(r):
    limiter = SlidingLog(r, 5, 10, clock=FrozenClock())  # every request at the very same instant
    assert [limiter.hit("burst").allowed for _ in range(20)].count(True) == 5
    assert r.zcard(limiter.key_for("burst")) == 5


def test_denied_requests_are_not_counted_so_a_fast_client_still_gets_the_limit(r):
    clock = FrozenClock()
    limiter = SlidingLog(r, 10, 1, clock=clock)  # 10 per second
    allowed = 0
    for _ in range(200):  # 20 per second for 10 seconds: twice the limit
        allowed += limiter.hit("eager").allowed
        clock.now += 0.05
    assert allowed == 100


def test_check_rate_limit_keys_expire(r):
    check_rate_limit(r, "user-1", 5, 30)
    assert 0 < r.pttl(SlidingLog(r, 5, 30).key_for("user-1")) <= 30_000


# -- Redis unavailable: fail open or closed, as the caller chose --------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHM_NAMES)
def test_fail_open_allows_and_says_degraded(algorithm, caplog):
    server = fakeredis.FakeServer()
    server.connected = False
    limiter = ALGORITHMS[algorithm](fakeredis.FakeRedis(server=server), 5, 60, on_unavailable="open")
    with caplog.at_level(logging.WARNING, logger="patterns.ratelimit"):
        decision = limiter.hit("client")
    assert decision == Decision(True, 0, 0.0, 0.0, degraded=True)
    assert "failing open" in caplog.text


@pytest.mark.parametrize("algorithm", ALGORITHM_NAMES)
def test_fail_closed_denies_and_says_when_to_retry(algorithm):
    server = fakeredis.FakeServer()
    server.connected = False
    limiter = ALGORITHMS[algorithm](fakeredis.FakeRedis(server=server), 5, 60, on_unavailable="closed",
                                    breaker_seconds=3)
    assert limiter.hit("client") == Decision(False, 0, 3.0, 3.0, degraded=True)


def test_the_breaker_spares_later_requests_the_timeout_and_closes_again():
    server = fakeredis.FakeServer()
    limiter = FixedWindow(fakeredis.FakeRedis(server=server), 5, 60, breaker_seconds=0.2)
    server.connected = False
    assert limiter.hit("client").degraded
    server.connected = True
    assert limiter.hit("client").degraded  # still open: Redis not tried
    time.sleep(0.25)
    decision = limiter.hit("client")
    assert decision.allowed and not decision.degraded and decision.remaining == 4


# -- hardening: a heavy request costs one entry, not one per unit -----------------------------------------


def test_a_request_weighing_nearly_the_whole_limit_is_one_entry(r):
    limiter = SlidingLog(r, 1_000_000, 2)
    decision = limiter.hit("x", cost=999_999)
    assert decision.allowed and decision.remaining == 1
    assert r.zcard(limiter.key_for("x")) == 1  # its weight rides on the entry
    assert not limiter.hit("x", cost=2).allowed
    assert limiter.hit("x", cost=1) == Decision(True, 0, 0.0, 2.0)


def test_weighted_entries_leave_the_window_with_their_whole_weight(r):
    clock = FrozenClock()
    limiter = SlidingLog(r, 10, 10, clock=clock)
    d = decisions(limiter, clock, [(0, 6), (1, 3), (1, 5), (8, 5), (0, 3)])
    assert [x.allowed for x in d] == [True, True, False, True, False]
    assert d[2] == Decision(False, 1, 8.0, 9.0)  # 4 must leave: t=0's six do, at t=10
    assert d[3].remaining == 2  # t=10: the six left, three (t=1) and five (now) remain
    assert d[4] == Decision(False, 2, 1.0, 10.0)  # t=1's three leave at t=11


def test_a_clock_that_steps_back_never_lets_more_than_the_limit_through(r):
    ahead, behind = FrozenClock(1000.0), FrozenClock(999.95)  # two servers' clocks, 50 ms apart
    on_time, late = SlidingLog(r, 2, 10, clock=ahead), SlidingLog(r, 2, 10, clock=behind)
    allowed = [on_time.hit("x").allowed, late.hit("x").allowed, on_time.hit("x").allowed, late.hit("x").allowed]
    assert allowed.count(True) == 2
    assert len(set(r.zrange(on_time.key_for("x"), 0, -1))) == r.zcard(on_time.key_for("x")) == 2


def test_a_log_written_by_the_older_one_member_per_unit_format_is_folded_not_broken(r):
    limiter = SlidingLog(r, 10, 60)
    key = limiter.key_for("x")
    seconds, micros = r.time()
    now_ms = seconds * 1000 + micros / 1000
    r.zadd(key, {f"{'1234567890abcdef'}:{i}": now_ms for i in range(1, 4)})  # three units, the old way
    r.zadd(key, {"9876543210123456:1": now_ms})  # an old token that happens to be all digits
    decision = limiter.hit("x", cost=6)
    assert decision.allowed and decision.remaining == 0  # 4 old units + 6 = the limit of 10
    assert not limiter.hit("x").allowed


def test_the_running_total_is_renumbered_before_it_loses_precision(r):
    clock = FrozenClock()
    limiter = SlidingLog(r, 10**12, 60, clock=clock)
    key = limiter.key_for("x")
    r.zadd(key, {f"{2**52 - 5:017d}:3": clock.now * 1000})  # a log that has counted 2^52 units
    assert limiter.hit("x", cost=10).allowed
    members = sorted(r.zrange(key, 0, -1))
    assert members == [f"{3:017d}:3", f"{13:017d}:10"]
    assert limiter.hit("x", cost=10**12 - 13).allowed and not limiter.hit("x").allowed
