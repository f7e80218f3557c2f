"""Locks: acquire + release, ours against redis-py's Lock and python-redis-lock.

    python benchmarks/lock.py        (make bench runs it with the others)

One throwaway redis-server, started here on a free port. Each figure is the median of five
interleaved rounds of 1,500 acquire+release pairs from one thread (see _measure.py), on
uncontended locks over 50 names, each lock made per call as a request handler makes it:

* ``with_lock(r, name, fn)``: the seed function;
* ``with Lock(r, name, ttl=10, timeout=0)``: the object, made per call;
* redis-py: ``r.lock(name, timeout=10, blocking=False)``, acquire(), release();
* python-redis-lock: ``redis_lock.Lock(r, name, expire=10)``, acquire(blocking=False), release().

Ours does more per pair than either: a fencing token with every grant (the two anchors have
none), and a release that reports a lease that ran out.
"""
from __future__ import annotations

import redis_lock

import patterns
from _measure import Row, interleaved, report, round_trips, server_usec
from patterns.lock import Lock, with_lock
from patterns.sandbox import LocalServer

NAMES = 50
GOALS = {"redis-py Lock": 1.1, "python-redis-lock": 1.6}


def _nothing() -> None:
    return None


def contenders(r) -> dict:
    def ours_lock(i: int) -> None:
        with Lock(r, f"name-{i % NAMES}", ttl=10, timeout=0):
            pass

    def redis_py(i: int) -> None:
        lock = r.lock(f"redis-py:name-{i % NAMES}", timeout=10, blocking=False)
        lock.acquire()
        lock.release()

    def python_redis_lock(i: int) -> None:
        lock = redis_lock.Lock(r, f"prl:name-{i % NAMES}", expire=10)
        lock.acquire(blocking=False)
        lock.release()

    return {
        "with_lock": lambda i: with_lock(r, f"name-{i % NAMES}", _nothing),
        "Lock": ours_lock,
        "redis-py Lock": redis_py,
        "python-redis-lock": python_redis_lock,
    }


def main() -> None:
    with LocalServer() as server:
        r = patterns.connect(server.url)
        pairs = contenders(r)
        print(f"Locks on {patterns.describe(r)}: medians of 5 interleaved rounds of 1,500 pairs, one thread")
        for name, pair in pairs.items():
            print(f"  {name:18} {round_trips(pair):.1f} round trips per pair, server {server_usec(r, pair):.2f} us per pair")
        rates = interleaved(pairs)
        rows = [Row(f"{label}, acquire + release", anchor, rates[ours] / rates[anchor], GOALS[anchor])
                for ours, label in (("with_lock", "with_lock(r, name, fn)"), ("Lock", "with Lock(r, name, ttl=10, timeout=0)"))
                for anchor in GOALS]
        report(rows)
        r.connection_pool.disconnect()


if __name__ == "__main__":
    main()
