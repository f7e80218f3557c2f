"""The asyncio twins (patterns.aio) against the asyncio library a user would pick: rate limits, locks, cache hits.

    python benchmarks/aio.py [--seconds 2]        (make bench runs it with the others)

One throwaway redis-server, started here on a free port; every contender uses it in one run,
from one event loop. Each one-task figure is the median of five interleaved rounds of 1,500
calls, one task awaiting them one after another (_measure.py's ``interleaved``, each round
run to completion on the loop; the round trips and the server's time per call are
_measure.py's too, with each call run on the loop).

* Rate limiting, against ``limits.aio`` on redis.asyncio (``implementation="redispy"``: the
  default, coredis, is not installed, and this keeps both sides on the same client library):
  ``aio.check_rate_limit(r, user, 100, 60)`` per request and ``aio.SlidingLog(r, 100, 60)`` made
  once, ``await .hit(user)``, against the moving window and the sliding window counter;
  ``aio.FixedWindow`` against the fixed window. Strategies made once, over 100 users.
* Locking, uncontended, over 50 names, each lock made per call as a handler makes it:
  ``async with aio.Lock(r, name, ttl=10, timeout=0)`` and ``await aio.with_lock(r, name, fn)``
  against redis.asyncio's own Lock (``r.lock(name, timeout=10, blocking=False)``, await
  acquire(), await release()). Ours also hands out a fencing token and reports a lost lease.
* A cache hit on one of 100 keys (about 300 bytes of JSON): ``await aio.get_or_set(r, key,
  fetch, 600)`` and ``aio.Cache(r)`` made once, ``.get_or_set``, against ``json.loads(await
  r.get(key))`` on the same client.
* Many tasks: 100 tasks at once on one event loop for ``--seconds``, total operations per
  second, for the sliding log (every request allowed) and the lock (a fresh name each time),
  ours against the anchor; three alternating rounds, median kept. Reported, with no goal.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any, Awaitable, Callable

import redis
from limits import RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

from _measure import CALLS, ROUNDS, WARM_UP, Row, interleaved, report, round_trips, server_usec
from patterns import aio
from patterns.sandbox import LocalServer

USERS = 100
NAMES = 50
KEYS = 100
TASKS = 100
TASK_ROUNDS = 3
MANY_LIMIT = 1_000_000  # many tasks: every request allowed, each side does its full work
GOALS = {  # the synchronous benchmarks' goals, against the same anchors' asyncio flavours
    "limits.aio": 1.1,
    "redis.asyncio Lock": 1.1,
    "json.loads(await r.get(key))": 1.0,
}

AsyncOperation = Callable[[int], Awaitable[Any]]  # called with the call's number: 0, 1, 2, ...


async def _awaited_rate(operation: AsyncOperation, calls: int, start: int) -> float:
    began = time.perf_counter()
    for i in range(start, start + calls):
        await operation(i)
    return calls / (time.perf_counter() - began)


class OnLoop:
    """_measure.py's helpers for coroutines: each round (or call) run to completion on one event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.admin: Any = None  # a synchronous client of the server: CONFIG RESETSTAT and INFO for server_usec

    def run(self, awaitable: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(awaitable)

    def interleaved(self, contenders: dict[str, AsyncOperation]) -> dict[str, float]:
        return interleaved(contenders, rate=lambda operation, calls, start: self.run(
            _awaited_rate(operation, calls, start)))

    def each(self, operation: AsyncOperation) -> Callable[[int], Any]:
        """``operation`` as a plain function of the call's number, for round_trips and server_usec."""
        return lambda i: self.run(operation(i))


async def many_tasks(operation: AsyncOperation, tasks: int, seconds: float) -> float:
    """Total operations per second with ``tasks`` tasks awaiting ``operation`` at once, after a warm-up."""
    go = asyncio.Event()
    counts = [0] * tasks

    async def worker(n: int) -> None:
        for i in range(WARM_UP // 10):  # opens this task's connection; numbers of its own
            await operation(-(n * 10**4 + i) - 1)
        ready.release()
        await go.wait()
        count, deadline = 0, time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            await operation(n * 10**7 + count)
            count += 1
        counts[n] = count

    ready = asyncio.Semaphore(0)
    workers = [asyncio.ensure_future(worker(n)) for n in range(tasks)]
    for _ in workers:
        await ready.acquire()
    began = time.perf_counter()
    go.set()
    await asyncio.gather(*workers)
    return sum(counts) / (time.perf_counter() - began)


def rate_limiting(on: OnLoop, r: Any, storage: Any) -> list[Row]:
    item = RateLimitItemPerMinute(100)
    log, fixed = aio.SlidingLog(r, 100, 60, name="aio-log"), aio.FixedWindow(r, 100, 60, name="aio-fixed")
    moving, counter = MovingWindowRateLimiter(storage), SlidingWindowCounterRateLimiter(storage)
    fixed_theirs = FixedWindowRateLimiter(storage)
    contenders = {
        "check_rate_limit": lambda i: aio.check_rate_limit(r, f"user-{i % USERS}", 100, 60),
        "SlidingLog": lambda i: log.hit(f"user-{i % USERS}"),
        "FixedWindow": lambda i: fixed.hit(f"user-{i % USERS}"),
        "moving": lambda i: moving.hit(item, "aio-moving", f"user-{i % USERS}"),
        "counter": lambda i: counter.hit(item, "aio-counter", f"user-{i % USERS}"),
        "fixed": lambda i: fixed_theirs.hit(item, "aio-fixed", f"user-{i % USERS}"),
    }
    _costs(on, "rate limiting", contenders)
    rates = on.interleaved(contenders)
    goal = GOALS["limits.aio"]
    return [
        Row("await aio.check_rate_limit(r, user, 100, 60)", "limits.aio moving window",
            rates["check_rate_limit"] / rates["moving"], goal),
        Row("await aio.check_rate_limit(r, user, 100, 60)", "limits.aio sliding window counter",
            rates["check_rate_limit"] / rates["counter"], goal),
        Row("await aio.SlidingLog(r, 100, 60).hit(user)", "limits.aio moving window",
            rates["SlidingLog"] / rates["moving"], goal),
        Row("await aio.SlidingLog(r, 100, 60).hit(user)", "limits.aio sliding window counter",
            rates["SlidingLog"] / rates["counter"], goal),
        Row("await aio.FixedWindow(r, 100, 60).hit(user)", "limits.aio fixed window",
            rates["FixedWindow"] / rates["fixed"], goal),
    ]


async def _nothing() -> None:
    return None


def lock_pairs(r: Any, name: Callable[[int], str]) -> tuple[AsyncOperation, AsyncOperation]:
    """An acquire + release of lock ``name(i)``: ours (``async with aio.Lock``), and redis.asyncio's Lock."""
    async def ours(i: int) -> None:
        async with aio.Lock(r, name(i), ttl=10, timeout=0):
            pass

    async def theirs(i: int) -> None:
        lock = r.lock(f"redis-py:{name(i)}", timeout=10, blocking=False)
        await lock.acquire()
        await lock.release()

    return ours, theirs


def locking(on: OnLoop, r: Any) -> list[Row]:
    ours_lock, redis_asyncio = lock_pairs(r, lambda i: f"name-{i % NAMES}")
    contenders = {
        "with_lock": lambda i: aio.with_lock(r, f"name-{i % NAMES}", _nothing),
        "Lock": ours_lock,
        "redis.asyncio Lock": redis_asyncio,
    }
    _costs(on, "locking (acquire + release)", contenders)
    rates = on.interleaved(contenders)
    anchor = rates["redis.asyncio Lock"]
    goal = GOALS["redis.asyncio Lock"]
    return [
        Row("await aio.with_lock(r, name, fn), acquire + release", "redis.asyncio Lock", rates["with_lock"] / anchor, goal),
        Row("async with aio.Lock(r, name, ttl=10, timeout=0)", "redis.asyncio Lock", rates["Lock"] / anchor, goal),
    ]


def product(i: int) -> dict:
    return {"id": i, "name": f"Product {i}", "price": 19.99 + i, "currency": "EUR", "stock": 3 * i,
            "tags": ["kitchen", "steel", "gift"], "description": "A sturdy thing that does what it says. " * 4}


def caching(on: OnLoop, r: Any) -> list[Row]:
    cache = aio.Cache(r, "bench-aio", ttl=600)
    for i in range(KEYS):  # every measured call is a hit
        on.run(r.set(f"plain:{i}", json.dumps(product(i)), ex=600))
        on.run(aio.get_or_set(r, f"product:{i}", lambda i=i: product(i), 600))
        on.run(cache.get_or_set(f"product:{i}", lambda i=i: product(i)))

    async def plain(i: int) -> Any:
        return json.loads(await r.get(f"plain:{i % KEYS}"))

    contenders = {
        "get_or_set": lambda i: aio.get_or_set(r, f"product:{i % KEYS}", dict, 600),
        "Cache": lambda i: cache.get_or_set(f"product:{i % KEYS}", dict),
        "GET + json.loads": plain,
    }
    _costs(on, "cache hits", contenders)
    rates = on.interleaved(contenders)
    misses = cache.stats.misses
    assert misses == KEYS, f"every measured call should have been a hit, {misses - KEYS} missed"
    anchor, goal = rates["GET + json.loads"], GOALS["json.loads(await r.get(key))"]
    return [
        Row("await aio.get_or_set(r, key, fetch, 600), a hit", "json.loads(await r.get(key))",
            rates["get_or_set"] / anchor, goal),
        Row("aio.Cache(r) made once, .get_or_set(key, fetch), a hit", "json.loads(await r.get(key))",
            rates["Cache"] / anchor, goal),
    ]


def _costs(on: OnLoop, what: str, contenders: dict[str, AsyncOperation]) -> None:
    print(f"\n{what}:")
    for name, operation in contenders.items():
        print(f"  {name:18} {round_trips(on.each(operation)):.1f} round trips per call, "
              f"server {server_usec(on.admin, on.each(operation)):.2f} us per call (INFO commandstats)")


def many(on: OnLoop, r: Any, storage: Any, seconds: float) -> list[Row]:
    item = RateLimitItemPerMinute(MANY_LIMIT)
    log, moving = aio.SlidingLog(r, MANY_LIMIT, 60, name="many"), MovingWindowRateLimiter(storage)
    ours_lock, redis_asyncio = lock_pairs(r, lambda i: f"job-{i}")

    pairs = {
        "sliding log": (("aio.SlidingLog.hit", lambda i: log.hit(f"user-{i % 1000}")),
                        ("limits.aio moving window", lambda i: moving.hit(item, "many", f"user-{i % 1000}"))),
        "lock": (("async with aio.Lock", ours_lock), ("redis.asyncio Lock", redis_asyncio)),
    }
    print(f"\n{TASKS} tasks at once on one event loop, total operations per second, "
          f"median of {TASK_ROUNDS} rounds of {seconds:g} s:")
    rows = []
    for what, contenders in pairs.items():
        runs: dict[str, list[float]] = {name: [] for name, _ in contenders}
        for round_number in range(TASK_ROUNDS):
            order = contenders if round_number % 2 == 0 else contenders[::-1]
            for name, operation in order:
                runs[name].append(on.run(many_tasks(operation, TASKS, seconds)))
        (ours, ours_rate), (anchor, anchor_rate) = [(name, statistics.median(v)) for name, v in runs.items()]
        print(f"  {what:12} {ours:20} {ours_rate:>9,.0f}/s   {anchor:24} {anchor_rate:>9,.0f}/s   "
              f"{ours_rate / anchor_rate:.2f}x")
        rows.append(Row(f"{ours}, {TASKS} tasks at once", anchor, ours_rate / anchor_rate))
    return rows


def run(seconds: float) -> None:
    on = OnLoop()
    with LocalServer() as server:
        r = on.run(aio.connect(server.url))
        admin = on.admin = redis.Redis(port=server.port)
        storage = RedisStorage(f"async+redis://127.0.0.1:{server.port}/0", implementation="redispy")
        print(f"patterns.aio on Redis {admin.info('server')['redis_version']} at 127.0.0.1:{server.port}: medians of "
              f"{ROUNDS} interleaved rounds of {CALLS:,} calls, one task awaiting each in turn")
        try:
            rows = rate_limiting(on, r, storage) + locking(on, r) + caching(on, r)
            rows += many(on, r, storage, seconds)
            report(rows)
        finally:
            on.run(storage.bridge.storage.aclose())
            on.run(r.aclose())
            admin.close()
    on.loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    run(parser.parse_args().seconds)


if __name__ == "__main__":
    main()
