"""Rate limiting: five algorithms and the seed's checkRateLimit, exact under concurrency."""
from __future__ import annotations

import logging
import threading
import time
import uuid

import fakeredis
import redis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import patterns
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


def test_after_the_clock_steps_back_a_client_that_waits_as_told_is_admitted(r):
    # The script records no request earlier than the newest one, but counted the wait it tells the
    # caller from that newest time: 4 s too short after a 4 s step back, so the retry was refused.
    clock = FrozenClock()
    limiter = SlidingLog(r, 1, 10, clock=clock)
    assert limiter.hit("x").allowed
    clock.now -= 4  # this app server's clock steps back 4 s
    refused = limiter.hit("x")
    assert refused == Decision(False, 0, 14.0, 14.0)
    clock.now += refused.retry_after
    assert limiter.hit("x").allowed


def test_a_token_bucket_never_refills_the_same_seconds_twice_when_a_clock_steps_back(r):
    # An admission timed by a clock 2 s behind stored that earlier time as the bucket's last
    # refill: the next caller on time was refilled for those 2 s a second time (2 tokens unearned).
    ahead, behind = FrozenClock(1005.0), FrozenClock(1003.0)  # two app servers' clocks, 2 s apart
    on_time, late = TokenBucket(r, 10, 10, clock=ahead), TokenBucket(r, 10, 10, clock=behind)  # 1 token a second
    assert on_time.hit("x", cost=9).allowed  # 1 token left
    assert late.hit("x").allowed             # the last one, counted at 1003
    assert not on_time.hit("x").allowed      # still 1005 on time: nothing has refilled


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
    total = str(2**52 - 5)  # a log that has counted 2^52 units, 3 of them in its one entry
    r.zadd(key, {f"{chr(64 + len(total))}{total}:3:3:0": clock.now * 1_000_000})
    assert limiter.hit("x", cost=10).allowed
    members = sorted(r.zrange(key, 0, -1))
    assert members == ["A3:3:3:0", "B13:10:13:0"]
    assert limiter.hit("x", cost=10**12 - 13).allowed and not limiter.hit("x").allowed


def test_a_log_that_emptied_counts_its_running_total_from_zero_again(r):
    # The running total carried on from a log whose entries had all left: after 4,504 windows of a
    # full 10^12 limit it reached 2^52 and the renumbering ran on a log with nothing to renumber.
    clock = FrozenClock()
    limiter = SlidingLog(r, 10, 10, clock=clock)
    key = limiter.key_for("client")
    decisions(limiter, clock, [(0, 5), (10, 3)])  # the first entry is exactly one window old: gone
    assert r.zrange(key, 0, -1) == ["A3:3:3:0"]


def test_a_refused_request_at_the_renumbering_point_writes_nothing_and_keeps_the_ttl(r):
    # The renumbering DELeted and re-added the log before the decision: a refused request then left
    # a log with no TTL at all (pttl -1), kept forever.
    clock = FrozenClock()
    limiter = SlidingLog(r, 10**12, 60, clock=clock)
    key = limiter.key_for("x")
    total = str(2**52 - 1)  # the whole limit admitted at this instant, the total one short of 2^52
    r.zadd(key, {f"{chr(64 + len(total))}{total}:{10**12}:{10**12}:0": clock.now * 1_000_000})
    r.pexpire(key, 60_000)
    before = r.zrange(key, 0, -1, withscores=True)
    clock.now += 30
    assert not limiter.hit("x").allowed
    assert r.zrange(key, 0, -1, withscores=True) == before
    assert 0 < r.pttl(key) <= 60_000


# -- what the fast paths trade, proven kept ---------------------------------------------------------------


