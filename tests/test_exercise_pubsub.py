"""Chapter checker tests (pubsub): the references pass; each wrong answer gets one line naming its problem.

There is no `patterns` function that credits a payment once (the chapter's `EventStream`
delivers at least once and leaves idempotency to the handler), so the "library call" the
main checker must reject is the page's former `handle_once`, which the notebook used to
give away; the stretch checker rejects a direct use of `EventStream`.
"""
from __future__ import annotations

import threading

import fakeredis
import pytest

from helpers import messages_of
from patterns.exercises import pubsub as pubsub_exercise
from patterns.pubsub import EventStream
from solutions.pubsub import apply_payment, apply_payment_with_watch, consume

DAY = 86400


# -- the main exercise: wrong answers ----------------------------------------------------------

def seed_handler(r, message):  # the seed's handleEvent: apply every delivery
    r.incrby(f"balance:{message['account']}", message["amount"])
    return True


def old_handle_once(r, message):  # the page's former handle_once: mark, then apply (at most once)
    if r.set(f"handled:{message['id']}", 1, nx=True, ex=DAY):
        r.incrby(f"balance:{message['account']}", message["amount"])
        return True
    return False


def apply_then_mark(r, message):  # two steps: a crash between them credits twice
    if r.exists(f"handled:{message['id']}"):
        return False
    r.incrby(f"balance:{message['account']}", message["amount"])
    r.set(f"handled:{message['id']}", 1, ex=DAY)
    return True


def check_then_transaction(r, message):  # crash-safe, but the check is outside the transaction
    if r.exists(f"handled:{message['id']}"):
        return False
    pipe = r.pipeline(transaction=True)
    pipe.set(f"handled:{message['id']}", 1, ex=DAY)
    pipe.incrby(f"balance:{message['account']}", message["amount"])
    pipe.execute()
    return True


_one_process = threading.Lock()


def python_lock(r, message):  # right for threads, wrong for workers on two machines
    with _one_process:
        return check_then_transaction(r, message)


NO_TTL = """
if redis.call('SET', KEYS[1], 1, 'NX') then redis.call('INCRBY', KEYS[2], ARGV[1]) return 1 end
return 0
"""


def record_without_ttl(r, message):
    return r.eval(NO_TTL, 2, f"paid:{message['id']}", f"balance:{message['account']}", message["amount"]) == 1


def short_record(r, message):
    record, balance = f"paid:{message['id']}", f"balance:{message['account']}"
    script = NO_TTL.replace("'NX'", "'NX', 'EX', 60")
    return r.eval(script, 2, record, balance, message["amount"]) == 1


def in_memory(r, message, _seen=set()):
    if message["id"] in _seen:
        return False
    _seen.add(message["id"])
    r.incrby(f"balance:{message['account']}", message["amount"])
    return True


def once_per_account(r, message):
    return r.eval(CREDIT, 2, f"paid:{message['account']}", f"balance:{message['account']}", message["amount"],
                  DAY) == 1


CREDIT = """
if redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[2]) then redis.call('INCRBY', KEYS[2], ARGV[1]) return 1 end
return 0
"""


def no_return_value(r, message):
    apply_payment(r, message)


def another_client(r, message):  # a client of its own, not the one check() passes in
    return apply_payment(fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True), message)


def balance_with_ttl(r, message):
    credited = apply_payment(r, message)
    r.expire(f"balance:{message['account']}", DAY)
    return credited


