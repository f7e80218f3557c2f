"""Stretch exercise of notebook 07: move money between two accounts, losing nothing under threads.

    def transfer(r, src, dst, amount):   # True when `amount` moved from src to dst, False (and
        ...                              # nothing moved) when src holds less than `amount`
    check_stretch(transfer)

A balance is an integer in a string key. The checker first runs single transfers (one
to the same account, which must change nothing), then puts another client's move between
two of the learner's round trips, right after the learner reads a balance (the moment a
race between threads would hit, hit every time), once or after each of several reads in a
row, and accepts only what some order of all the moves gives; the other client must never
read a balance below 0. Then 12 threads make random transfers at once: the total must stay
the same, no balance may go below 0, and the balances must agree with what each transfer
returned.
"""
from __future__ import annotations

import random
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import fakeredis
import redis

from ..connection import fake_server
from ..trace import parse_packed
from . import NotYet, call_within, report, run_at_once

CALL_TIMEOUT = 5.0  # seconds one transfer may take before the checker says it hangs
THREADS, TRANSFERS_EACH = 12, 25
NOT_READS = {"WATCH", "UNWATCH", "MULTI", "DISCARD"}

Move = tuple[str, str, int]  # (source, destination, amount)


class _Between:
    """Makes another client's moves, each one between two of the learner's round trips.

    It arms when a round trip of the learner names ``key`` (a read of that balance), and
    makes the next move before the learner's next round trip, then arms again, ``times``
    times in all; the moves left when the learner returns are made right after the call.
    """

    def __init__(self, key: str, move: Callable[[], None], times: int = 1) -> None:
        self.key, self.move, self.left = key, move, times
        self.armed = False

    def before_round_trip(self, batch: list[tuple[str, ...]]) -> None:
        if self.left == 0:
            return
        if self.armed:
            self.armed = False
            self.left -= 1
            self.move()
        elif any(args and args[0].upper() not in NOT_READS and self.key in args[1:] for args in batch):
            self.armed = True

    def finish(self) -> None:
        while self.left:
            self.left -= 1
            self.move()


def _learner_client(server: fakeredis.FakeServer, between: list[_Between | None]) -> fakeredis.FakeRedis:
    """A client of ``server`` whose every round trip first lets ``between[0]`` act."""
    r = fakeredis.FakeRedis(server=server, decode_responses=True)
    base = r.connection_pool.connection_class

    class Interleaved(base):  # type: ignore[misc, valid-type]
        def send_packed_command(self, command: Any, check_health: bool = True) -> Any:
            if between[0] is not None:
                between[0].before_round_trip(parse_packed(command))
            return super().send_packed_command(command, check_health)

    r.connection_pool.connection_class = Interleaved
    return r


def _serial(balances: dict[str, int], moves: list[Move]) -> tuple[dict[str, int], list[bool]]:
    """The balances after ``moves`` one after the other, each made only if its source holds enough."""
    after, moved = dict(balances), []
    for src, dst, amount in moves:
        ok = after[src] >= amount
        if ok:
            after[src] -= amount
            after[dst] += amount
        moved.append(ok)
    return after, moved


def _call(fn: Callable, r: Any, src: str, dst: str, amount: int) -> Any:
    """``fn(r, src, dst, amount)`` in a thread of its own, so a call that never returns is reported."""
    try:
        moved = call_within(CALL_TIMEOUT, f"transfer({src!r}, {dst!r}, {amount}) did not return within "
                            f"{CALL_TIMEOUT:.0f} s (a loop that never ends?)", fn, r, src, dst, amount)
    except redis.WatchError:
        raise NotYet("a transfer raised an error when another client changed a balance between its read and "
                     "its write; such a conflict is normal under load and must not reach the caller") from None
    if not isinstance(moved, bool):
        raise NotYet(f"transfer returned {type(moved).__name__}; return True when the money moved "
                     "and False when it did not")
    return moved


def _balances(r: Any, names: list[str]) -> dict[str, int]:
    got = {name: r.get(name) or "0" for name in names}
    for name, value in got.items():
        if not value.lstrip("-").isdigit():
            raise NotYet(f"afterwards {name} held {value!r}, not a whole number: a balance must stay an integer")
    return {name: int(value) for name, value in got.items()}