def test_a_decision_is_immutable_and_equals_only_a_decision():
    decision = Decision(True, 2, 0.0, 20.0)
    assert repr(decision) == "Decision(allowed=True, remaining=2, retry_after=0.0, reset_after=20.0, degraded=False)"
    with pytest.raises(AttributeError):
        decision.allowed = False
    assert decision == Decision(True, 2, 0.0, 20.0) and hash(decision) == hash(Decision(True, 2, 0.0, 20.0))
    assert decision != Decision(True, 2, 0.0, 20.0, degraded=True)
    assert decision != (True, 2, 0.0, 20.0, False)  # a tuple underneath, but not equal to a plain one
    assert not decision == (True, 2, 0.0, 20.0, False)


def test_a_reply_in_bytes_decides_the_same():
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())  # decode_responses=False: replies are bytes
    limiter = SlidingLog(client, 2, 60, clock=FrozenClock())
    assert [limiter.hit("a") for _ in range(3)] == [Decision(True, 1, 0.0, 60.0), Decision(True, 0, 0.0, 60.0),
                                                    Decision(False, 0, 60.0, 60.0)]


@pytest.mark.parametrize("algorithm", ALGORITHM_NAMES)
@pytest.mark.parametrize(("cost", "error", "message"), [
    (True, TypeError, "cost must be a whole number"),  # True == 1, but it is not a cost
    (1.0, TypeError, "cost must be a whole number"),
    (-1, ValueError, "cost must be a whole number of at least 1"),
    (6, ValueError, "cost 6 is more than the limit 5"),
])
def test_the_quick_cost_check_refuses_what_the_full_one_refuses(r, algorithm, cost, error, message):
    limiter = ALGORITHMS[algorithm](r, 5, 60)
    with pytest.raises(error, match=message):
        limiter.hit("client", cost=cost)
    assert r.exists(limiter.key_for("client")) == 0


def test_check_rate_limit_refuses_bad_settings_after_good_ones_were_used(r):
    assert check_rate_limit(r, "u", 5, 10)  # a limiter for (5, 10) is now kept for this client
    for limit in (True, 5.0):  # equal to 5 as a dict key, but not a limit
        with pytest.raises(TypeError, match="limit must be a whole number"):
            check_rate_limit(r, "u", limit, 10)
    with pytest.raises(TypeError, match="window_seconds must be a positive number of seconds"):
        check_rate_limit(r, "u", 5, "10")
    with pytest.raises(ValueError, match="window_seconds must be a finite number of seconds"):
        check_rate_limit(r, "u", 5, float("nan"))
    with pytest.raises(ValueError, match="user_id must not be empty"):
        check_rate_limit(r, " ", 5, 10)


def test_check_rate_limit_remembers_an_outage_from_one_request_to_the_next(caplog):
    server = fakeredis.FakeServer()
    server.connected = False
    client = fakeredis.FakeRedis(server=server)
    with caplog.at_level(logging.WARNING, logger="patterns.ratelimit"):
        assert [check_rate_limit(client, "ada", 5, 60) for _ in range(3)] == [True, True, True]  # failing open
    assert caplog.text.count("failing open") == 1  # Redis tried once; the breaker answered the other two


def test_check_rate_limit_lets_its_client_go():
    import gc
    import weakref

    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    assert check_rate_limit(client, "ada", 5, 60)
    gone = weakref.ref(client)
    del client
    gc.collect()
    assert gone() is None  # what check_rate_limit keeps for a client does not keep the client alive


def test_check_rate_limit_keeps_a_bounded_number_of_limiters_per_client(r):
    from patterns import ratelimit

    for limit in range(1, 200):  # limits computed on the fly
        check_rate_limit(r, "u", limit, 60)
    assert len(getattr(r, ratelimit._SEED_LIMITERS)) <= ratelimit._SEED_LIMITERS_MAX


def test_an_entry_exactly_window_old_has_left_also_when_the_newest_entry_decides(r):
    clock = FrozenClock()
    limiter = SlidingLog(r, 2, 10, clock=clock)
    d = decisions(limiter, clock, [(0, 1), (3, 1), (6.999999, 1), (0.000001, 1), (0, 1)])
    assert [x.allowed for x in d] == [True, True, False, True, False]
    assert d[2] == Decision(False, 0, 0.001, 3.001)  # one microsecond before t=0's entry leaves
    assert d[3] == Decision(True, 0, 0.0, 10.0)  # t=10: it has left
    assert d[4] == Decision(False, 0, 3.0, 10.0)  # next to leave: t=3's


