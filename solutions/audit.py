"""# Chapter 07, the production checklist: solutions

`KEYS *` blocks the server while it walks the whole key space. `SCAN` walks it
in small steps that other clients can run between; asking each key's TTL in
batches keeps the round trips few.

The stretch: a transfer between two accounts is a read-modify-write on two
keys. `WATCH` makes the server refuse the `MULTI`/`EXEC` if the source changed
after it was read, so the balance check and the move see the same balance, and
a refused attempt is simply made again with a fresh read.
"""
from __future__ import annotations

import redis

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


def transfer(r, src, dst, amount):
    """Watch the source, read it, check it, then move in one MULTI/EXEC; on a conflict, read again.

    Only the source needs watching: its balance decides whether the money may move.
    The destination is only added to, with INCRBY inside the transaction, so a payment
    into it between the read and EXEC is kept, not overwritten. EXEC fails (WatchError)
    exactly when the source changed after WATCH: nothing was written, so the loop reads
    the new balance and decides again; it ends because each failure means another
    client's write succeeded. False is returned only for a lack of money.
    """
    with r.pipeline() as pipe:
        while True:
            try:
                pipe.watch(src)
                if int(pipe.get(src) or 0) < amount:
                    return False
                pipe.multi()
                pipe.decrby(src, amount)
                pipe.incrby(dst, amount)
                pipe.execute()
                return True
            except redis.WatchError:
                continue


CHECKS = [("keys_without_ttl", "patterns.exercises.audit", "check"),
          ("transfer", "patterns.exercises.transfer", "check_stretch")]
