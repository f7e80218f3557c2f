"""Checkers for the notebooks' exercises.

Each ``check(fn)`` runs the learner's function against a fresh, empty key space
(its own embedded server), prints one line — the first thing that is wrong, or
that everything passed. It never raises, so a notebook with the exercise still
a stub runs clean, and it returns nothing, so the cell shows only that line. Reference solutions live in
``solutions/`` (one source for the tests and the trainers' notebooks), never here.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import fakeredis

from .. import progress
from ..connection import fake_server


class NotYet(Exception):
    """Raised inside a checker to stop at the first problem found."""


def fresh_client() -> fakeredis.FakeRedis:
    """A client of a new, empty embedded server: the learner's code cannot see other data."""
    return fakeredis.FakeRedis(server=fake_server(), decode_responses=True)


def report(run: Callable[[], str], exercise: str) -> None:
    """Run a checker body and print one line: "✓ ..." or "not yet: ...".

    In a workshop the line is also noted for the host's progress board (``patterns.progress``),
    in the attendee's own namespace, after it is printed: the learner sees it first.
    """
    passed = False
    try:
        line = f"✓ {run()}"
        passed = True
    except NotYet as problem:
        line = f"not yet: {problem}"
    except NotImplementedError:
        line = "not yet: the function still raises NotImplementedError; replace the stub with your code"
    except Exception as error:  # the learner's bug: say what happened, don't crash the notebook
        line = f"not yet: your function raised {type(error).__name__}: {error}"
    print(line)
    progress.record(exercise, passed, line)


def first_key_without_bounded_ttl(r: fakeredis.FakeRedis, longest: int) -> tuple[str, int] | None:
    """The first key (name, TTL in s) that never expires (-1) or lives longer than ``longest`` seconds."""
    for name in r.scan_iter("*"):
        ttl = r.ttl(name)
        if ttl < 0 or ttl > longest:
            return name, ttl
    return None


def run_at_once(threads: int, work: Callable[[], None], timeout: float = 30) -> bool:
    """Start ``threads`` threads that call ``work`` at the same instant; wait at most ``timeout`` s in all.

    True when every thread finished; the first exception a call of ``work`` raised is raised here
    (the checker reports it as the learner's bug). The threads are daemons and share one deadline, so a
    learner's function that never returns costs one timeout, not one per thread, and cannot keep
    the kernel from exiting.
    """
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def body() -> None:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:  # a sibling never started: nothing to run at once
            return
        try:
            work()
        except BaseException as error:  # handed to the checker below, not printed by threading.excepthook
            errors.append(error)

    started = [threading.Thread(target=body, daemon=True) for _ in range(threads)]
    try:
        for thread in started:
            thread.start()
    except BaseException:
        barrier.abort()  # free the threads already waiting for the one that did not start
        raise
    deadline = time.monotonic() + timeout
    for thread in started:
        thread.join(max(0.0, deadline - time.monotonic()))
    if errors:
        raise errors[0]
    return not any(thread.is_alive() for thread in started)


def call_within(timeout: float, late: str, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a daemon thread of its own: its value, or its exception raised here.

    A learner's loop that never ends must not hang the notebook: after ``timeout`` s the
    checker stops waiting and raises ``NotYet(late)``, the checker's own words for what hangs.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn(*args)
        except BaseException as error:  # handed back to the checker's thread below
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise NotYet(late)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
