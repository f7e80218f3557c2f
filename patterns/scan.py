"""Walking a key space in bounded batches: SCAN, never KEYS, for every tool that reads many keys.

KEYS answers in one reply and blocks the server for as long as it takes to list them all (seconds
on a big key space, during which nobody else is served). SCAN returns a few names per call and a
cursor, so other clients' commands run in between. The audit, the workshop's status, teardown
and progress board, and ``patterns.reset`` all walk with it.
"""
from __future__ import annotations

from typing import Any, Iterator


def scan_batches(r: Any, match: str, count: int, *, once: bool = False) -> Iterator[list[str]]:
    """The key names matching ``match``, SCAN ``count`` at a time, in lists of ``count``.

    SCAN may return a key twice (when the server resizes its table mid-walk); ``once``
    drops repeats, at the cost of remembering every name seen, for callers that total
    per key (the workshop's status and teardown).
    """
    seen: set[str] = set()
    batch: list[str] = []
    for name in r.scan_iter(match=match, count=count):
        if once:
            if name in seen:
                continue
            seen.add(name)
        batch.append(name)
        if len(batch) >= count:
            yield batch
            batch = []
    if batch:
        yield batch
