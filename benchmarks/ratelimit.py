"""Rate limiters against `limits`: per request, per object, a hot key, a heavy request, the server's own cost.

    python benchmarks/ratelimit.py        (make bench runs it with the others)

One throwaway redis-server, started here on a free port; both libraries use it in one run.
Each figure is the median of five interleaved rounds of 1,500 calls from one thread (see
_measure.py). The `limits` strategies that match ours: fixed window, moving window (a
sliding log) and sliding window counter; token bucket and GCRA have no `limits` twin.

* Per request: the seed function, ``check_rate_limit(r, user, 100, 60)``, as a handler calls it,
  against a `limits` strategy made once at start-up (how `limits` is meant to be used).
* Objects: each limiter made once, ``.hit(user)``, against its `limits` twin.
* A hot key: one caller allowed 10,000 a minute, and how one decision's cost grows with the
  limit (100, 10,000, 100,000) when the caller's window is full (every call denied: a caller
  hammering past its limit is when a hot key matters).
* A heavy request: cost 999,999 out of 1,000,000, decided in under 50 ms.
* The server's own time per decision (INFO commandstats), beside a bare GET's.
"""
from __future__ import annotations

import statistics
import time

from limits import RateLimitItemPerMinute, parse
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

import patterns
from _measure import Row, interleaved, report, round_trips, server_usec
from patterns.ratelimit import ALGORITHMS, FixedWindow, SlidingLog, SlidingWindowCounter, check_rate_limit
from patterns.sandbox import LocalServer

USERS = 100
GOAL = 1.1
HEAVY_LIMIT, HEAVY_COST, HEAVY_GOAL_MS = 1_000_000, 999_999, 50.0
GROWTH_LIMITS = (100, 10_000, 100_000)


def per_request(r, storage) -> list[Row]:
    """The seed function called per request, against limits' strategies made once."""
    item = RateLimitItemPerMinute(100)
    moving, counter = MovingWindowRateLimiter(storage), SlidingWindowCounterRateLimiter(storage)
    rates = interleaved({
        "check_rate_limit": lambda i: check_rate_limit(r, f"user-{i % USERS}", 100, 60),
        "moving": lambda i: moving.hit(item, "seed-moving", f"user-{i % USERS}"),
        "counter": lambda i: counter.hit(item, "seed-counter", f"user-{i % USERS}"),
    })
    return [
        Row("check_rate_limit(r, user, 100, 60)", "limits moving window", rates["check_rate_limit"] / rates["moving"], GOAL),
        Row("check_rate_limit(r, user, 100, 60)", "limits sliding window counter",
            rates["check_rate_limit"] / rates["counter"], GOAL),
    ]


def objects(r, storage) -> list[Row]:
    """Each limiter made once, against its limits twin made once."""
    item = RateLimitItemPerMinute(100)
    twins = [
        (SlidingLog, MovingWindowRateLimiter, "moving window"),
        (SlidingLog, SlidingWindowCounterRateLimiter, "sliding window counter"),
        (SlidingWindowCounter, SlidingWindowCounterRateLimiter, "sliding window counter"),
        (FixedWindow, FixedWindowRateLimiter, "fixed window"),
    ]
    rows = []
    for n, (ours_class, theirs_class, label) in enumerate(twins):
        ours, theirs = ours_class(r, 100, 60, name=f"objects-{n}"), theirs_class(storage)
        rates = interleaved({
            "ours": lambda i: ours.hit(f"user-{i % USERS}"),
            "theirs": lambda i: theirs.hit(item, f"objects-{n}", f"user-{i % USERS}"),
        })
        rows.append(Row(f"{ours_class.__name__}(r, 100, 60).hit(user)", f"limits {label}",
                        rates["ours"] / rates["theirs"], GOAL))
    return rows


def hot_key(r, storage) -> list[Row]:
    """One caller allowed 10,000 a minute: every call in the run is allowed, its window fills up."""
    ours, theirs = SlidingLog(r, 10_000, 60, name="hot"), MovingWindowRateLimiter(storage)
    item = RateLimitItemPerMinute(10_000)
    rates = interleaved({"ours": lambda i: ours.hit("hot"), "theirs": lambda i: theirs.hit(item, "hot", "hot")})
    return [Row("SlidingLog(r, 10_000, 60).hit(one caller)", "limits moving window", rates["ours"] / rates["theirs"], GOAL)]


