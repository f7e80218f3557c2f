"""Exercises of notebook 05: credit a payment exactly once; a stream consumer that survives a crash.

    def apply_payment(r, message):   # message = {"id", "account", "amount"}: credit balance:<account> once
        ...
    check(apply_payment)

    def consume(r, stream, group, consumer):   # every entry's effect once, all acknowledged, across a crash
        ...
    check_stretch(consume)

Both checkers break the learner's code the way production does. They wrap the client
so that its N-th round trip fails (before Redis runs it, or after, with the reply
lost), for every N the function sends, and then deliver again. They pause one worker
between two of its round trips (a stall of up to 2 s) while a second worker handles the
same payment; a second worker seen blocked on a lock of this Python process, which a
worker on another machine would not share, is reported at once: where it waits decides,
never how long anything took. The stretch checker also stalls a consumer before each of its round
trips in turn while another consumer claims its entries, as one that was only slow (not
dead) would be. Every run is on a fresh embedded server.
"""
from __future__ import annotations

import dis
import os
import sys
import threading
import time
from typing import Any, Callable

import fakeredis
import redis

from ..connection import fake_server
from . import NotYet, call_within, report, run_at_once

SHORTEST_RECORD = 3600  # s: a redelivery (a crashed consumer's entries claimed) may come minutes later
LONGEST_RECORD = 7 * 86400  # s: a week outlasts any redelivery; longer only fills memory
CALL_TIMEOUT = 5.0  # s a single call may take before the checker gives up on it
WAIT_FOR_SECOND = 2.0  # s at most that a paused worker stays paused while a second one handles the payment
SAMPLE = 0.02  # s between two looks at where the second worker is
STEADY = 5  # looks in a row that must find it at the same instruction: it is waiting there, not passing by


# -- a client whose round trips can fail or pause on purpose ------------------------------------

class _Plan:
    """What a client's round trips do: count, fail the ``crash``-th (before or after it ran), or call ``pause``."""

    def __init__(self, crash: int | None = None, after: bool = False,
                 pause: Callable[[int], None] | None = None) -> None:
        self.crash, self.after, self.pause = crash, after, pause
        self.sent = 0
        self._lock = threading.Lock()

    def before(self) -> int:
        with self._lock:
            self.sent += 1
            n = self.sent
        if self.pause:
            self.pause(n)
        if n == self.crash and not self.after:
            raise redis.ConnectionError(f"the checker cut the connection before round trip {n}")
        return n

    def done(self, n: int) -> None:
        if n == self.crash and self.after:
            raise redis.ConnectionError(f"the checker cut the connection after round trip {n} ran")