@pytest.mark.parametrize(
    ("solution", "says"),
    [
        pytest.param(seed_handler, "the same payment delivered twice was credited 2 times", id="seed"),
        pytest.param(old_handle_once, "after your 1st Redis round trip ran (its reply never arrived); after the "
                                      "redelivery the payment was never credited", id="the-page-s-old-handle_once"),
        pytest.param(apply_then_mark, "after your 2nd Redis round trip ran (its reply never arrived); after the "
                                      "redelivery the payment was credited 2 times", id="apply-then-mark"),
        pytest.param(check_then_transaction, "two workers got the same payment at once: one was between its "
                                             "Redis round trips 1 and 2", id="check-then-act"),
        pytest.param(python_lock, "waited for the first one inside this Python process", id="python-lock"),
        pytest.param(record_without_ttl, "'paid:pay-1001' has no TTL", id="no-ttl"),
        pytest.param(short_record, "'paid:pay-1001' expires in 60 s", id="short-ttl"),
        pytest.param(in_memory, "nothing but the balances is in Redis", id="in-memory"),
        pytest.param(once_per_account, "a different payment was skipped", id="deduplicated-by-account"),
        pytest.param(no_return_value, "it returned None then None", id="no-return-value"),
        pytest.param(another_client, "on the client your function is given", id="another-client"),
        pytest.param(balance_with_ttl, "'balance:ada' has a TTL", id="balance-expires"),
        pytest.param(lambda r, m: False, "balance:ada is still 0", id="does-nothing"),
    ],
)
def test_pubsub_checker_names_the_problem(capsys, solution, says):
    pubsub_exercise.check(solution)
    out = capsys.readouterr().out
    assert out.startswith("not yet: ") and says in out, out
    assert out.count("\n") == 1


@pytest.mark.parametrize("solution", [apply_payment, apply_payment_with_watch])
def test_pubsub_references_pass(capsys, solution):
    pubsub_exercise.check(solution)
    assert capsys.readouterr().out.startswith("✓ each payment credited exactly once")


def test_the_stub_gets_the_not_implemented_line(capsys):
    def stub(r, message):
        raise NotImplementedError

    pubsub_exercise.check(stub)
    assert capsys.readouterr().out == ("not yet: the function still raises NotImplementedError; replace the stub "
                                       "with your code\n")


def test_a_call_that_never_returns_is_reported_not_waited_for(capsys, monkeypatch):
    monkeypatch.setattr(pubsub_exercise, "CALL_TIMEOUT", 0.2)
    forever = threading.Event()
    pubsub_exercise.check(lambda r, m: forever.wait())
    forever.set()
    assert "did not return within" in capsys.readouterr().out


# -- the stretch: wrong consumers ---------------------------------------------------------------

def _entries(found):
    return found[0][1] if found else []


def _apply(r, fields):
    r.incrby(f"reserved:{fields['sku']}", int(fields["qty"]))


def seed_reader(r, stream, group, consumer):  # no group at all: reads the stream from the start every time
    for _, fields in r.xrange(stream):
        _apply(r, fields)


def with_event_stream(r, stream, group, consumer):  # the chapter's EventStream: its own key, not this stream
    events = EventStream(r, stream, group=group, start="0")
    for message in events.read(consumer, count=100):
        events.ack(message.id)


def only_new(r, stream, group, consumer):  # forgets what it was given before the crash
    while entries := _entries(r.xreadgroup(group, consumer, {stream: ">"}, count=10)):
        for entry_id, fields in entries:
            _apply(r, fields)
            r.xack(stream, group, entry_id)


def _pending_then_new(r, stream, group, consumer, handle):
    for start in ("0", ">"):
        while entries := _entries(r.xreadgroup(group, consumer, {stream: start}, count=10)):
            for entry_id, fields in entries:
                handle(entry_id, fields)


def ack_then_apply(r, stream, group, consumer):
    def handle(entry_id, fields):
        r.xack(stream, group, entry_id)
        _apply(r, fields)
    _pending_then_new(r, stream, group, consumer, handle)


def apply_then_ack(r, stream, group, consumer):
    def handle(entry_id, fields):
        _apply(r, fields)
        r.xack(stream, group, entry_id)
    _pending_then_new(r, stream, group, consumer, handle)


def unconditional_transaction(r, stream, group, consumer):  # crash-safe, but applies a claimed entry twice
    def handle(entry_id, fields):
        pipe = r.pipeline(transaction=True)
        pipe.incrby(f"reserved:{fields['sku']}", int(fields["qty"]))
        pipe.xack(stream, group, entry_id)
        pipe.execute()
    _pending_then_new(r, stream, group, consumer, handle)


