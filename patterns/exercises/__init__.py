"""Checkers for the notebooks' exercises.

Each ``check(fn)`` runs the learner's function against a fresh, empty key space
(its own embedded server), prints one line — the first thing that is wrong, or
that everything passed. It never raises, so a notebook with the exercise still
a stub runs clean, and it returns nothing, so the cell shows only that line. Reference solutions live in
``solutions/`` (one source for the tests and the trainers' notebooks), never here.
"""
from __future__ import annotations

import threading
from typing import Callable

import fakeredis


class NotYet(Exception):
    """Raised inside a checker to stop at the first problem found."""


def fresh_client() -> fakeredis.FakeRedis:
    """A client of a new, empty embedded server: the learner's code cannot see other data."""
    return fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)


def report(run: Callable[[], str]) -> None:
    """Run a checker body and print one line: "✓ ..." or "not yet: ..."."""
    try:
        print(f"✓ {run()}")
    except NotYet as problem:
        print(f"not yet: {problem}")
    except NotImplementedError:
        print("not yet: the function still raises NotImplementedError; replace the stub with your code")
    except Exception as error:  # the learner's bug: say what happened, don't crash the notebook
        print(f"not yet: your function raised {type(error).__name__}: {error}")


def first_key_without_bounded_ttl(r: fakeredis.FakeRedis, longest: int) -> tuple[str, int] | None:
    """The first key (name, TTL in s) that never expires (-1) or lives longer than ``longest`` seconds."""
    for name in r.scan_iter("*"):
        ttl = r.ttl(name)
        if ttl < 0 or ttl > longest:
            return name, ttl
    return None


def run_at_once(threads: int, work: Callable[[], None], timeout: float = 30) -> None:
    """Start ``threads`` threads that call ``work`` at the same instant; wait for all of them."""
    barrier = threading.Barrier(threads)

    def body() -> None:
        barrier.wait()
        work()

    started = [threading.Thread(target=body) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout)
