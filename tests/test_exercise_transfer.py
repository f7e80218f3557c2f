"""Chapter checker tests (transfer, 07's stretch): the reference passes; each wrong answer gets one line.

``transfer(r, src, dst, amount)`` moves ``amount`` between two balance keys and returns True, or
moves nothing and returns False when ``src`` holds less. The checker puts another client's move
between the learner's round trips (deterministically, right after the learner first reads a
balance), then runs 12 threads of random transfers.

There is no ``patterns`` function for a transfer, so there is no library call to reject; the
seed's way of writing a read-modify-write (read, check, write back) is the first wrong answer.
"""
from __future__ import annotations

import itertools
import threading

import pytest
import redis

from helpers import messages_of
from patterns.exercises import transfer as transfer_exercise
from solutions.audit import transfer as reference_transfer


# -- the seed's style: read, check, write back, no transaction ------------------------------------

def seed_style(r, src, dst, amount):
    balance = int(r.get(src) or 0)
    if balance < amount:
        return False
    r.set(src, balance - amount)
    r.set(dst, int(r.get(dst) or 0) + amount)
    return True


# -- the classic mistakes ---------------------------------------------------------------------------

def check_outside_the_transaction(r, src, dst, amount):  # atomic move, but the check ran on a stale read
    if int(r.get(src) or 0) < amount:
        return False
    pipe = r.pipeline(transaction=True)
    pipe.decrby(src, amount)
    pipe.incrby(dst, amount)
    pipe.execute()
    return True


def no_balance_check(r, src, dst, amount):  # atomic, never loses money, but overdraws
    pipe = r.pipeline(transaction=True)
    pipe.decrby(src, amount)
    pipe.incrby(dst, amount)
    pipe.execute()
    return True


def watched_once(r, src, dst, amount, on_conflict):
    """WATCH, read, check, MULTI/EXEC, once: what happens on a conflict is ``on_conflict()``."""
    with r.pipeline() as pipe:
        pipe.watch(src, dst)
        if int(pipe.get(src) or 0) < amount:
            return False
        pipe.multi()
        pipe.decrby(src, amount)
        pipe.incrby(dst, amount)
        try:
            pipe.execute()
        except redis.WatchError:
            return on_conflict()
        return True


def no_retry_says_false(r, src, dst, amount):
    return watched_once(r, src, dst, amount, lambda: False)


def no_retry_says_true(r, src, dst, amount):
    return watched_once(r, src, dst, amount, lambda: True)


def no_retry_raises(r, src, dst, amount):
    def conflict():
        raise redis.WatchError("Watched variable changed.")
    return watched_once(r, src, dst, amount, conflict)


def watches_the_source_but_writes_a_stale_destination(r, src, dst, amount):
    with r.pipeline() as pipe:
        while True:
            try:
                pipe.watch(src)
                balance, before = int(pipe.get(src) or 0), int(pipe.get(dst) or 0)
                if balance < amount:
                    return False
                pipe.multi()
                pipe.set(src, balance - amount)
                pipe.set(dst, before + amount)
                pipe.execute()
                return True
            except redis.WatchError:
                continue


def watches_after_reading(r, src, dst, amount):  # a change between the read and the WATCH goes unseen
    balance = int(r.get(src) or 0)
    with r.pipeline() as pipe:
        while True:
            try:
                pipe.watch(src, dst)
                if balance < amount:
                    return False
                pipe.multi()
                pipe.decrby(src, amount)
                pipe.incrby(dst, amount)
                pipe.execute()
                return True
            except redis.WatchError:
                continue


def gives_up(r, src, dst, amount, tries, answer):
    """Right, but only ``tries`` attempts: after that many conflicts in a row it returns ``answer``."""
    with r.pipeline() as pipe:
        for _ in range(tries):
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
    return answer


def gives_up_says_false(r, src, dst, amount):
    return gives_up(r, src, dst, amount, 2, False)


def gives_up_says_true(r, src, dst, amount):
    return gives_up(r, src, dst, amount, 2, True)


def second_attempt_unguarded(r, src, dst, amount):  # on a conflict, one more try, with no WATCH
    with r.pipeline() as pipe:
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
            pass
    return check_outside_the_transaction(r, src, dst, amount)


def takes_first_and_gives_back(r, src, dst, amount):  # never ends below 0, but is below 0 for a moment
    if r.decrby(src, amount) < 0:
        r.incrby(src, amount)
        return False
    r.incrby(dst, amount)
    return True


def writes_both_balances_back(r, src, dst, amount):  # right for two accounts; creates money when src == dst
    with r.pipeline() as pipe:
        while True:
            try:
                pipe.watch(src, dst)
                balance, before = int(pipe.get(src) or 0), int(pipe.get(dst) or 0)
                if balance < amount:
                    return False
                pipe.multi()
                pipe.set(src, balance - amount)
                pipe.set(dst, before + amount)
                pipe.execute()
                return True
            except redis.WatchError:
                continue


def in_floats(r, src, dst, amount):  # writes '70.0' back: no longer an integer balance
    with r.pipeline() as pipe:
        while True:
            try:
                pipe.watch(src, dst)
                balance, before = float(pipe.get(src) or 0), float(pipe.get(dst) or 0)
                if balance < amount:
                    return False
                pipe.multi()
                pipe.set(src, balance - amount)
                pipe.set(dst, before + amount)
                pipe.execute()
                return True
            except redis.WatchError:
                continue


TRANSFER_SCRIPT = """
local balance = tonumber(redis.call('GET', KEYS[1]) or '0')
if balance < tonumber(ARGV[1]) then return 0 end
redis.call('DECRBY', KEYS[1], ARGV[1])
redis.call('INCRBY', KEYS[2], ARGV[1])
return 1
"""