def never_acks(r, stream, group, consumer):
    def handle(entry_id, fields):
        if r.set(f"done:{entry_id}", 1, nx=True, ex=DAY):
            _apply(r, fields)
    _pending_then_new(r, stream, group, consumer, handle)


def marks_without_ttl(r, stream, group, consumer):
    script = """
    if redis.call('SET', KEYS[1], 1, 'NX') then redis.call('INCRBY', KEYS[2], ARGV[1]) end
    return redis.call('XACK', KEYS[3], ARGV[2], ARGV[3])
    """

    def handle(entry_id, fields):
        r.eval(script, 3, f"done:{entry_id}", f"reserved:{fields['sku']}", stream, fields["qty"], group, entry_id)
    _pending_then_new(r, stream, group, consumer, handle)


@pytest.mark.parametrize(
    ("solution", "says"),
    [
        pytest.param(seed_reader, "after one run, the group 'pickers' never handed out some of the entries",
                     id="seed-no-group"),
        pytest.param(with_event_stream, "after one run, reserved:A1 is 0, expected 6: an entry's effect was "
                                        "missing", id="patterns-EventStream"),
        pytest.param(only_new, "after your 1st Redis round trip ran (its reply never arrived) and restarted; then, "
                               "reserved:A1 is 0", id="only-new-entries"),
        pytest.param(ack_then_apply, "an entry's effect was missing", id="ack-then-apply"),
        pytest.param(apply_then_ack, "an entry's effect was applied more than once", id="apply-then-ack"),
        pytest.param(unconditional_transaction, "picker-1 stalled while it held entries", id="claimed-twice"),
        pytest.param(never_acks, "6 entries are still pending", id="never-acks"),
        pytest.param(marks_without_ttl, "has no TTL", id="records-without-ttl"),
    ],
)
def test_pubsub_stretch_checker_names_the_problem(capsys, solution, says):
    pubsub_exercise.check_stretch(solution)
    out = capsys.readouterr().out
    assert out.startswith("not yet: ") and says in out, out


def test_pubsub_stretch_reference_passes(capsys):
    pubsub_exercise.check_stretch(consume)
    assert capsys.readouterr().out.startswith("✓ every entry's effect happened exactly once")


# Words that would hand over the answer: a checker's message says what is wrong, not what to type.
GIVEAWAYS = ["lua", "script", "eval", "multi", "exec", "watch", "nx", "setnx", "incrby", "xack", "xreadgroup",
             "xautoclaim", "xclaim", "pending entries list", "register", "transaction"]


def test_the_pubsub_checkers_never_name_the_answer(capsys):
    out = messages_of(pubsub_exercise.check, [seed_handler, old_handle_once, apply_then_mark,
                                              check_then_transaction, python_lock, record_without_ttl,
                                              in_memory, no_return_value], capsys)
    out += messages_of(pubsub_exercise.check, [one_refreshed_hash], capsys)
    out += messages_of(pubsub_exercise.check_stretch, [only_new, ack_then_apply, apply_then_ack,
                                                       unconditional_transaction, never_acks,
                                                       check_owner_then_transaction], capsys)
    assert [word for word in GIVEAWAYS if word in out] == []


# -- found in review: wrong answers that got ✓, right answers that got "not yet" -------------------

import time  # noqa: E402
import uuid  # noqa: E402

SHARED_RECORD = """
if redis.call('HSETNX', KEYS[1], ARGV[2], 1) == 1 then
  redis.call('INCRBY', KEYS[2], ARGV[1]) redis.call('EXPIRE', KEYS[1], 86400) return 1
end
return 0
"""


def one_refreshed_hash(r, message):  # every record in one hash whose TTL each payment pushes back: never expires
    return r.eval(SHARED_RECORD, 2, "paid", f"balance:{message['account']}", message["amount"], message["id"]) == 1


