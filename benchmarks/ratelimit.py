"""Rate limiters: decisions per second and round trips per decision, ours against `limits`.

    python benchmarks/ratelimit.py [--hits 5000]        (make bench)

Both libraries run against the same throwaway redis-server, started here on a free
port, in one run, alternating over three rounds (each side's best is reported), from
one thread: the numbers compare the cost
of a decision (script vs commands, round trips), not a server's capacity. The
`limits` strategies that match ours: fixed window, moving window (a sliding log) and
sliding window counter; token bucket and GCRA have no `limits` counterpart.
"""
from __future__ import annotations

import argparse

import statistics
import time

from limits import RateLimitItemPerMinute, parse
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

import patterns
from _measure import measure
from patterns.ratelimit import ALGORITHMS
from patterns.sandbox import LocalServer

LIMITS_EQUIVALENT = {
    "fixed_window": FixedWindowRateLimiter,
    "sliding_log": MovingWindowRateLimiter,
    "sliding_window_counter": SlidingWindowCounterRateLimiter,
}
CALLERS = 100
ROUNDS = 3
LIMIT = 1_000_000  # high enough that every request is allowed: both sides do the same work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=5000)
    args = parser.parse_args()
    with LocalServer() as server:
        r = patterns.connect(server.url)
        storage = RedisStorage(server.url)
        item = RateLimitItemPerMinute(LIMIT)
        print(f"{args.hits} decisions a round, best of {ROUNDS}, {CALLERS} callers, one thread, {patterns.describe(r)}\n")
        print(f"{'algorithm':24} {'patterns':>12} {'limits':>12} {'ratio':>7}   round trips per decision")
        for name, limiter_class in ALGORITHMS.items():
            ours = limiter_class(r, LIMIT, 60, name="bench")
            theirs = LIMITS_EQUIVALENT[name](storage) if name in LIMITS_EQUIVALENT else None
            ours_best, their_best = (0.0, 0.0), (0.0, 0.0)
            for _ in range(ROUNDS):  # alternate the two sides, keep each one's best round
                ours_best = max(ours_best, measure(ours.hit, args.hits, CALLERS))
                if theirs:  # the strategy name keeps each strategy's keys apart
                    their_best = max(their_best, measure(lambda c: theirs.hit(item, name, c), args.hits, CALLERS))
            (ours_rate, ours_trips), (their_rate, their_trips) = ours_best, their_best
            line = f"{name:24} {ours_rate:>10,.0f}/s"
            if theirs:
                line += f" {their_rate:>10,.0f}/s {ours_rate / their_rate:>6.2f}x   {ours_trips:.1f} vs {their_trips:.1f}"
            else:
                line += f" {'(none)':>12} {'':>7}   {ours_trips:.1f}"
            print(line)
        heavy(r, storage)
        r.connection_pool.disconnect()


HEAVY_LIMIT, HEAVY_COST, HEAVY_GOAL_MS = 1_000_000, 999_999, 50.0


def heavy(r, storage) -> None:
    """One request that weighs nearly the whole limit: decided in under 50 ms, whatever its cost."""
    from patterns.ratelimit import SlidingLog

    ours = SlidingLog(r, HEAVY_LIMIT, 2, name="heavy")
    theirs = MovingWindowRateLimiter(storage)
    item = parse(f"{HEAVY_LIMIT}/2 seconds")

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
    print(f"\none request of cost {HEAVY_COST:,} out of {HEAVY_LIMIT:,} (median of 5): patterns {ours_ms:.2f} ms, "
          f"limits {their_ms:.2f} ms; goal under {HEAVY_GOAL_MS:.0f} ms: {verdict} it")


if __name__ == "__main__":
    main()