def in_a_script(r, src, dst, amount):  # the other right answer: one script, nothing runs in between
    return r.eval(TRANSFER_SCRIPT, 2, src, dst, amount) == 1


def with_the_transaction_helper(r, src, dst, amount):  # redis-py's own WATCH loop: also right
    def body(pipe):
        if int(pipe.get(src) or 0) < amount:
            return False
        pipe.multi()
        pipe.decrby(src, amount)
        pipe.incrby(dst, amount)
        return True
    return r.transaction(body, src, value_from_callable=True)


def a_registered_script_with_string_amounts(r, src, dst, amount):  # also right
    return r.register_script(TRANSFER_SCRIPT)(keys=[src, dst], args=[str(amount)]) == 1


@pytest.mark.parametrize(
    ("solution", "says"),
    [
        (seed_style, "the total went from 50 to 55"),
        (check_outside_the_transaction, "went to -20"),
        (no_balance_check, "holding 70 went to -1"),
        (no_retry_says_false, "returned False though"),
        (no_retry_says_true, "returned True, but the money did not move"),
        (no_retry_raises, "raised an error when another client changed a balance"),
        (watches_the_source_but_writes_a_stale_destination, "the total went from 80 to 73"),
        (watches_after_reading, "went to -20"),
        (lambda r, s, d, a: None, "returned NoneType"),
        (lambda r, s, d, a: 1 if seed_style(r, s, d, a) else 0, "returned int"),
        (gives_up_says_false, "returned False though"),
        (gives_up_says_true, "returned True, but the money did not move"),
        (second_attempt_unguarded, "read acct:ada as -2"),
        (takes_first_and_gives_back, "read acct:ada as -10"),
        (writes_both_balances_back, "to itself"),
        (in_floats, "not a whole number"),
    ],
    ids=lambda value: getattr(value, "__name__", None) if callable(value) else None,
)
def test_transfer_checker_names_the_problem(capsys, solution, says):
    transfer_exercise.check_stretch(solution)
    out = capsys.readouterr().out
    assert out.startswith("not yet: ") and says in out, out


@pytest.mark.parametrize("solution", [reference_transfer, in_a_script, with_the_transaction_helper,
                                      a_registered_script_with_string_amounts],
                         ids=["reference", "in_a_script", "transaction_helper", "registered_script"])
def test_transfer_reference_and_a_script_pass(capsys, solution):
    transfer_exercise.check_stretch(solution)
    out = capsys.readouterr().out
    assert out.startswith("✓ ") and "12 threads" in out, out


def test_a_transfer_that_never_returns_is_reported_not_waited_for(capsys, monkeypatch):
    monkeypatch.setattr(transfer_exercise, "CALL_TIMEOUT", 0.2)
    release = threading.Event()
    try:
        transfer_exercise.check_stretch(lambda r, s, d, a: release.wait(30))
        assert "did not return within" in capsys.readouterr().out
    finally:
        release.set()


def test_a_transfer_that_hangs_under_threads_leaves_no_thread_that_blocks_exit(capsys, monkeypatch):
    monkeypatch.setattr(transfer_exercise, "CALL_TIMEOUT", 0.2)
    release, calls = threading.Event(), itertools.count()
    before = set(threading.enumerate())

    def hangs_after_fifty_calls(r, src, dst, amount):  # the single and in-between checks make fewer
        if next(calls) >= 50:
            release.wait(30)
        return reference_transfer(r, src, dst, amount)

    try:
        transfer_exercise.check_stretch(hangs_after_fifty_calls)
        assert "returned within" in capsys.readouterr().out
        left = [t for t in set(threading.enumerate()) - before if t.is_alive() and not t.daemon]
        assert left == []  # a hung learner's thread must not keep the kernel (or pytest) from exiting
    finally:
        release.set()


# Words that would hand over the answer: a checker's message says what is wrong, not what to type.
GIVEAWAYS = ["watch", "multi", "exec", "incrby", "decrby", "pipeline", "transaction", "eval", "script", "retry",
             "try again"]


def test_the_transfer_checker_never_names_the_answer(capsys):
    wrong = [seed_style, check_outside_the_transaction, no_balance_check, no_retry_says_false, no_retry_says_true,
             no_retry_raises, watches_the_source_but_writes_a_stale_destination, lambda r, s, d, a: None,
             gives_up_says_false, gives_up_says_true, second_attempt_unguarded, takes_first_and_gives_back,
             writes_both_balances_back, in_floats]
    out = messages_of(transfer_exercise.check_stretch, wrong, capsys)
    assert [word for word in GIVEAWAYS if word in out] == []


def test_two_checkers_at_once_leave_the_switch_interval_as_they_found_it(capsys):
    """The thread phase changes an interpreter-wide setting; overlapping checkers must still restore it."""
    import sys

    before = sys.getswitchinterval()
    first_inside, first_done = threading.Event(), threading.Event()
    calls = {"first": itertools.count(), "second": itertools.count()}

    def first(r, src, dst, amount):  # its thread phase waits until the second checker's has begun
        if next(calls["first"]) >= 50:
            first_inside.set()
            second_inside.wait(10)
        return reference_transfer(r, src, dst, amount)

    second_inside = threading.Event()

    def second(r, src, dst, amount):  # starts its thread phase inside the first's, ends after it
        if next(calls["second"]) >= 50:
            second_inside.set()
            first_done.wait(10)
        return reference_transfer(r, src, dst, amount)

    def run_first():
        transfer_exercise.check_stretch(first)
        first_done.set()

    one = threading.Thread(target=run_first)
    one.start()
    assert first_inside.wait(30)
    other = threading.Thread(target=transfer_exercise.check_stretch, args=(second,))
    other.start()
    one.join(60)
    other.join(60)
    assert sys.getswitchinterval() == before