def _run(fn: Callable, balances: dict[str, int], move: Move, other: Move | None = None,
         after_reading: str | None = None, times: int = 1) -> tuple[dict[str, int], bool, list[int]]:
    """One transfer on fresh accounts; ``other`` is made by another client right after it reads ``after_reading``.

    Returns the balances, what the transfer returned, and every balance below 0 the other client read."""
    server = fake_server()
    admin = fakeredis.FakeRedis(server=server, decode_responses=True)
    for name, balance in balances.items():
        admin.set(name, balance)
    between: list[_Between | None] = [None]
    r = _learner_client(server, between)
    seen_below_0: list[int] = []
    if other is not None:
        between[0] = _Between(after_reading or other[0], lambda: _serial_on(admin, other, seen_below_0), times)
    moved = _call(fn, r, *move)
    if between[0] is not None:
        between[0].finish()
    return _balances(admin, list(balances)), moved, seen_below_0


def _serial_on(r: Any, move: Move, seen_below_0: list[int]) -> None:
    """The other client's move: made whole, while the learner waits between two round trips."""
    src, dst, amount = move
    text = r.get(src) or "0"
    if not text.lstrip("-").isdigit():
        return  # not a whole number: what the balances show afterwards says so
    balance = int(text)
    if balance < 0:
        seen_below_0.append(balance)
    if balance >= amount:
        r.decrby(src, amount)
        r.incrby(dst, amount)


def _judge(balances: dict[str, int], move: Move, other: Move, times: int, outcome: tuple, story: str) -> None:
    """Accept only what some order of the moves gives (the transfer among ``times`` others); else name what is wrong."""
    got, moved, seen_below_0 = outcome
    src, dst, amount = move
    if seen_below_0:
        raise NotYet(f"{story}, and the other client read {other[0]} as {seen_below_0[0]} in the middle of your "
                     "transfer: a balance must never go below 0, not even for a moment")
    orders = []
    for place in range(times + 1):
        moves = [other] * place + [move] + [other] * (times - place)
        after, results = _serial(balances, moves)
        orders.append((after, results[place]))
    if (got, moved) in orders:
        return
    for name, value in got.items():
        if value < 0:
            raise NotYet(f"{story}, and {name} went to {value}: the balance check saw a balance that was no "
                         "longer true when the money moved")
    total, now = sum(balances.values()), sum(got.values())
    if now != total:
        raise NotYet(f"{story}, and the total went from {total} to {now}: a write built on a stale read "
                     "undid the other client's change (a lost update)")
    other_only, _ = _serial(balances, [other] * times)
    if got == other_only and not moved and any(result for _, result in orders):
        raise NotYet(f"{story}; {src} still held enough, yet the transfer moved nothing and returned False "
                     "though it had the money: a conflict must not drop a transfer")
    if got == other_only and moved:
        raise NotYet(f"{story}; the transfer returned True, but the money did not move")
    raise NotYet(f"{story}; the balances {got} after returning {moved} match no order of the moves")


def _check_single(fn: Callable) -> None:
    got, moved = _run(fn, {"acct:ada": 100, "acct:bob": 0}, ("acct:ada", "acct:bob", 30))[:2]
    if (got, moved) != ({"acct:ada": 70, "acct:bob": 30}, True):
        raise NotYet(f"moving 30 from 100 to 0 returned {moved} and left {got}; expected True, 70 and 30")
    got, moved = _run(fn, {"acct:ada": 70, "acct:bob": 30}, ("acct:ada", "acct:bob", 71))[:2]
    if got["acct:ada"] < 0:
        raise NotYet(f"asked to move 71, acct:ada holding 70 went to {got['acct:ada']}: a balance must never go "
                     "below 0 (move nothing and return False)")
    if (got, moved) != ({"acct:ada": 70, "acct:bob": 30}, False):
        raise NotYet(f"moving 71 out of 70 returned {moved} and left {got}; expected False and nothing moved")
    got, moved = _run(fn, {"acct:ada": 70, "acct:bob": 30}, ("acct:ada", "acct:bob", 70))[:2]
    if (got, moved) != ({"acct:ada": 0, "acct:bob": 100}, True):
        raise NotYet(f"moving all 70 of 70 returned {moved} and left {got}; an account may go down to exactly 0")


def _check_to_itself(fn: Callable) -> None:
    got = _run(fn, {"acct:ada": 100, "acct:bob": 0}, ("acct:ada", "acct:ada", 30))[0]
    if got != {"acct:ada": 100, "acct:bob": 0}:
        raise NotYet(f"moving 30 from acct:ada (100) to itself left it at {got['acct:ada']}: a transfer to the "
                     "same account must change nothing")


