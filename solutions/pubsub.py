"""# Chapter 05, pub/sub and streams: solutions

A consumer group delivers at least once, so a handler sees some messages twice. A
credit cannot be made idempotent by itself (adding twice adds twice), so "was this
payment seen? if not, credit it and remember it" has to be one step that Redis runs
whole: a Lua script, or a `WATCH`ed `MULTI`/`EXEC`. Neither a crash nor a second
worker can then land between the check, the credit and the record.
"""
from __future__ import annotations

CHAPTER = "05_pubsub"
KEEP_RECORD = 86400  # s: a day outlasts any redelivery (a claim comes within minutes), then the record goes

CREDIT_ONCE = """
-- KEYS[1] the record that this payment was credited   KEYS[2] the account's balance
-- ARGV[1] the amount   ARGV[2] seconds to keep the record
-- SET NX answers whether the record is new; only then is the balance credited, in the same step.
if redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[2]) then
  redis.call('INCRBY', KEYS[2], ARGV[1])
  return 1
end
return 0
"""


def apply_payment(r, message):
    """Credit ``balance:<account>`` once per payment id, in one Lua script (one round trip).

    Redis runs a script whole, with no other command in between: the record and the
    credit happen together or not at all. A crash before the call leaves nothing, so a
    redelivery credits; a crash after it (even with the reply lost) leaves both, so a
    redelivery sees the record and skips. Ten workers at once: the first `SET NX` wins,
    the other nine see the record. The record expires after a day, so the set of handled
    ids does not grow forever. (On a cluster, give both keys one hash tag, such as the
    account in braces, so the script's keys share a slot.)
    """
    record = f"paid:{message['id']}"
    credited = r.eval(CREDIT_ONCE, 2, record, f"balance:{message['account']}", message["amount"], KEEP_RECORD)
    return credited == 1


def apply_payment_with_watch(r, message):
    """The same guarantee without a script: an optimistic transaction (`WATCH`, then `MULTI`/`EXEC`).

    `WATCH` the record, read it, and queue the record and the credit in `MULTI`/`EXEC`.
    If another worker writes the record between the `WATCH` and the `EXEC`, the `EXEC`
    runs nothing and redis-py raises `WatchError`; `r.transaction` then starts over and
    sees the record. A crash cannot split the record from the credit, because `EXEC`
    applies both or neither.
    """
    record = f"paid:{message['id']}"

    def credit_once(pipe):
        if pipe.exists(record):
            return False
        pipe.multi()
        pipe.set(record, 1, ex=KEEP_RECORD)
        pipe.incrby(f"balance:{message['account']}", message["amount"])
        return True

    return r.transaction(credit_once, record, value_from_callable=True)


SETTLE = """
-- KEYS[1] the stream   KEYS[2] the SKU's reserved count
-- ARGV[1] the group   ARGV[2] the entry id   ARGV[3] the quantity
-- XACK answers 1 only for an entry still pending: the acknowledgement is the record.
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('INCRBY', KEYS[2], ARGV[3])
  return 1
end
return 0
"""


def _entries(found):
    """The (id, fields) pairs of an XREADGROUP reply for one stream (RESP2 list or RESP3 dict)."""
    if isinstance(found, dict):
        return next(iter(found.values()), [[]])[0]
    return found[0][1] if found else []


def consume(r, stream, group, consumer):
    """Apply every entry for ``consumer`` once and acknowledge it; survive a crash and a claim.

    First it reads its own pending entries (id `0`: what it was given before a crash and
    never acknowledged), then new ones (`>`). Each entry is settled by one script that
    acknowledges it and, only if it was still pending, applies its effect: the effect and
    the acknowledgement happen together, so a crash before the script leaves the entry
    pending (the restart reads it again) and a crash after it leaves it acknowledged (it
    is never delivered again). A consumer that stalled while another claimed and settled
    its entries finds them acknowledged when it wakes up, and applies nothing twice. No
    extra record is needed, so nothing grows. An entry trimmed while pending comes back
    without fields: it is acknowledged and skipped. (On a cluster, the stream and the
    counters need one hash tag.)
    """
    settle = r.register_script(SETTLE)
    start = "0"
    while True:
        entries = _entries(r.xreadgroup(group, consumer, {stream: start}, count=10))
        if not entries:
            if start == "0":
                start = ">"  # nothing pending any more: now the new entries
                continue
            return
        for entry_id, fields in entries:
            if not fields:
                r.xack(stream, group, entry_id)
                continue
            settle(keys=[stream, f"reserved:{fields['sku']}"], args=[group, entry_id, int(fields["qty"])])


CHECKS = [
    ("apply_payment", "patterns.exercises.pubsub", "check"),
    ("apply_payment_with_watch", "patterns.exercises.pubsub", "check"),
    ("consume", "patterns.exercises.pubsub", "check_stretch"),
]