def check_owner_then_transaction(r, stream, group, consumer):  # "still mine?" then apply and acknowledge: a claim
    def handle(entry_id, fields):                                  # between the two applies the entry twice
        if r.xpending_range(stream, group, entry_id, entry_id, 1, consumername=consumer):
            pipe = r.pipeline(transaction=True)
            pipe.incrby(f"reserved:{fields['sku']}", int(fields["qty"]))
            pipe.xack(stream, group, entry_id)
            pipe.execute()
    _pending_then_new(r, stream, group, consumer, handle)


def test_a_record_refreshed_by_every_payment_is_rejected(capsys):
    pubsub_exercise.check(one_refreshed_hash)
    out = capsys.readouterr().out
    assert out.startswith("not yet: 'paid'") and "pushed its expiry back" in out, out


def test_a_claim_between_the_ownership_check_and_the_effect_is_caught(capsys):
    pubsub_exercise.check_stretch(check_owner_then_transaction)
    out = capsys.readouterr().out
    assert out.startswith("not yet: picker-1 stalled") and "applied more than once" in out, out


HOUR_RECORD = """
if redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[2]) then redis.call('INCRBY', KEYS[2], ARGV[1]) return 1 end
return 0
"""


def slow_hour_record(r, message):  # right: a record of exactly an hour, from a function that takes 0.2 s a call
    time.sleep(0.2)
    return r.eval(HOUR_RECORD, 2, f"paid:{message['id']}", f"balance:{message['account']}", message["amount"],
                  3600) == 1


def slow_to_start(r, message):  # right: it does 0.3 s of other work (a slow service) before its one round trip
    time.sleep(0.3)
    return apply_payment(r, message)


def _locked(lease_ms):
    def redis_lock(r, message):  # a lock in Redis (waiters poll it), the check under it, the writes in MULTI
        lock, token = f"lock:{message['id']}", uuid.uuid4().hex
        while not r.set(lock, token, nx=True, px=lease_ms):
            time.sleep(0.25)
        try:
            return check_then_transaction(r, message)
        finally:
            r.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
                   1, lock, token)
    return redis_lock


redis_lock = _locked(3000)  # right: its lease outlasts the checker's 2 s stall of the worker that holds it
short_lease = _locked(500)  # wrong: a worker stalled longer than the lease (a GC pause) loses the lock unaware


def test_a_lock_lease_shorter_than_a_stall_is_caught(capsys):
    pubsub_exercise.check(short_lease)
    out = capsys.readouterr().out
    assert out.startswith("not yet: two workers got the same payment at once") and "2 times" in out, out


def test_a_record_of_exactly_an_hour_passes_even_when_calls_are_slow(capsys):
    pubsub_exercise.check(slow_hour_record)
    assert capsys.readouterr().out.startswith("✓"), "an hour is allowed"


@pytest.mark.parametrize("solution", [slow_to_start, redis_lock])
def test_a_second_worker_that_is_slow_or_waits_on_redis_is_not_taken_for_a_python_lock(capsys, monkeypatch,
                                                                                       solution):
    # A loaded machine, in miniature: the second worker's gaps between round trips are longer than the checker's
    # pause. Whether the answer is right must not depend on how long the checker pauses.
    monkeypatch.setattr(pubsub_exercise, "WAIT_FOR_SECOND", 0.2)
    pubsub_exercise.check(solution)
    out = capsys.readouterr().out
    assert out.startswith("✓"), out


def test_a_python_lock_is_caught_however_long_the_pause(capsys, monkeypatch):
    monkeypatch.setattr(pubsub_exercise, "WAIT_FOR_SECOND", 30.0)  # the verdict must come from what it saw, fast
    started = time.monotonic()
    pubsub_exercise.check(python_lock)
    assert "waited for the first one inside this Python process" in capsys.readouterr().out
    assert time.monotonic() - started < 15
