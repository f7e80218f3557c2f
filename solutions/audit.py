"""# Chapter 07, the production checklist: solutions

`KEYS *` blocks the server while it walks the whole key space. `SCAN` walks it
in small steps that other clients can run between; asking each key's TTL in
batches keeps the round trips few.
"""
from __future__ import annotations

CHAPTER = "07_production_checklist"


def _ttl_less(r, names):
    """The names among ``names`` that never expire (TTL -1), asked in one pipelined round trip."""
    pipe = r.pipeline(transaction=False)
    for name in names:
        pipe.ttl(name)
    return [name for name, ttl in zip(names, pipe.execute()) if ttl == -1]


def keys_without_ttl(r, match):
    """SCAN in steps of 100, and the TTLs of each step in one pipeline: one round trip per step, never KEYS."""
    found = []
    batch = []
    for name in r.scan_iter(match=match, count=100):
        batch.append(name)
        if len(batch) == 100:
            found += _ttl_less(r, batch)
            batch = []
    return found + _ttl_less(r, batch)


CHECKS = [("keys_without_ttl", "patterns.exercises.audit", "check")]
