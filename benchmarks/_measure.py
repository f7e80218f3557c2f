"""What every benchmark here shares: interleaved rounds, the server's own cost, many processes, the summary.

The rules, so a ratio means what it says:
* ours and the anchor run against the same throwaway server, in one run, from one thread;
* in rounds that alternate between the contenders (the order rotates each round), so a
  machine that gets busier or quieter during the run slows every contender alike;
* each contender's figure is the median of its rounds, and the ratio is ours / anchor in
  operations per second (above 1: ours is faster);
* every contender is warmed up first (scripts loaded, connections open).
"""
from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

from patterns.trace import trace

ROUNDS = 5
CALLS = 1500
WARM_UP = 200
SUMMARY_FILE = os.environ.get("BENCH_SUMMARY")  # make bench collects every benchmark's rows here

Operation = Callable[[int], Any]  # called with the call's number: 0, 1, 2, ...


def _rate(operation: Operation, calls: int, start: int) -> float:
    began = time.perf_counter()
    for i in range(start, start + calls):
        operation(i)
    return calls / (time.perf_counter() - began)


def interleaved(contenders: dict[str, Operation], *, rounds: int = ROUNDS, calls: int = CALLS,
                warm_up: int = WARM_UP, before_round: Callable[[str, int], None] | None = None,
                rate: Callable[[Any, int, int], float] = _rate) -> dict[str, float]:
    """Median operations per second of each contender over ``rounds`` interleaved rounds of ``calls`` calls.

    ``before_round(name, round)`` runs untimed before each contender's round (to set up a fresh key).
    ``rate(operation, calls, start)`` times one round (benchmarks/aio.py awaits each call).
    """
    names = list(contenders)
    done = {name: 0 for name in names}
    for name in names:
        if before_round:
            before_round(name, -1)
        rate(contenders[name], warm_up, 0)
        done[name] = warm_up
    rates: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            if before_round:
                before_round(name, round_number)
            rates[name].append(rate(contenders[name], calls, done[name]))
            done[name] += calls
    return {name: statistics.median(values) for name, values in rates.items()}


def round_trips(operation: Operation, calls: int = 50) -> float:
    """Round trips per call, as the tracer counts them (after the warm-up)."""
    with trace() as t:
        for i in range(calls):
            operation(10**6 + i)
    return t.round_trips / calls


def server_usec(admin: Any, operation: Operation, calls: int = 1000, start: int = 2 * 10**6) -> float:
    """The server's own time per call, from INFO commandstats, for the commands the client sent.

    Only the commands the call sent itself are summed (the tracer names them): a script's
    row already includes the commands it ran, which commandstats also lists on their own.
    ``admin`` must be able to CONFIG RESETSTAT and INFO (the throwaway server's default user).
    """
    admin.config_resetstat()
    with trace() as t:
        for i in range(start, start + calls):
            operation(i)
    sent = {f"cmdstat_{name.lower()}" for name in t.names}
    stats = admin.info("commandstats")
    return sum(row["usec"] for name, row in stats.items() if name in sent) / calls


def many_processes(worker: Callable[[str, float, Any, Any, Any], None], url: str, processes: int,
                   seconds: float) -> tuple[float, float]:
    """(total operations per second, server CPU in cores) with ``processes`` clients running ``worker`` at once.

    ``worker(url, seconds, ready, go, results)`` connects, sets ``ready``... see ``hammer``. Server
    CPU is INFO's used_cpu_user + used_cpu_sys over the run: near 1.0 the server (one core for
    commands) is saturated; far below it, the clients are what limits the rate.
    """
    import redis

    context = multiprocessing.get_context("fork")
    go = context.Event()
    ready = context.Semaphore(0)
    results = context.Queue()
    children = [context.Process(target=worker, args=(url, seconds, ready, go, results)) for _ in range(processes)]
    for child in children:
        child.start()
    for _ in children:
        ready.acquire()
    admin = redis.Redis.from_url(url)
    before = _server_cpu(admin)
    began = time.perf_counter()
    go.set()
    total = sum(results.get() for _ in children)
    elapsed = time.perf_counter() - began
    cpu = (_server_cpu(admin) - before) / elapsed
    for child in children:
        child.join()
    admin.close()
    return total / seconds, cpu


def _server_cpu(admin: Any) -> float:
    info = admin.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def hammer(make: Callable[[Any], Operation]) -> Callable[[str, float, Any, Any, Any], None]:
    """A worker for ``many_processes``: ``make(client)`` gives the operation, run for ``seconds`` after ``go``."""

    def worker(url: str, seconds: float, ready: Any, go: Any, results: Any) -> None:
        import patterns
        from patterns import connection

        connection._pools.clear()  # a forked child opens its own connections
        operation = make(patterns.connect(url))
        for i in range(WARM_UP):  # numbers of its own: processes never share a name
            operation(-(os.getpid() * 10**4 + i))
        ready.release()
        go.wait()
        count, deadline = 0, time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            operation(os.getpid() * 10**7 + count)
            count += 1
        results.put(count)

    return worker


@dataclass
class Row:
    """One line of the summary table ``make bench`` ends with.

    ``value`` is a ratio (ours / anchor in operations per second: above 1, ours is faster) unless
    ``unit`` says otherwise; ``goal`` is the least ratio that meets the goal, or for a time in ms
    the most it may take. None: reported, with no goal.
    """

    operation: str
    anchor: str
    value: float
    goal: float | None = None
    unit: str = "x"

    @property
    def verdict(self) -> str:
        if self.goal is None:
            return ""
        met = self.value <= self.goal if self.unit == " ms" else self.value >= self.goal
        return "meets" if met else "MISSES"

    @property
    def shown(self) -> str:
        return f"{self.value:.2f}{self.unit}"

    @property
    def goal_shown(self) -> str:
        if self.goal is None:
            return ""
        return f"< {self.goal:g} ms" if self.unit == " ms" else f">= {self.goal:.1f}x"


def report(rows: list[Row]) -> None:
    """Print the rows as a table, and keep them for the summary when make bench collects one."""
    print_rows(rows)
    if SUMMARY_FILE:
        with open(SUMMARY_FILE, "a", encoding="utf-8") as summary:
            for row in rows:
                summary.write(json.dumps(asdict(row)) + "\n")


def print_rows(rows: list[Row]) -> None:
    width = max(len(row.operation) for row in rows)
    anchor_width = max(len(row.anchor) for row in rows)
    print(f"\n{'operation':{width}}  {'against':{anchor_width}}  {'ours':>9}  {'goal':>8}")
    for row in rows:
        print(f"{row.operation:{width}}  {row.anchor:{anchor_width}}  {row.shown:>9}  {row.goal_shown:>8}  {row.verdict}")
