"""Exercise of notebook 05: handle each message once, even when it is delivered twice.

    def handle_once(r, message_id, apply):   # call apply() only the first time message_id is seen
        ...
    check(handle_once)
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from . import NotYet, first_key_without_bounded_ttl, fresh_client, report, run_at_once

MAX_TTL = 7 * 86400


class _Effect:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self) -> None:
        with self.lock:
            self.count += 1


def _check_body(fn: Callable[[Any, str, Callable[[], None]], bool]) -> str:
    r = fresh_client()
    effect = _Effect()
    first, second = fn(r, "1700000000000-0", effect), fn(r, "1700000000000-0", effect)
    if effect.count == 0:
        raise NotYet("apply() was never called: the first delivery of a message must be handled")
    if effect.count > 1:
        raise NotYet(f"the same message id was handled {effect.count} times; a redelivery must be skipped")
    if (first, second) != (True, False):
        raise NotYet(f"it returned {first!r} then {second!r}; return True when it handled the message, False when "
                     "it skipped a duplicate")
    fn(r, "1700000000000-1", effect)
    if effect.count != 2:
        raise NotYet("a different message id was skipped; only repeats of the same id should be")
    names = list(r.scan_iter("*"))
    if not names:
        raise NotYet("nothing was stored in Redis: a second worker (or a restart) would not know it was handled")
    offender = first_key_without_bounded_ttl(r, MAX_TTL)
    if offender and offender[1] < 0:
        raise NotYet(f"{offender[0]!r} has no TTL: the record of handled ids would grow forever")
    if offender:
        raise NotYet(f"{offender[0]!r} lives {offender[1]} s; a week is plenty to outlast any redelivery")
    crowd = _Effect()
    run_at_once(10, lambda: fn(r, "1700000000000-2", crowd))
    if crowd.count != 1:
        raise NotYet(f"10 workers got the same message at once and it was handled {crowd.count} times: check and "
                     "mark in one atomic step (SET ... NX)")
    return "each message id handled exactly once, across workers and restarts, with a TTL on the record"


def check(fn: Callable[[Any, str, Callable[[], None]], bool]) -> None:
    """Check ``fn(r, message_id, apply)`` and print one line: what is wrong first, or that it passes."""
    report(lambda: _check_body(fn))