def test_the_log_keeps_request_times_to_the_microsecond(r):
    clock = FrozenClock()
    limiter = SlidingLog(r, 1, 1, clock=clock)
    assert limiter.hit("x").allowed
    clock.now += 0.9996  # 0.4 ms before the entry leaves: a log that kept whole ms would disagree
    assert limiter.hit("x") == Decision(False, 0, 0.001, 0.001)
    clock.now += 0.0004
    assert limiter.hit("x").allowed


def test_a_denied_request_changes_nothing_in_the_log(r):
    clock = FrozenClock()
    limiter = SlidingLog(r, 3, 10, clock=clock)
    key = limiter.key_for("client")
    decisions(limiter, clock, [(0, 1), (1, 1), (1, 1), (9, 1)])  # t=11: admitted, t=0's and t=1's entries forgotten
    clock.now += 1.5  # t = 12.5: t=2's entry has left the window, but only an admitted request forgets it
    stored = r.zrange(key, 0, -1, withscores=True)
    assert len(stored) == 2
    assert [limiter.hit("client", cost=3) for _ in range(3)] == [Decision(False, 2, 8.5, 8.5)] * 3
    assert r.zrange(key, 0, -1, withscores=True) == stored


def test_a_log_of_the_previous_format_is_folded_with_its_weights_and_keeps_a_ttl(r):
    limiter = SlidingLog(r, 10, 60)
    key = limiter.key_for("x")
    seconds, micros = r.time()
    now_ms = seconds * 1000 + micros / 1000
    # "<17-digit running total>:<cost>", scores in ms with a fraction: a request of 6, then one of 3
    r.zadd(key, {f"{6:017d}:6": now_ms - 1.5, f"{9:017d}:3": now_ms - 0.25})
    r.pexpire(key, 60_000)
    assert limiter.hit("x").remaining == 0  # 6 + 3 + 1 = the limit of 10
    denied = limiter.hit("x")
    assert not denied.allowed and denied.remaining == 0
    assert 59.9 < denied.retry_after <= 60.0  # the folded units leave a window after the newest of them
    assert r.zcard(key) == 2 and 0 < r.pttl(key) <= 60_000


def test_a_folded_log_keeps_a_ttl_when_the_request_that_folded_it_is_denied(r):
    limiter = SlidingLog(r, 3, 60)
    key = limiter.key_for("x")
    seconds, micros = r.time()
    r.zadd(key, {f"{'abcdef0123456789'}:{i}": seconds * 1000 + micros / 1000 for i in range(1, 4)})  # the older format
    r.pexpire(key, 60_000)
    assert not limiter.hit("x").allowed
    assert 0 < r.pttl(key) <= 60_000


@pytest.mark.parametrize("algorithm", ["fixed_window", "sliding_window_counter"])
def test_with_an_injected_clock_every_admitted_request_sets_the_ttl_again(r, algorithm):
    clock = FrozenClock(at=1_000_000.0)  # a window boundary
    limiter = ALGORITHMS[algorithm](r, 10, 10, clock=clock)
    key = limiter.key_for("client")
    limiter.hit("client")
    r.pexpire(key, 3_600_000)  # the server's clock and this one drift apart
    clock.now += 1
    limiter.hit("client")  # the same window, on the injected clock
    longest = 20_000 if algorithm == "sliding_window_counter" else 10_000
    assert 0 < r.pttl(key) <= longest - 1_000


@pytest.mark.parametrize("algorithm", ALGORITHM_NAMES)
def test_every_key_keeps_a_ttl_through_many_requests_on_the_servers_clock(r, algorithm):
    limiter = ALGORITHMS[algorithm](r, 50, 60)
    for _ in range(20):
        assert limiter.hit("client").allowed
    longest = 120_000 if algorithm == "sliding_window_counter" else 60_000
    assert 0 < r.pttl(limiter.key_for("client")) <= longest


