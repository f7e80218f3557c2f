"""Many clients at once: the rate limiter and the lock from 1, 2, 4 and 8 processes, against their anchors.

    python benchmarks/many_clients.py [--seconds 2]        (make bench runs it with the others)

One throwaway redis-server. For each contender and each number of client processes, all the
processes start together (a barrier), run as fast as they can for ``--seconds``, and the total
operations per second is reported, with the server's CPU over the run in cores (INFO cpu).
Contenders alternate, three rounds each, median kept. A Redis server runs commands on one
core: where its CPU nears 1.0 core, the server is saturated and more clients only queue;
far below it, the clients (Python, on the same small machine) are what limits the rate.
"""
from __future__ import annotations

import argparse
import os
import statistics

from limits import RateLimitItemPerMinute
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

import patterns
from _measure import Row, hammer, many_processes, report
from patterns.lock import with_lock
from patterns.ratelimit import check_rate_limit
from patterns.sandbox import LocalServer

PROCESSES = (1, 2, 4, 8)
ROUNDS = 3
LIMIT = 1_000_000  # every request allowed: each side does its full work


def _ours_limiter(r):
    return lambda i: check_rate_limit(r, f"user-{i % 1000}", LIMIT, 60)


def _limits_limiter(r):
    storage = RedisStorage(f"redis://{r.connection_pool.connection_kwargs['host']}:"
                           f"{r.connection_pool.connection_kwargs['port']}")
    moving, item = MovingWindowRateLimiter(storage), RateLimitItemPerMinute(LIMIT)
    return lambda i: moving.hit(item, "many", f"user-{i % 1000}")


def _ours_lock(r):
    # Each operation takes its own lock name: uncontended, as in benchmarks/lock.py.
    return lambda i: with_lock(r, f"job-{i}", _nothing)


def _redis_py_lock(r):
    def pair(i: int) -> None:
        lock = r.lock(f"redis-py:job-{i}", timeout=10, blocking=False)
        lock.acquire()
        lock.release()
    return pair


def _nothing() -> None:
    return None


PAIRS = {
    "rate limiter": (("check_rate_limit", _ours_limiter), ("limits moving window", _limits_limiter)),
    "lock": (("with_lock", _ours_lock), ("redis-py Lock", _redis_py_lock)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    rows = []
    with LocalServer() as server:
        r = patterns.connect(server.url)
        print(f"Many clients on {patterns.describe(r)}, {os.cpu_count()} CPUs: total operations per second "
              f"(server CPU in cores), median of {ROUNDS} rounds of {args.seconds:g} s")
        for what, contenders in PAIRS.items():
            print(f"\n{what}: {'processes':>9}  " + "  ".join(f"{name:>26}" for name, _ in contenders) + "   ratio")
            for processes in PROCESSES:
                runs: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in contenders}
                for _ in range(ROUNDS):
                    for name, make in contenders:
                        runs[name].append(many_processes(hammer(make), server.url, processes, args.seconds))
                medians = {name: (statistics.median(rate for rate, _ in v), statistics.median(cpu for _, cpu in v))
                           for name, v in runs.items()}
                (ours, (ours_rate, _)), (anchor, (anchor_rate, _)) = list(medians.items())
                cells = "  ".join(f"{rate:>17,.0f}/s ({cpu:.2f})" for rate, cpu in medians.values())
                print(f"{'':{len(what) + 1}} {processes:>9}  {cells}   {ours_rate / anchor_rate:.2f}x")
                if processes == PROCESSES[-1]:
                    rows.append(Row(f"{ours}, {processes} processes at once", anchor, ours_rate / anchor_rate))
            r.flushall()
        report(rows)
        r.connection_pool.disconnect()


if __name__ == "__main__":
    main()