def _client(server: fakeredis.FakeServer, plan: _Plan | None = None) -> fakeredis.FakeRedis:
    """A client of ``server``; with a plan, every round trip (a command, a pipeline, a script call) follows it."""
    if plan is None:
        return fakeredis.FakeRedis(server=server, decode_responses=True)

    class Planned(fakeredis.FakeRedisConnection):
        def on_connect_check_health(self, *args: Any, **kwargs: Any) -> Any:
            self._handshake = True  # the connection's own HELLO and SETINFO are not the learner's round trips
            try:
                return super().on_connect_check_health(*args, **kwargs)
            finally:
                self._handshake = False

        def send_packed_command(self, command: Any, check_health: bool = True) -> Any:
            if getattr(self, "_handshake", False):
                return super().send_packed_command(command, check_health)
            n = plan.before()
            result = super().send_packed_command(command, check_health)
            plan.done(n)
            return result

    return fakeredis.FakeRedis(server=server, decode_responses=True, connection_class=Planned)


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, giving up after CALL_TIMEOUT s (a loop that never ends must not hang the notebook)."""
    return call_within(CALL_TIMEOUT, f"one call did not return within {CALL_TIMEOUT:.0f} s: it must return once its "
                       "work is done (without waiting for more)", fn, *args)


def _crashed(fn: Callable[..., Any], *args: Any) -> None:
    """Call ``fn`` on a client that fails on purpose: whatever it raises is the crash."""
    try:
        _call(fn, *args)
    except NotYet:
        raise
    except Exception:  # the injected ConnectionError, or what the learner's code made of it
        pass


def _where(n: int, after: bool) -> str:
    ordinal = {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")
    return (f"right after your {ordinal} Redis round trip ran (its reply never arrived)" if after
            else f"right before your {ordinal} Redis round trip")


_LIBRARIES = tuple(os.path.dirname(module.__file__) + os.sep for module in (fakeredis, redis))
_SYNC = tuple(os.path.join(os.path.dirname(threading.__file__), name) for name in ("threading.py", "queue.py"))
_WAITS = {"acquire"}  # a lock's own blocking call (Event.wait, Queue.get ... run in threading.py, queue.py)


def _called(frame: Any) -> tuple[str, str | None]:
    """The instruction ``frame`` is stopped at, and the name of what it calls there (if it is a call)."""
    instructions = list(dis.get_instructions(frame.f_code))
    here = next((i for i in instructions if i.offset == frame.f_lasti), None)
    if here is None:
        return "", None
    names = [i.argval for i in instructions if i.offset < here.offset and i.opname in
             ("LOAD_METHOD", "LOAD_ATTR", "LOAD_GLOBAL", "LOAD_NAME", "LOAD_FAST", "LOAD_DEREF")]
    calls = ("CALL", "PRECALL")  # 3.11 runs a specialised call at its PRECALL
    return here.opname, (names[-1] if names and here.opname in calls else None)


def _blocked_in_python(thread: threading.Thread) -> tuple[int, int] | None:
    """Where ``thread`` is blocked on a lock, event or queue of this Python process (its frame and instruction,
    so that a caller can see it stay there), read off its stack; None if it is not (running, in the client, or
    sleeping). A thread that only passes through an uncontended lock is never seen there: it does not let go of
    the interpreter while it takes one."""
    frame = sys._current_frames().get(thread.ident)
    synchronising = False
    while frame is not None and frame.f_code.co_filename.startswith(_SYNC):
        synchronising, frame = True, frame.f_back  # Event.wait, Condition.wait, Queue.get ...: whose call?
    if frame is None or frame.f_code.co_filename.startswith(_LIBRARIES) or frame.f_code.co_filename == __file__:
        return None  # a blocking command, or redis-py's own lock: a wait on Redis, which other machines share
    opname, name = _called(frame)
    if synchronising or opname == "BEFORE_WITH" or name in _WAITS:  # BEFORE_WITH: a C lock's __enter__
        return id(frame), frame.f_lasti
    return None

def _round_trips(call: Callable[[fakeredis.FakeRedis], Any],
                 setup: Callable[[fakeredis.FakeServer], Any] | None = None) -> int:
    """How many round trips ``call`` sends on a fresh server (after ``setup``): the points a crash can fall between."""
    server, plan = fake_server(), _Plan()
    if setup:
        setup(server)
    call(_client(server, plan))
    return plan.sent


def _check_records(r: fakeredis.FakeRedis, business: Callable[[str], bool], since: float) -> None:
    """Every key that is not business data (a balance, a stream) must expire, in an hour to a week.

    ``since`` is when (time.monotonic()) the first record was written: a record of exactly an hour has lost
    the seconds since then, however slow the calls were."""
    grace = int(time.monotonic() - since) + 1
    for name in sorted(r.scan_iter("*")):
        if business(name):
            if r.ttl(name) >= 0:
                raise NotYet(f"{name!r} has a TTL: what it holds must not vanish when the TTL runs out")
            continue
        ttl = r.ttl(name)
        if ttl < 0:
            raise NotYet(f"{name!r} has no TTL: the record of what was handled would grow forever")
        if ttl + grace < SHORTEST_RECORD:
            raise NotYet(f"{name!r} expires in {ttl} s: a redelivery after a crash can come later than that "
                         "(keep it at least an hour)")
        if ttl > LONGEST_RECORD:
            raise NotYet(f"{name!r} lives {ttl} s; a week outlasts any redelivery (keep it at most a week)")


# -- the exercise: credit a payment exactly once ----------------------------------------------

Message = dict


def _balance(r: fakeredis.FakeRedis, account: str) -> int:
    value = r.get(f"balance:{account}")
    return 0 if value is None else int(float(value))


def _times(got: int, amount: int) -> str:
    return f"{got // amount} times" if got % amount == 0 else f"{got} instead of {amount}"


def _tick() -> None:
    """Return once the clock has moved on by a millisecond, so that an expiry set from now on is a later one."""
    start = time.time_ns() // 1_000_000
    while time.time_ns() // 1_000_000 <= start:
        time.sleep(0.0005)


def _first_checks(fn: Callable[[Any, Message], Any]) -> None:
    r = _client(fake_server())
    payment = {"id": "pay-1001", "account": "ada", "amount": 2500}
    since = time.monotonic()
    first = _call(fn, r, dict(payment))
    if _balance(r, "ada") == 0:
        raise NotYet("after the first delivery, balance:ada is still 0: the payment must be credited (on the "
                     "client your function is given, r)")
    if _balance(r, "ada") != 2500:
        raise NotYet(f"a payment of 2500 left balance:ada at {_balance(r, 'ada')}")
    second = _call(fn, r, dict(payment))
    if _balance(r, "ada") != 2500:
        raise NotYet(f"the same payment delivered twice was credited {_times(_balance(r, 'ada'), 2500)}; a "
                     "redelivery must change nothing")
    if (first, second) != (True, False):
        raise NotYet(f"it returned {first!r} then {second!r}; return True when this delivery credited the payment, "
                     "False when it was a repeat")
    expiring = {name: r.pexpiretime(name) for name in r.scan_iter("*") if not name.startswith("balance:")}
    _tick()
    _call(fn, r, {"id": "pay-1002", "account": "ada", "amount": 1000})
    for name, when in expiring.items():
        if when > 0 and r.pexpiretime(name) > when:
            raise NotYet(f"{name!r} holds the record of pay-1001, and crediting pay-1002 pushed its expiry back: "
                         "while payments keep coming it never expires, and it grows forever")
    _call(fn, r, {"id": "pay-1003", "account": "bob", "amount": 700})
    if (_balance(r, "ada"), _balance(r, "bob")) != (3500, 700):
        raise NotYet("a different payment was skipped as if it were a repeat: only the same payment id is a "
                     f"repeat (ada has {_balance(r, 'ada')}, expected 3500; bob has {_balance(r, 'bob')}, "
                     "expected 700)")
    if not [name for name in r.scan_iter("*") if not name.startswith("balance:")]:
        raise NotYet("nothing but the balances is in Redis: a restarted worker, or a second one, could not "
                     "tell that a payment was already credited")
    _check_records(r, lambda name: name.startswith("balance:"), since)


def _crash_checks(fn: Callable[[Any, Message], Any]) -> None:
    payment = {"id": "pay-2001", "account": "cy", "amount": 4000}
    points = _round_trips(lambda client: _call(fn, client, dict(payment)))
    for n in range(1, points + 1):
        for after in (False, True):
            server = fake_server()
            _crashed(fn, _client(server, _Plan(crash=n, after=after)), dict(payment))
            healthy = _client(server)
            _call(fn, healthy, dict(payment))  # the redelivery
            _call(fn, healthy, dict(payment))  # and one more, for good measure
            got = _balance(healthy, "cy")
            if got == 0:
                raise NotYet(f"the worker crashed {_where(n, after)}; after the redelivery the payment was never "
                             "credited: it had been recorded as handled before it was (at most once)")
            if got != payment["amount"]:
                raise NotYet(f"the worker crashed {_where(n, after)}; after the redelivery the payment was credited "
                             f"{_times(got, payment['amount'])}: the credit was made, but not the record of it")


def _interleaving_checks(fn: Callable[[Any, Message], Any]) -> None:
    payment = {"id": "pay-3001", "account": "dee", "amount": 900}
    points = _round_trips(lambda client: _call(fn, client, dict(payment)))
    for k in range(1, points + 1):
        server = fake_server()
        second_plan = _Plan()
        second: dict[str, Any] = {}
        verdict: list[str] = []

        def run_second() -> None:
            try:
                second["value"] = fn(_client(server, second_plan), dict(payment))
            except BaseException as error:
                second["error"] = error

        thread = threading.Thread(target=run_second, daemon=True)

        def pause(n: int, k: int = k) -> None:
            if n != k or thread.ident is not None:
                return
            thread.start()  # a second worker gets the same payment while this one is between two round trips
            if _hold(thread) == "python":
                verdict.append("a second worker waited for the first one inside this Python process; workers on "
                               "other machines (or in other processes) would not wait")

        first = _call(fn, _client(server, _Plan(pause=pause)), dict(payment))
        if thread.ident is None:  # this run sent fewer round trips (a script already loaded, say): no point k
            continue
        thread.join(CALL_TIMEOUT)
        if verdict:
            raise NotYet(verdict[0])
        if thread.is_alive():
            raise NotYet(f"a second worker did not return within {CALL_TIMEOUT:.0f} s")
        if "error" in second:
            raise second["error"]
        got = _balance(_client(server), "dee")
        if got != payment["amount"]:
            moment = f"between its Redis round trips {k - 1} and {k}" if k > 1 else "before its first Redis round trip"
            raise NotYet(f"two workers got the same payment at once: one was {moment} when the other handled it, and "
                         f"it was credited {_times(got, payment['amount'])}: checking for a repeat and crediting must "
                         "be one step no other worker can get into")
        if sorted([first, second.get("value")], key=str) != [False, True]:
            raise NotYet(f"two workers got the same payment; they returned {first!r} and {second.get('value')!r}, "
                         "but exactly one of them credited it")


def _hold(second: threading.Thread) -> str | None:
    """Keep the first worker stalled (as a long GC pause would) until the second one has finished, or for
    WAIT_FOR_SECOND at most; "python" as soon as the second is seen blocked on something of this process (a lock,
    an event, a queue), which a worker on another machine would not share. The verdict comes from where the second
    is seen waiting, never from how long it took: a slow machine changes only how many looks that takes. A
    second worker that waits on Redis (a lock held there, say) waits out the stall, so a lock whose lease is
    shorter than the stall lets it in."""
    deadline = time.monotonic() + WAIT_FOR_SECOND
    seen, looks = None, 0
    while second.is_alive() and time.monotonic() < deadline:
        where = _blocked_in_python(second)
        looks = looks + 1 if where is not None and where == seen else 1
        seen = where
        if where is not None and looks >= STEADY:
            return "python"
        second.join(SAMPLE)
    return None

def _crowd_check(fn: Callable[[Any, Message], Any]) -> None:
    server = fake_server()
    r = _client(server)
    payment = {"id": "pay-4001", "account": "eve", "amount": 300}
    returned: list[Any] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            returned.append(fn(r, dict(payment)))
        except Exception as error:
            errors.append(error)

    run_at_once(10, deliver, timeout=CALL_TIMEOUT)
    if errors:
        raise errors[0]
    got = _balance(r, "eve")
    if got != payment["amount"]:
        raise NotYet(f"10 workers got the same payment at the same moment and it was credited "
                     f"{_times(got, payment['amount'])}")
    if returned.count(True) != 1:
        raise NotYet(f"10 workers got the same payment at once; {returned.count(True)} of them returned True, "
                     "but exactly one credited it")


def _check_body(fn: Callable[[Any, Message], Any]) -> str:
    _first_checks(fn)
    _crash_checks(fn)
    _interleaving_checks(fn)
    _crowd_check(fn)
    return ("each payment credited exactly once: across redeliveries, a crash before or after any round trip, "
            "and 10 workers at once, with an expiring record")


def check(fn: Callable[[Any, Message], Any]) -> None:
    """Check ``fn(r, message)`` and print one line: what is wrong first, or that it passes."""
    report(lambda: _check_body(fn), "pubsub")


# -- the stretch: a stream consumer that survives a crash ---------------------------------------

STREAM, GROUP, CONSUMER, OTHER = "reservations", "pickers", "picker-1", "picker-2"
ORDERS = [("A1", 2), ("B7", 1), ("A1", 3), ("C3", 5), ("B7", 4), ("A1", 1)]


def _fill(r: fakeredis.FakeRedis, orders: list[tuple[str, int]]) -> list[str]:
    return [r.xadd(STREAM, {"sku": sku, "qty": str(qty)}) for sku, qty in orders]


def _new_stream(server: fakeredis.FakeServer) -> fakeredis.FakeRedis:
    r = _client(server)
    _fill(r, ORDERS)
    r.xgroup_create(STREAM, GROUP, id="0")
    return r


def _expected(orders: list[tuple[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for sku, qty in orders:
        totals[sku] = totals.get(sku, 0) + qty
    return totals


def _reserved(r: fakeredis.FakeRedis, skus: list[str]) -> dict[str, int]:
    return {sku: int(r.get(f"reserved:{sku}") or 0) for sku in skus}


def _verify(r: fakeredis.FakeRedis, orders: list[tuple[str, int]], what: str) -> None:
    expected = _expected(orders)
    got = _reserved(r, list(expected))
    wrong = [sku for sku in expected if got[sku] != expected[sku]]
    if wrong:
        sku = wrong[0]
        verb = "missing" if got[sku] < expected[sku] else "applied more than once"
        raise NotYet(f"{what}, reserved:{sku} is {got[sku]}, expected {expected[sku]}: an entry's effect was "
                     f"{verb}")
    pending = r.xpending(STREAM, GROUP)["pending"]
    if pending:
        raise NotYet(f"{what}, {pending} entries are still pending (given to a consumer, never acknowledged)")
    group = next(g for g in r.xinfo_groups(STREAM) if g["name"] == GROUP)
    if group["last-delivered-id"] != r.xrevrange(STREAM, count=1)[0][0]:
        raise NotYet(f"{what}, the group {GROUP!r} never handed out some of the entries: they were not read through it")


def _stretch_body(fn: Callable[[Any, str, str, str], Any]) -> str:
    server = fake_server()
    r = _new_stream(server)
    since = time.monotonic()
    _call(fn, r, STREAM, GROUP, CONSUMER)
    _verify(r, ORDERS, "after one run")
    _call(fn, r, STREAM, GROUP, CONSUMER)
    _verify(r, ORDERS, "after a second run with nothing new")
    more = [("C3", 2), ("A1", 4)]
    _fill(r, more)
    _call(fn, r, STREAM, GROUP, CONSUMER)
    _verify(r, ORDERS + more, "after two more entries arrived and it ran again")
    _check_records(r, lambda name: name == STREAM or name.startswith("reserved:"), since)

    points = _round_trips(lambda client: _call(fn, client, STREAM, GROUP, CONSUMER), setup=_new_stream)
    for n in range(1, points + 1):
        for after in (False, True):
            server = fake_server()
            _new_stream(server)
            _crashed(fn, _client(server, _Plan(crash=n, after=after)), STREAM, GROUP, CONSUMER)
            restarted = _client(server)
            _call(fn, restarted, STREAM, GROUP, CONSUMER)  # the consumer restarts, with the same name
            _verify(restarted, ORDERS, f"the consumer crashed {_where(n, after)} and restarted; then")

    _paused_consumer_check(fn, points)
    return ("every entry's effect happened exactly once and every entry was acknowledged: across a crash at any "
            "round trip, a restart, and a paused consumer whose entries were claimed")


def _paused_consumer_check(fn: Callable[[Any, str, str, str], Any], points: int) -> None:
    """Stall picker-1 before each of its round trips in turn (where it holds entries), let picker-2 claim them."""
    for k in range(1, points + 1):
        server = fake_server()
        admin = _new_stream(server)
        done: list[bool] = []

        def pause(n: int, k: int = k) -> None:
            if n != k or done or not admin.xpending(STREAM, GROUP)["pending"]:
                return
            done.append(True)  # picker-1 holds entries and stalls (a long pause, not a crash) ...
            taken = admin.xautoclaim(STREAM, GROUP, OTHER, min_idle_time=0, count=100, justid=True)
            if taken:  # ... picker-2 claims what it holds and runs
                _call(fn, _client(server), STREAM, GROUP, OTHER)

        _call(fn, _client(server, _Plan(pause=pause)), STREAM, GROUP, CONSUMER)
        if done:
            _verify(admin, ORDERS, f"picker-1 stalled while it held entries ({_where(k, False)}), picker-2 "
                                   "claimed and handled them, and picker-1 then woke up; after that")


def check_stretch(fn: Callable[[Any, str, str, str], Any]) -> None:
    """Check ``fn(r, stream, group, consumer)`` and print one line: what is wrong first, or that it passes."""
    report(lambda: _stretch_body(fn), "pubsub-stretch")
