"""Exercise of notebook 01: write cache-aside by hand, the way the seed meant it.

    def cached_fetch(r, key, fetch):    # return fetch()'s value, cached under key for 60-300 s
        ...
    check(cached_fetch)
"""
from __future__ import annotations

import json
from typing import Any, Callable

from ..trace import trace
from . import NotYet, fresh_client, report

TTL_RANGE = (60, 300)


class _Fetch:
    def __init__(self, value: Any) -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> Any:
        self.calls += 1
        return self.value


def _two_calls(fn: Callable, r: Any, key: str, value: Any) -> tuple[_Fetch, Any, Any]:
    fetch = _Fetch(value)
    first = fn(r, key, fetch)
    second = fn(r, key, fetch)
    return fetch, first, second


def _check_body(fn: Callable) -> str:
    r = fresh_client()
    value = {"id": 7, "name": "Ada", "tags": ["admin"]}

    with trace(r) as miss:
        first = fn(r, "user:7", _Fetch(value))
    if first != value:
        raise NotYet(f"on a miss it returned {first!r}; it should return what fetch() returned, {value!r}")
    if not r.exists("user:7"):
        raise NotYet("nothing was stored under the key it was given ('user:7')")

    stored = r.get("user:7") if r.type("user:7") == "string" else None
    try:
        if json.loads(stored) != value:
            raise ValueError
    except (TypeError, ValueError):
        raise NotYet(f"the stored value {stored!r} is not the JSON of the fetched value (use json.dumps)") from None

    ttl = r.ttl("user:7")
    if ttl < 0:
        raise NotYet("the key has no TTL: every cache entry needs one, or stale data stays forever")
    if not TTL_RANGE[0] - 1 <= ttl <= TTL_RANGE[1]:
        raise NotYet(f"the TTL is {ttl} s; choose one between {TTL_RANGE[0]} and {TTL_RANGE[1]} seconds")
    if "EXPIRE" in miss.names or "PEXPIRE" in miss.names:
        raise NotYet(
            f"the value and its TTL were written by separate commands ({', '.join(miss.names)}): a crash in "
            "between leaves a key that never expires; use one SET with ex="
        )

    fetch = _Fetch("unused")
    with trace(r) as hit:
        second = fn(r, "user:7", fetch)
    if fetch.calls:
        raise NotYet("the second call with the same key ran fetch() again; it should be a cache hit")
    if second != value:
        raise NotYet(f"a hit returned {second!r} ({type(second).__name__}); decode the JSON to get {value!r} back")
    if hit.round_trips != 1:
        raise NotYet(f"a hit took {hit.round_trips} round trips ({', '.join(hit.names)}); one GET is enough")

    for falsy in (None, 0, "", [], False):
        fetch, first, second = _two_calls(fn, r, f"falsy:{falsy!r}", falsy)
        if fetch.calls != 1:
            raise NotYet(
                f"fetch() ran {fetch.calls} times for a value of {falsy!r}: falsy values and None must be cached "
                "too (test for a missing key with `is None`, not with truthiness)"
            )
        if second != falsy or type(second) is not type(falsy):
            raise NotYet(f"a cached {falsy!r} came back as {second!r}")
    return "cache-aside works: JSON values, falsy values cached, one SET with a TTL, one round trip per hit"


def check(fn: Callable[[Any, str, Callable[[], Any]], Any]) -> None:
    """Check ``fn(r, key, fetch)`` and print one line: what is wrong first, or that it passes."""
    return report(lambda: _check_body(fn))
