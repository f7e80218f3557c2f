"""# Chapter 01, caching: solutions

Cache-aside for a whole page of products at once: one round trip to read every
id, one database query for the misses only, one round trip to write what came
back, with "not found" cached too and every TTL drawn at random so that a page
cached together does not expire together.
"""
from __future__ import annotations

import json
import random

CHAPTER = "01_caching"

NOT_FOUND = ""  # what the entry of an id the database does not have holds: JSON text is never empty


def cached_many(r, ids, fetch_many):
    """Read every key with one `MGET`, ask the database once for the misses, write them in one pipeline.

    `MGET` answers in the order it was asked, with `None` for a key that is not
    there, so `raw is None` (not `if raw:`) tells a miss from a cached `0`, `""`,
    `[]`, `false` or `null`. An id the database does not have is cached as the
    empty string: no JSON text is empty, so a product whose value is `null`
    stays apart from one that does not exist. Each `SET` carries its own `EX`
    (value and TTL in one command), and the pipeline sends them all in one
    round trip. TTLs are drawn from 240-300 s for a product and 20-30 s for
    "not found" (only ever shortened, as `Cache` does), so a page written
    together expires over a minute, not in one second. An id listed twice is
    asked for once, and an empty page sends nothing.

    On a Redis Cluster, one `MGET` may name keys of one slot only: a shared hash
    tag would allow it but put every product on one server, so redis-py's
    `mget_nonatomic` splits the batch by slot instead (one `MGET` per slot),
    and a cluster pipeline sends one batch per node (chapter 08).
    """
    ids = list(dict.fromkeys(ids))  # an id listed twice is read, fetched and written once
    if not ids:
        return {}  # nothing to ask: a cluster refuses an MGET that names no key
    keys = [f"product:{i}" for i in ids]
    found, misses = {}, []
    for i, raw in zip(ids, r.mget(keys)):
        if raw is None:
            misses.append(i)
        elif raw != NOT_FOUND:
            found[i] = json.loads(raw)
    if not misses:
        return found
    fetched = fetch_many(misses)
    pipe = r.pipeline(transaction=False)
    for i in misses:
        if i in fetched:
            found[i] = fetched[i]
            pipe.set(f"product:{i}", json.dumps(fetched[i]), ex=random.randint(240, 300))
        else:
            pipe.set(f"product:{i}", NOT_FOUND, ex=random.randint(20, 30))
    pipe.execute()
    return found


CHECKS = [("cached_many", "patterns.exercises.caching", "check")]