def _check_interleaved(fn: Callable) -> None:
    start = {"acct:ada": 50, "acct:bob": 0, "acct:cy": 0}
    for taken in (5, 30):  # still enough for the 40, then no longer enough
        other = ("acct:ada", "acct:cy", taken)
        story = f"another client took {taken} out of acct:ada (50) after you read it, while you moved 40 out"
        _judge(start, ("acct:ada", "acct:bob", 40), other, 1,
               _run(fn, start, ("acct:ada", "acct:bob", 40), other), story)
    other = ("acct:ada", "acct:cy", 40)
    story = "another client took 40 out of acct:ada (50) while you tried to move 60 out"
    _judge(start, ("acct:ada", "acct:bob", 60), other, 1, _run(fn, start, ("acct:ada", "acct:bob", 60), other), story)
    for begin, taken in ((100, 5), (50, 6)):  # enough after all five, then no longer enough after the second
        start = {"acct:ada": begin, "acct:bob": 0, "acct:cy": 0}
        other = ("acct:ada", "acct:cy", taken)
        story = (f"another client took {taken} out of acct:ada ({begin}) after each of your reads, 5 times in a "
                 "row, while you moved 40 out")
        _judge(start, ("acct:ada", "acct:bob", 40), other, 5,
               _run(fn, start, ("acct:ada", "acct:bob", 40), other, times=5), story)
    start = {"acct:ada": 50, "acct:bob": 10, "acct:cy": 20}
    other = ("acct:cy", "acct:bob", 7)
    story = "another client paid 7 into acct:bob (10) after you read it, while you moved 40 there"
    _judge(start, ("acct:ada", "acct:bob", 40), other, 1,
           _run(fn, start, ("acct:ada", "acct:bob", 40), other, after_reading="acct:bob"), story)


_switching = {"users": 0, "saved": 0.0}
_switching_lock = threading.Lock()


@contextmanager
def _fast_switching() -> Iterator[None]:
    """Threads take turns every 0.1 ms, not 5 ms, so races become likely, as on a server.

    The interval is interpreter-wide: the first checker in saves it, the last one out restores it,
    so checkers that overlap (or an exception) never leave it changed."""
    with _switching_lock:
        if _switching["users"] == 0:
            _switching["saved"] = sys.getswitchinterval()
            sys.setswitchinterval(1e-4)
        _switching["users"] += 1
    try:
        yield
    finally:
        with _switching_lock:
            _switching["users"] -= 1
            if _switching["users"] == 0:
                sys.setswitchinterval(_switching["saved"])


def _check_threads(fn: Callable) -> str:
    names = [f"acct:{i}" for i in range(4)]
    server = fake_server()
    admin = fakeredis.FakeRedis(server=server, decode_responses=True)
    for name in names:
        admin.set(name, 100)
    r = _learner_client(server, [None])
    done: list[tuple[Move, Any]] = []
    errors: list[BaseException] = []
    seeds = iter(range(THREADS))
    lock = threading.Lock()

    def work() -> None:
        with lock:
            rng = random.Random(next(seeds))
        for _ in range(TRANSFERS_EACH):
            src, dst = rng.sample(names, 2)
            move = (src, dst, rng.randint(1, 80))
            try:
                result = fn(r, *move)
            except Exception as error:
                errors.append(error)
                return
            with lock:
                done.append((move, result))

    with _fast_switching():
        run_at_once(THREADS, work, CALL_TIMEOUT * 2)
    if errors:
        raise NotYet(f"under {THREADS} threads a transfer raised {type(errors[0]).__name__}: {errors[0]}")
    if len(done) < THREADS * TRANSFERS_EACH:
        raise NotYet(f"only {len(done)} of {THREADS * TRANSFERS_EACH} transfers of {THREADS} threads returned "
                     f"within {CALL_TIMEOUT * 2:.0f} s")
    got = _balances(admin, names)
    if min(got.values()) < 0:
        raise NotYet(f"under {THREADS} threads a balance went below 0: {got}")
    if sum(got.values()) != 100 * len(names):
        raise NotYet(f"under {THREADS} threads the total went from {100 * len(names)} to {sum(got.values())}")
    expected = dict.fromkeys(names, 100)
    for (src, dst, amount), moved in done:
        if moved is True:
            expected[src] -= amount
            expected[dst] += amount
    if got != expected:
        raise NotYet(f"under {THREADS} threads the balances {got} disagree with what the transfers returned "
                     f"(their True answers give {expected})")
    return (f"{len(done)} random transfers by {THREADS} threads at once kept the total at {sum(got.values())}, "
            "no balance went below 0, and every True or False matched the balances")


def _check_body(fn: Callable) -> str:
    _check_single(fn)
    _check_interleaved(fn)
    _check_to_itself(fn)
    summary = _check_threads(fn)
    return f"conflicts in between, even 5 in a row, neither lose, create nor drop money; {summary}"


def check_stretch(fn: Callable[[Any, str, str, int], bool]) -> None:
    """Check ``fn(r, src, dst, amount)`` and print one line: what is wrong first, or that it passes."""
    report(lambda: _check_body(fn), "transfer-stretch")
