"""Plumbing for notebook 02's labs: thread harnesses, seeded traffic, and the algorithm comparison table.

The notebook shows what each lab decides and measures; the loops that start
threads, generate traffic and tabulate decisions live here so the cells stay
short. Limiters are used through the public API only.
"""
from __future__ import annotations

import random
import threading
import uuid
from typing import Any, Callable, Iterator

from ..ratelimit import ALGORITHMS

KINDS = ("light", "bursty", "heavy")


def through(check: Callable[[], bool], threads: int = 20, each: int = 10) -> int:
    """How many of ``threads`` x ``each`` requests ``check()`` allowed, the threads starting at one instant."""
    barrier, allowed, lock = threading.Barrier(threads), [0], threading.Lock()

    def worker() -> None:
        barrier.wait()
        for _ in range(each):
            if check():
                with lock:
                    allowed[0] += 1

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return allowed[0]


def bursts(request: Callable[[str], bool], count: int = 100, threads: int = 10) -> list[int]:
    """Allowed requests in each of ``count`` bursts: ``threads`` threads call ``request(key)`` at once, a fresh key per burst."""
    run = uuid.uuid4().hex[:6]
    return [through(lambda key=f"burst-{run}-{n}": request(key), threads=threads, each=1) for n in range(count)]


def synthetic_traffic(seed: int = 7, seconds: float = 300, limit: int = 10,
                      window: float = 10) -> tuple[list[tuple[float, str]], dict[str, str]]:
    """Seeded traffic: 100 light clients, 10 bursty ones (now and then 15 requests in under a second), 2 heavy ones.

    Returns the (time, client) events in time order and each client's kind.
    """
    rng, events, kinds = random.Random(seed), [], {}
    for c in range(112):
        kind = "heavy" if c < 2 else "bursty" if c < 12 else "light"
        kinds[f"client-{c}"] = kind
        share = {"light": rng.uniform(0.02, 0.3), "bursty": rng.uniform(0.1, 0.3), "heavy": rng.uniform(2, 3)}[kind]
        per_second = share * limit / window
        t = rng.uniform(0, window)
        while t < seconds:
            events.append((t, f"client-{c}"))
            if kind == "bursty" and rng.random() < 0.05:
                events += [(t + i * 0.05, f"client-{c}") for i in range(1, 15)]
            t += rng.expovariate(per_second)
    return sorted(events), kinds


def decisions_of(r: Any, algorithm: str, events: list[tuple[float, str]], limit: int, window: float) -> list[bool]:
    """Replay ``events`` through one algorithm on a replayed clock; a fresh set of callers for every run."""
    clock, run = [0.0], uuid.uuid4().hex[:6]
    limiter = ALGORITHMS[algorithm](r, limit, window, name="lab7", clock=lambda: clock[0])

    def callers() -> Iterator[str]:  # each request's time is set just before hit_many queues it
        for t, client in events:
            clock[0] = 1_700_000_000 + t
            yield f"{run}-{client}"

    return [decision.allowed for decision in limiter.hit_many(callers())]


def most_in_any_window(events: list[tuple[float, str]], allowed: list[bool], window: float) -> int:
    """The most requests one client had allowed within any ``window`` seconds."""
    times: dict[str, list[float]] = {}
    for (t, client), ok in zip(events, allowed):
        if ok:
            times.setdefault(client, []).append(t)
    best = 0
    for ts in times.values():
        start = 0
        for end, t in enumerate(ts):
            while ts[start] <= t - window:
                start += 1
            best = max(best, end - start + 1)
    return best


def replay(r: Any, events: list[tuple[float, str]], limit: int, window: float) -> dict[str, list[bool]]:
    """Every algorithm's decision for every request of ``events`` (each on a replayed clock)."""
    return {algorithm: decisions_of(r, algorithm, events, limit, window) for algorithm in ALGORITHMS}


def compare(decided: dict[str, list[bool]], events: list[tuple[float, str]], kinds: dict[str, str],
            window: float) -> list[tuple[str, dict[str, float], int]]:
    """For each algorithm: % of each kind's decisions that differ from the exact sliding log, and its worst span."""
    exact = decided["sliding_log"]
    mine = {kind: [i for i, (_, c) in enumerate(events) if kinds[c] == kind] for kind in KINDS}
    rows = []
    for algorithm, allowed in decided.items():
        share = {kind: 100 * sum(allowed[i] != exact[i] for i in mine[kind]) / len(mine[kind]) for kind in KINDS}
        rows.append((algorithm, share, most_in_any_window(events, allowed, window)))
    return rows


def differences(decided: dict[str, list[bool]], events: list[tuple[float, str]], kinds: dict[str, str],
                kind: str, window: float) -> dict[str, list[tuple[str, float, int]]]:
    """Where an algorithm's decision for a client of ``kind`` differs from the exact log's.

    For each algorithm but the exact log, one (client, time, n) per differing decision, where n counts that
    client's requests in the ``window`` seconds up to and including this one (sent, whether
    allowed or not): how close to its limit the client was at that moment.
    """
    exact, found = decided["sliding_log"], {}
    for algorithm, allowed in decided.items():
        if algorithm == "sliding_log":
            continue  # the exact log itself, against which the others are compared
        found[algorithm] = [
            (client, t, sum(1 for s, other in events[:i + 1] if other == client and s > t - window))
            for i, (t, client) in enumerate(events)
            if kinds[client] == kind and allowed[i] != exact[i]
        ]
    return found


def table(rows: list[tuple[str, dict[str, float], int]], limit: int, window: float) -> str:
    """``compare``'s rows as the text table the notebook prints."""
    lines = [f"{'':24} {'differs from the exact log':^36}  most allowed in",
             f"{'algorithm':24} {'light':>10} {'bursty':>12} {'heavy':>12}  any {window:g} s span"]
    for algorithm, share, worst in rows:
        lines.append(f"{algorithm:24} {share['light']:>9.2f}% {share['bursty']:>11.2f}% {share['heavy']:>11.2f}%"
                     f"  {worst:>5} (limit {limit})")
    return "\n".join(lines)


def lua_excerpt(name: str, *spans: tuple[str, str]) -> str:
    """Lines of ``patterns/lua/<name>.lua``, read from the file so the page cannot drift from the code.

    Each span is (the first line's start, the last line's start), compared after leading spaces; the
    spans are joined by a line "…". A start that no line has raises ValueError, so an edit of the
    script that removes a shown line fails the notebook instead of showing something stale.
    """
    from importlib import resources

    lines = resources.files("patterns").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8").splitlines()

    def index_of(start: str, after: int) -> int:
        for i in range(after, len(lines)):
            if lines[i].lstrip().startswith(start):
                return i
        raise ValueError(f"{name}.lua has no line starting {start!r} (after line {after + 1})")

    shown, after = [], 0
    for first, last in spans:
        begin = index_of(first, after)
        end = index_of(last, begin)
        shown.append("\n".join(lines[begin:end + 1]))
        after = end + 1
    return "\n…\n".join(shown)