def test_limiters_of_different_windows_on_one_log_each_count_their_own_window(r):
    clock = FrozenClock()
    ten, two = SlidingLog(r, 3, 10, clock=clock), SlidingLog(r, 1, 2, clock=clock)  # one key: the name is the same
    assert ten.key_for("client") == two.key_for("client")
    assert [d.allowed for d in decisions(ten, clock, [(0, 1), (1, 1), (3.5, 1)])] == [True] * 3  # t = 0, 1, 4.5
    clock.now += 0.5  # t=5: all three entries are inside 10 s; inside 2 s, only t=4.5's
    assert two.hit("client") == Decision(False, 0, 1.5, 1.5)
    assert ten.hit("client") == Decision(False, 0, 5.0, 9.5)


# -- hit_many: recorded traffic replayed a batch per round trip (notebook 02's comparison) ----------------


@pytest.mark.parametrize("algorithm", ALGORITHM_NAMES)
def test_hit_many_decides_exactly_what_hit_decides_one_by_one(r, algorithm):
    """The same requests on the same replayed clock: a pipeline changes the round trips, not one decision."""
    run = uuid.uuid4().hex[:6]
    events = [(i * 0.05 + (i % 7) * 0.01, f"{run}-caller-{i % 5}") for i in range(300)]  # ~12 per 3 s each

    def decide(batched: bool) -> list[Decision]:
        clock = [0.0]
        limiter = ALGORITHMS[algorithm](r, 4, 3, name=f"many-{batched}", clock=lambda: clock[0])

        def callers():
            for t, caller in events:
                clock[0] = 1_700_000_000 + t
                yield caller

        if batched:
            return limiter.hit_many(callers(), batch=64)  # 300 requests: four whole batches and a part
        return [limiter.hit(caller) for caller in callers()]

    one_by_one = decide(False)
    assert sum(d.allowed for d in one_by_one) not in (0, len(events))  # the traffic is both let in and refused
    assert decide(True) == one_by_one


def test_hit_many_costs_a_round_trip_per_batch(r):
    limiter = SlidingLog(r, 10, 60, name=f"many-{uuid.uuid4().hex[:6]}")
    limiter.hit_many(["warm"])  # the script is loaded
    with trace(r) as t:
        decisions = limiter.hit_many((f"caller-{i % 3}" for i in range(250)), batch=100)
    assert [d.allowed for d in decisions] == [i < 30 for i in range(250)]  # each caller's first 10
    assert t.names.count("EVALSHA") == 250, t.summary()
    if type(r).__name__ == "RedisCluster":  # per batch of 100, to each node that holds one of the callers
        nodes = len({r.get_node_from_key(limiter.key_for(f"caller-{i}")).name for i in range(3)})
        assert t.round_trips == 3 * nodes, t.summary()
    else:
        assert t.round_trips == 3, t.summary()  # one per batch of 100: SCRIPT LOAD (it may have been flushed) goes with it


@pytest.mark.parametrize("on_unavailable", ["open", "closed"])
def test_hit_many_without_redis_decides_every_request_as_told(on_unavailable, caplog):
    server = fakeredis.FakeServer()
    server.connected = False
    limiter = FixedWindow(fakeredis.FakeRedis(server=server), 5, 60, on_unavailable=on_unavailable, breaker_seconds=3)
    with caplog.at_level(logging.WARNING, logger="patterns.ratelimit"):
        decisions = limiter.hit_many(f"caller-{i}" for i in range(2500))
    expected = Decision(True, 0, 0.0, 0.0, degraded=True) if on_unavailable == "open" else \
        Decision(False, 0, 3.0, 3.0, degraded=True)
    assert decisions == [expected] * 2500
    assert caplog.text.count(f"failing {on_unavailable}") == 1  # the breaker spares the later batches


