"""Exercise of notebook 00: make three writes take one round trip.

    def save_profile(r, user_id, profile):   # write name, email and plan in ONE round trip
        ...
    check(save_profile)
"""
from __future__ import annotations

from typing import Any, Callable

from ..trace import trace
from . import NotYet, fresh_client, report

PROFILE = {"name": "Ada", "email": "ada@example.com", "plan": "pro"}


def _check_body(fn: Callable) -> str:
    r = fresh_client()
    with trace(r) as t:
        fn(r, 7, dict(PROFILE))
    for field, value in PROFILE.items():
        stored = r.get(f"user:7:{field}")
        if stored != value:
            raise NotYet(f"user:7:{field} holds {stored!r}; it should hold {value!r}")
    if t.round_trips != 1:
        raise NotYet(
            f"it took {t.round_trips} round trips ({', '.join(t.names)}); send the three SETs together "
            "(a pipeline, or one MSET)"
        )
    return f"three fields in one round trip ({', '.join(t.names)})"


def check(fn: Callable[[Any, int, dict], Any]) -> None:
    """Check ``fn(r, user_id, profile)`` and print one line: what is wrong first, or that it passes."""
    return report(lambda: _check_body(fn))