def growth(r, storage) -> list[Row]:
    """One decision's cost for a caller whose window is full, as the limit grows (every call denied)."""
    print(f"\nA caller whose window is full (every call denied), microseconds per decision, median of 5 rounds:")
    print(f"{'limit':>9}  {'patterns':>9}  {'limits':>9}  {'ratio':>6}")
    rows = []
    for limit in GROWTH_LIMITS:
        ours = SlidingLog(r, limit, 600, name=f"growth-{limit}")
        theirs, item = MovingWindowRateLimiter(storage), parse(f"{limit}/10 minutes")
        _fill(lambda: ours.hit("full"), limit)
        theirs.hit(item, "growth", "full", cost=limit)  # limits stores one list entry per unit: the same list
        assert not ours.hit("full").allowed and not theirs.hit(item, "growth", "full")
        rates = interleaved({"ours": lambda i: ours.hit("full"), "theirs": lambda i: theirs.hit(item, "growth", "full")},
                            calls=500)
        print(f"{limit:>9,}  {1e6 / rates['ours']:>9.1f}  {1e6 / rates['theirs']:>9.1f}  {rates['ours'] / rates['theirs']:>5.2f}x")
        rows.append(Row(f"a full window of {limit:,}, denied", "limits moving window", rates["ours"] / rates["theirs"]))
    return rows


def _fill(hit, times: int) -> None:
    for _ in range(times):
        hit()


def heavy(r, storage) -> list[Row]:
    """One request that weighs nearly the whole limit: decided in under 50 ms, whatever its cost."""
    ours = SlidingLog(r, HEAVY_LIMIT, 2, name="heavy")
    theirs, item = MovingWindowRateLimiter(storage), parse(f"{HEAVY_LIMIT}/2 seconds")

    def timed(call) -> float:
        samples = []
        for i in range(5):
            started = time.perf_counter()
            call(f"heavy-{i}")
            samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)

    ours_ms = timed(lambda who: ours.hit(who, cost=HEAVY_COST))
    their_ms = timed(lambda who: theirs.hit(item, "heavy", who, cost=HEAVY_COST))
    verdict = "meets" if ours_ms < HEAVY_GOAL_MS else "MISSES"
    print(f"\nOne request of cost {HEAVY_COST:,} out of {HEAVY_LIMIT:,} (median of 5): patterns {ours_ms:.2f} ms, "
          f"limits {their_ms:.2f} ms; goal under {HEAVY_GOAL_MS:.0f} ms: {verdict} it")
    return [Row(f"SlidingLog(r, 1_000_000, 2).hit(x, cost=999_999)", "a time, not a ratio", ours_ms, HEAVY_GOAL_MS,
                unit=" ms")]


def server_side(r, storage) -> None:
    """The server's own time per decision (commandstats), beside a bare GET's."""
    item = RateLimitItemPerMinute(1_000_000)
    r.set("plain", "1")
    costs = {"GET (the cheapest command)": server_usec(r, lambda i: r.get("plain"))}
    for name, limiter_class in ALGORITHMS.items():
        limiter = limiter_class(r, 1_000_000, 60, name="server")
        costs[f"patterns {name}"] = server_usec(r, lambda i: limiter.hit(f"user-{i % USERS}"))
    for label, strategy in (("fixed window", FixedWindowRateLimiter), ("moving window", MovingWindowRateLimiter),
                            ("sliding window counter", SlidingWindowCounterRateLimiter)):
        theirs = strategy(storage)
        costs[f"limits {label}"] = server_usec(r, lambda i: theirs.hit(item, label, f"user-{i % USERS}"))
    print("\nThe server's own time per decision (INFO commandstats, every command it ran, 1,000 decisions):")
    for label, usec in costs.items():
        print(f"  {label:34} {usec:6.2f} us")


def main() -> None:
    with LocalServer() as server:
        r = patterns.connect(server.url)
        storage = RedisStorage(server.url)
        print(f"Rate limiting on {patterns.describe(r)}: medians of 5 interleaved rounds of 1,500 calls, one thread")
        trips = round_trips(lambda i: check_rate_limit(r, f"user-{i % USERS}", 100, 60))
        print(f"check_rate_limit: {trips:.1f} round trip per decision")
        rows = per_request(r, storage) + objects(r, storage) + hot_key(r, storage)
        rows += growth(r, storage) + heavy(r, storage)
        server_side(r, storage)
        report(rows)
        r.connection_pool.disconnect()


if __name__ == "__main__":
    main()