def test_hit_many_refuses_a_bad_identifier_before_sending_its_batch(r):
    limiter = FixedWindow(r, 5, 60, name=f"many-{uuid.uuid4().hex[:6]}")
    with pytest.raises(TypeError):
        limiter.hit_many(["ada", 7])
    assert limiter.hit("ada").remaining == 4  # nothing of the refused batch was counted


def test_hit_many_after_the_script_cache_was_flushed_between_batches_decides_as_hit_does(real):
    """A restart or a failover empties the script cache: the next batch must not fail (review of hit_many)."""
    limiter = FixedWindow(real, 100, 60, name=f"flushed-{uuid.uuid4().hex[:6]}")

    def callers():
        for i in range(15):
            if i == 10:
                real.script_flush()  # between the first batch and the second
            yield f"c{i % 3}"

    decisions = limiter.hit_many(callers(), batch=10)
    assert [d.remaining for d in decisions] == [99 - i // 3 for i in range(15)]
    assert not any(d.degraded for d in decisions)


@pytest.mark.parametrize("single", [False, True], ids=["pooled", "single-connection"])
def test_hit_many_never_sends_a_batch_twice_when_its_write_fails_half_way(real, redis_server, monkeypatch, single):
    """A batch whose write was cut may have run in part: it is decided as unavailable, never resent."""
    client = redis.Redis.from_url(redis_server.url, decode_responses=True, single_connection_client=True) if single \
        else real
    limiter = FixedWindow(client, 100, 60, name=f"cut-{uuid.uuid4().hex[:6]}", on_unavailable="closed")
    limiter.hit("c0")  # the connection is open and the script loaded
    connection_class = type(client.connection) if single else client.connection_pool.connection_class
    original, sent = connection_class.send_packed_command, []

    def cut(self, command, check_health=True):
        data = b"".join(bytes(part) for part in command) if not isinstance(command, bytes) else command
        if data.count(b"EVALSHA") > 1:  # the batch: half of it goes out, then the network fails
            sent.append(data)
            self._sock.sendall(data[: len(data) // 2])
            self.disconnect()
            raise redis.ConnectionError("Error 32 while writing to socket. Broken pipe.")
        return original(self, command, check_health)

    monkeypatch.setattr(connection_class, "send_packed_command", cut)
    decisions = limiter.hit_many([f"c{i % 3}" for i in range(10)], batch=10)
    monkeypatch.undo()
    assert len(sent) == 1, f"the batch was written {len(sent)} times"
    assert decisions == [Decision(False, 0, 5.0, 5.0, degraded=True)] * 10
    counted = sum(int(real.hget(limiter.key_for(f"c{i}"), "n") or 0) for i in range(3))
    assert 1 <= counted <= 1 + 5, counted  # the warm-up, and at most the half that reached the server
    client.close()


def test_an_interrupt_between_a_batchs_replies_leaves_no_unread_reply_for_the_next_command(real, monkeypatch):
    """Ctrl-C in a notebook between two reads: the connection must not go back with replies unread."""
    limiter = FixedWindow(real, 100, 60, name=f"interrupted-{uuid.uuid4().hex[:6]}")
    limiter.hit("warm")
    connection_class = real.connection_pool.connection_class
    original, reads = connection_class.read_response, []

    def interrupted(self, *args, **kwargs):
        reads.append(1)
        if len(reads) == 3:  # SCRIPT LOAD's reply, the batch's first, then the interrupt
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(connection_class, "read_response", interrupted)
    with pytest.raises(KeyboardInterrupt):
        limiter.hit_many(["a", "b", "c"], batch=3)
    monkeypatch.undo()
    key = keys.key(real, "t", f"probe-{uuid.uuid4().hex[:6]}")
    assert real.set(key, "v") is True
    assert real.get(key) == "v"


def test_a_script_error_in_a_batch_carries_the_decisions_made_before_it(real):
    limiter = FixedWindow(real, 100, 60, name=f"wrongtype-{uuid.uuid4().hex[:6]}")
    real.set(limiter.key_for("bob"), "not a hash")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE") as raised:
        limiter.hit_many(["ada", "ada", "bob", "ada"], batch=2)
    assert [d.remaining for d in raised.value.decisions] == [99, 98]
    real.delete(limiter.key_for("bob"))


def test_a_node_that_fails_its_batch_makes_the_cluster_client_read_the_slot_map_again(cluster_client, monkeypatch):
    """After a failover redis-py finds the new primary by reading the map again; a batch must do the same."""
    limiter = FixedWindow(cluster_client, 100, 60, name=f"failover-{uuid.uuid4().hex[:6]}", on_unavailable="closed")
    limiter.hit("ada")
    node = cluster_client.get_node_from_key(limiter.key_for("ada"))
    node_class = node.redis_connection.connection_pool.connection_class
    original = node_class.send_packed_command

    def down(self, command, check_health=True):
        data = b"".join(bytes(part) for part in command) if not isinstance(command, bytes) else command
        if b"EVALSHA" in data and self.port == node.port:
            self.disconnect()
            raise redis.ConnectionError("Connection refused")
        return original(self, command, check_health)

    reread = []
    monkeypatch.setattr(node_class, "send_packed_command", down)
    monkeypatch.setattr(cluster_client.nodes_manager, "initialize",
                        lambda *a, **k: reread.append(1))
    decisions = limiter.hit_many(["ada", "ada"])
    assert decisions == [Decision(False, 0, 5.0, 5.0, degraded=True)] * 2
    assert reread, "the slot map was not read again after a node failed"


def test_hit_reads_no_injected_clock_while_the_breaker_is_open():
    server = fakeredis.FakeServer()
    reads = []
    limiter = FixedWindow(fakeredis.FakeRedis(server=server), 5, 60, clock=lambda: reads.append(1) or 1_700_000_000.0)
    server.connected = False
    assert limiter.hit("ada").degraded  # trips the breaker (this one read the clock)
    reads.clear()
    assert all(limiter.hit("ada").degraded for _ in range(5))
    assert reads == []


@pytest.mark.parametrize("one", ["ada", b"ada"])
def test_hit_many_refuses_one_identifier_passed_as_the_iterable(one):
    limiter = FixedWindow(fakeredis.FakeRedis(), 5, 60)
    with pytest.raises(TypeError, match="one per character"):
        limiter.hit_many(one)


@pytest.mark.parametrize("single", [False, True], ids=["pooled", "single-connection"])
def test_hit_many_never_sends_a_batch_again_when_a_reply_is_lost(real, redis_server, monkeypatch, single):
    """The batch ran on the server and its fifth reply was lost: each request counted once, the rest degraded."""
    client = redis.Redis.from_url(redis_server.url, decode_responses=True, single_connection_client=True) if single \
        else patterns.connect(redis_server.url)
    limiter = FixedWindow(client, 100, 60, name=f"lost-{uuid.uuid4().hex[:6]}", on_unavailable="closed")
    limiter.hit("ada")  # the connection is open and the script loaded
    connection_class = type(client.connection) if single else client.connection_pool.connection_class
    original, reads = connection_class.read_response, []

    def lost(self, *args, **kwargs):
        reads.append(1)
        if len(reads) == 1 + 5:  # SCRIPT LOAD's reply, four of the batch's, then the network fails
            self.disconnect()
            raise redis.ConnectionError("Connection closed by server.")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(connection_class, "read_response", lost)
    decisions = limiter.hit_many(["ada"] * 10, batch=10)
    monkeypatch.undo()
    assert [d.remaining for d in decisions[:4]] == [98, 97, 96, 95]
    assert decisions[4:] == [Decision(False, 0, 5.0, 5.0, degraded=True)] * 6
    assert real.hget(limiter.key_for("ada"), "n") == "11"  # the warm-up and the ten: none of them twice
    client.close()
