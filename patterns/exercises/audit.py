"""Exercise of notebook 07: find the keys without a TTL, the production way.

    def keys_without_ttl(r, match):   # the names matching `match` that have no TTL, via SCAN
        ...
    check(keys_without_ttl)
"""
from __future__ import annotations

from typing import Any, Callable

from ..trace import trace
from . import NotYet, fresh_client, report


def _check_body(fn: Callable[[Any, str], list[str]]) -> str:
    r = fresh_client()
    expected = set()
    for i in range(300):
        if i % 7 == 0:
            r.set(f"app:{i}", i)
            expected.add(f"app:{i}")
        else:
            r.set(f"app:{i}", i, ex=600)
    r.set("other:1", 1)  # not matched by app:*
    with trace(r) as t:
        found = fn(r, "app:*")
    if "KEYS" in t.names:
        raise NotYet("it uses KEYS, which blocks every other client while the server walks the whole key space "
                     "in one command")
    if "SCAN" not in t.names:
        raise NotYet(f"it sent {', '.join(sorted(set(t.names))) or 'nothing'} and never walked the key space in steps, "
                     "so it cannot know which keys exist")
    if not isinstance(found, (list, set, tuple)):
        raise NotYet(f"it returned {type(found).__name__}; return a list of key names")
    if len(set(found)) < len(found):
        raise NotYet(f"it returned {len(found)} names but only {len(set(found))} different ones: a walk in steps "
                     "may meet a key twice, and each name belongs in the answer once")
    found = set(found)
    if "other:1" in found:
        raise NotYet("it returned other:1, which does not match the pattern 'app:*'")
    if found != expected:
        missing, extra = expected - found, found - expected
        raise NotYet(f"{len(missing)} TTL-less key(s) missing and {len(extra)} key(s) with a TTL included "
                     "(a key without a TTL has TTL -1)")
    if t.round_trips > len(expected) + 60:
        raise NotYet(f"it took {t.round_trips} round trips for 300 keys, about one per key: each batch's TTLs "
                     "can travel together, in one round trip")
    if t.names.count("SCAN") == 1:
        raise NotYet("it walked all 301 keys in one step: on a production key space a step that size blocks "
                     "every other client as KEYS does; keep each step small")
    return f"{len(expected)} TTL-less keys found with SCAN in {t.round_trips} round trips, never KEYS"


def check(fn: Callable[[Any, str], list[str]]) -> None:
    """Check ``fn(r, match)`` and print one line: what is wrong first, or that it passes."""
    report(lambda: _check_body(fn), "audit")
