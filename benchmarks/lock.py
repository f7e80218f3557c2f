"""Locks: acquire+release pairs per second, ours against redis-py's Lock and python-redis-lock.

    python benchmarks/lock.py [--pairs 3000]        (make bench)

All three run against the same throwaway redis-server, started here on a free port, in
one run, alternating over three rounds (each one's best is reported), from one thread,
on uncontended locks: the numbers compare the cost of taking and giving back a lock
(round trips, scripts), not behaviour under contention.
"""
from __future__ import annotations

import argparse

import redis_lock

import patterns
from _measure import measure
from patterns.lock import Lock
from patterns.sandbox import LocalServer

NAMES = 50
ROUNDS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3000)
    args = parser.parse_args()
    with LocalServer() as server:
        r = patterns.connect(server.url)

        def ours(name):
            lock = Lock(r, name, ttl=10, timeout=0)
            lock.acquire()
            lock.release()

        def redis_py(name):
            lock = r.lock(f"redis-py:{name}", timeout=10, blocking=False)
            lock.acquire()
            lock.release()

        def python_redis_lock(name):
            lock = redis_lock.Lock(r, f"prl:{name}", expire=10)
            lock.acquire(blocking=False)
            lock.release()

        contenders = {"patterns.Lock": ours, "redis-py Lock": redis_py, "python-redis-lock": python_redis_lock}
        best = {name: (0.0, 0.0) for name in contenders}
        for _ in range(ROUNDS):
            for name, pair in contenders.items():
                best[name] = max(best[name], measure(pair, args.pairs, NAMES))
        print(f"{args.pairs} acquire+release pairs a round, best of {ROUNDS}, one thread, {patterns.describe(r)}\n")
        ours_rate = best["patterns.Lock"][0]
        print(f"{'library':20} {'pairs/s':>10} {'patterns is':>12}   round trips per pair")
        for name, (rate, trips) in best.items():
            ratio = "" if name == "patterns.Lock" else f"{ours_rate / rate:.2f}x"
            print(f"{name:20} {rate:>10,.0f} {ratio:>12}   {trips:.1f}")
        r.connection_pool.disconnect()


if __name__ == "__main__":
    main()
