"""Exercise of notebook 02: a limiter of your own, at most 5 requests per 10 seconds per user.

    def is_allowed(r, user_id):     # True for the first 5 requests of a user in 10 s, then False
        ...
    check(is_allowed)
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from . import NotYet, first_key_without_bounded_ttl, fresh_client, report, run_at_once

LIMIT, WINDOW = 5, 10


def _check_body(fn: Callable[[Any, str], bool]) -> str:
    r = fresh_client()
    answers = [fn(r, "ada") for _ in range(LIMIT + 1)]
    if not all(isinstance(a, bool) for a in answers):
        raise NotYet(f"it returned {answers[0]!r}; return True (allowed) or False (denied)")
    if answers[:LIMIT] != [True] * LIMIT:
        raise NotYet(f"the first {LIMIT} requests should be allowed; got {answers[:LIMIT]}")
    if answers[LIMIT]:
        raise NotYet(f"the {LIMIT + 1}th request in {WINDOW} s was allowed")
    if not fn(r, "grace"):
        raise NotYet("another user's first request was denied: keep one counter per user")
    offender = first_key_without_bounded_ttl(r, WINDOW)
    if offender and offender[1] < 0:
        raise NotYet(f"the key {offender[0]!r} has no TTL: it would never reset, and every user leaves one behind")
    if offender:
        raise NotYet(f"the key {offender[0]!r} lives {offender[1]} s; a {WINDOW}-second window needs at most {WINDOW}")

    fresh = fresh_client()
    results, lock = [], threading.Lock()

    def worker() -> None:
        for _ in range(3):
            allowed = fn(fresh, "crowd")
            with lock:
                results.append(allowed)

    run_at_once(10, worker)
    if results.count(True) != LIMIT:
        raise NotYet(
            f"with 10 threads at once, {results.count(True)} requests got through instead of {LIMIT}: "
            "count and decide in one atomic step (INCR returns the new count)"
        )
    return f"{LIMIT} per {WINDOW} s per user, every key expires, and exact under concurrency"


def check(fn: Callable[[Any, str], bool]) -> None:
    """Check ``fn(r, user_id)`` and print one line: what is wrong first, or that it passes."""
    report(lambda: _check_body(fn))
