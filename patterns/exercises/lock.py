"""Exercise of notebook 06: a counting semaphore, a lock that up to ``limit`` clients hold at once.

    def acquire(r, name, limit, lease_ms):   # a token when you got a slot, None when all are taken
        ...
    def release(r, name, token):             # True when your slot was given back, else False
        ...
    check(acquire, release)

The chapter's ideas, somewhere new: each holder has a random token and a lease that
ends by itself, only a holder's own token gives its slot back (and a token whose lease ran out hears
that it held none), and the check (is a slot free?) and the act (take it) are one atomic
step. Another client's acquire is slipped in before each round trip of an acquire and of a
release, so a race is found every time, not by luck.

How the checker controls time without a fake clock: a lease that must still count is
30 s long (the check takes well under a second), and one that must have run out is
50 ms long and the checker waits until those 50 ms have passed on every clock (the
embedded server reads the machine's clock, as a learner's code would). No verdict
depends on how fast the machine is.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import fakeredis

from ..connection import fake_server
from . import NotYet, first_key_without_bounded_ttl, report, run_at_once

LONG = 30_000  # ms: a lease that cannot run out while the checker runs
SHORT = 50  # ms: a lease the checker waits out
THREADS = 20

Acquire = Callable[[Any, str, int, int], Any]
Release = Callable[[Any, str, Any], Any]


class _Interleaver:
    """Runs ``action`` just before the ``at``-th round trip a client sends, in the thread that armed it.

    This is how the checker puts a second client's acquire *between* two steps of the
    first one, at each point in turn: a race that threads hit only by luck is hit every time.
    """

    def __init__(self) -> None:
        self.at = 0
        self.sent = 0
        self.action: Callable[[], None] | None = None
        self.owner: int | None = None
        self.inside = False

    def arm(self, at: int, action: Callable[[], None]) -> None:
        self.at, self.sent, self.action, self.owner = at, 0, action, threading.get_ident()

    def disarm(self) -> None:
        self.action = self.owner = None

    def before_send(self) -> None:
        if self.action is None or self.inside or threading.get_ident() != self.owner:
            return
        self.sent += 1
        if self.sent == self.at:
            self.inside = True
            try:
                self.action()
            finally:
                self.inside = False


def _clients() -> tuple[Any, Any, _Interleaver]:
    """Two clients of one new embedded server; the first can have another call slipped between its round trips."""
    server = fake_server()
    hook = _Interleaver()

    class Interleaved(fakeredis.FakeRedisConnection):
        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            if not getattr(self, "_trace_handshake", False):
                hook.before_send()
            super().send_packed_command(command, check_health)

    first = fakeredis.FakeRedis(server=server, decode_responses=True, connection_class=Interleaved)
    second = fakeredis.FakeRedis(server=server, decode_responses=True)
    return first, second, hook


def _wait_out(ms: int, since: tuple[float, float]) -> None:
    """Return once ``ms`` have passed since ``since`` on both the wall clock and the monotonic clock."""
    wall, mono = since
    while time.time() - wall < ms / 1000 + 0.002 or time.monotonic() - mono < ms / 1000 + 0.002:
        time.sleep(0.005)


def _now() -> tuple[float, float]:
    return time.time(), time.monotonic()


def _token(got: Any, what: str) -> Any:
    if got is None:
        raise NotYet(f"{what} got None, though a slot was free")
    if isinstance(got, bool) or not isinstance(got, (str, bytes)) or not got:
        raise NotYet(f"{what} returned {got!r}; return the holder's token (a string), or None when no slot is free")
    return got


def _varying(a: Any, b: Any) -> int:
    """How many characters differ between two tokens, after what they start and end with in common."""
    a, b = str(a), str(b)
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    return min(len(a), len(b)) - start - end


def _guessable(tokens: list[Any]) -> None:
    """Tokens handed out one after the other must not share almost everything (a clock, a counter)."""
    short = [t for t in tokens if len(t) < 16 or str(t).isdigit()]
    if short:
        raise NotYet(f"a token like {short[0]!r} can be guessed, and whoever guesses it can give your slot away; "
                     "make each token long and random")
    for before, after in zip(tokens, tokens[1:]):
        if _varying(before, after) < 12:
            raise NotYet(f"two tokens handed out one after the other, {before!r} and {after!r}, differ in only "
                         f"{_varying(before, after)} characters: the next one can be guessed (and two clients on "
                         "two machines can get the same one); make each token long and random")


def _refused(got: Any, what: str) -> None:
    if got is not None:
        raise NotYet(what)


def _released(got: Any, expected: bool, what: str, why: str) -> None:
    if not isinstance(got, bool):
        raise NotYet(f"release returned {got!r} {what}; return True or False")
    if got is not expected:
        raise NotYet(f"release returned {got} {what}: {why}")


def _check_ttls(r: Any) -> None:
    found = first_key_without_bounded_ttl(r, LONG // 1000 + 1)
    if found:
        name, ttl = found
        if ttl < 0:
            raise NotYet(f"key {name!r} never expires: when every holder is gone (crashed, not released), "
                         "it stays in Redis forever")
        raise NotYet(f"key {name!r} lives {ttl} s, longer than the longest lease in it ({LONG // 1000} s)")


def _no_jumping(acquire: Acquire) -> None:
    """A full semaphore refuses a newcomer whatever its lease: a shorter one does not push a holder out."""
    r, _, _ = _clients()
    for n in (1, 2):
        _token(acquire(r, "queue", 2, LONG), f"acquire number {n} on a semaphore of 2")
    _refused(acquire(r, "queue", 2, LONG // 3),
             f"a client asking for a shorter lease ({LONG // 3000} s) got a slot on a semaphore of 2 that two "
             f"{LONG // 1000} s holders already filled: whatever its lease, a newcomer must not push a holder out")


def _numbers_in(r: Any) -> list[float]:
    """Every number stored in the key space: sorted-set scores and members, hash values, strings, list items."""
    found: list[Any] = []
    for name in r.scan_iter("*"):
        kind = r.type(name)
        if kind == "zset":
            for member, score in r.zrange(name, 0, -1, withscores=True):
                found += [member, score]
        elif kind == "hash":
            found += list(r.hgetall(name).values())
        elif kind == "string":
            found.append(r.get(name))
        elif kind == "list":
            found += r.lrange(name, 0, -1)
        elif kind == "set":
            found += list(r.smembers(name))
    numbers = []
    for value in found:
        try:
            numbers.append(float(value))
        except (TypeError, ValueError):
            pass
    return numbers


def _shared_clock(acquire: Acquire) -> None:
    """A lease's end must be a time every machine reads alike, not this process's monotonic clock."""
    r, _, _ = _clients()
    _token(acquire(r, "clock", 1, LONG), "an acquire on an empty semaphore")
    since_boot = time.monotonic()
    for number in _numbers_in(r):
        if abs(number - (since_boot * 1000 + LONG)) < 5_000 or abs(number - (since_boot + LONG / 1000)) < 5:
            raise NotYet(f"a lease's end was stored as {number:.0f}, a reading of a clock that counts from when this "
                         "machine started: another machine's reading of its own such clock means nothing beside it; "
                         "use a clock that every client reads alike")


def _basics(acquire: Acquire, release: Release) -> None:
    r, _, _ = _clients()
    tokens = [_token(acquire(r, "jobs", 3, LONG), f"acquire number {n} on a semaphore of 3") for n in (1, 2, 3)]
    if len(set(tokens)) < 3:
        raise NotYet(f"three holders got the tokens {tokens!r}: each holder needs a token of its own")
    _guessable(tokens)
    _refused(acquire(r, "jobs", 3, LONG), "a 4th client got a slot on a semaphore with a limit of 3")
    _token(acquire(r, "other", 3, LONG), "acquire on a second semaphore (while the first was full)")
    _check_ttls(r)
    _released(release(r, "jobs", "nobody-holds-this-token-0000"), False, "for a token nobody holds",
              "only a holder's own token may give a slot back")
    _refused(acquire(r, "jobs", 3, LONG),
             "releasing with a token nobody holds gave a slot away: only the holder's own token may free its slot")
    _released(release(r, "jobs", tokens[0]), True, "for a holder's own token",
              "the holder gave its slot back and should hear that it did")
    _token(acquire(r, "jobs", 3, LONG), "acquire after a holder released its slot")
    _refused(acquire(r, "jobs", 3, LONG), "after one release, two new clients got the one freed slot")
    _released(release(r, "jobs", tokens[0]), False, "for a token that was already released",
              "that token holds no slot any more")
    _check_ttls(r)


def _leases(acquire: Acquire, release: Release) -> None:
    # A short lease then a long one: the short one must stop counting when it runs out.
    r, _, _ = _clients()
    _token(acquire(r, "jobs", 2, SHORT), f"the first acquire (a {SHORT} ms lease)")
    since = _now()
    _token(acquire(r, "jobs", 2, LONG), "the second acquire on a semaphore of 2")
    # (No "a 3rd client is refused" here: on a stalled machine the short lease may already be over.)
    _wait_out(SHORT, since)
    if acquire(r, "jobs", 2, LONG) is None:
        raise NotYet(f"a holder whose {SHORT} ms lease ran out still takes a slot: a crashed holder never "
                     "releases, so a lease that is over must stop counting by itself")
    _refused(acquire(r, "jobs", 2, LONG), f"after one {SHORT} ms lease ran out, two clients got its one slot")
    _check_ttls(r)
    # A long lease then a short one: when the short one ends, the long one must still count.
    r, _, _ = _clients()
    _token(acquire(r, "jobs", 2, LONG), "the first acquire on a semaphore of 2")
    _token(acquire(r, "jobs", 2, SHORT), f"the second acquire (a {SHORT} ms lease)")
    since = _now()
    _wait_out(SHORT, since)
    _token(acquire(r, "jobs", 2, LONG), f"acquire after a {SHORT} ms lease ran out")
    _refused(acquire(r, "jobs", 2, LONG),
             f"a holder with {LONG // 1000} s of lease left was forgotten when a later {SHORT} ms lease ran out "
             "(a 3rd client got a slot on a semaphore of 2): the key must live as long as the longest lease in it")
    _check_ttls(r)
    # A late holder gives back a lease that ran out, before anyone else came by: it must hear so.
    r, _, _ = _clients()
    _token(acquire(r, "jobs", 2, LONG), "the first acquire on a semaphore of 2")
    lapsed = _token(acquire(r, "jobs", 2, SHORT), f"the second acquire (a {SHORT} ms lease)")
    _wait_out(SHORT, _now())  # from when the acquire came back: its lease began before that
    _released(release(r, "jobs", lapsed), False, "for a token whose lease had run out",
              "that holder no longer held a slot (another client may have had it meanwhile), and should hear so")


def _short_counts(acquire: Acquire) -> None:
    """A short lease must count until it ends: a 2nd client is refused while it runs (a stalled try is retried)."""
    for _ in range(5):
        r, _, _ = _clients()
        since = _now()
        _token(acquire(r, "jobs", 1, SHORT), f"the first acquire (a {SHORT} ms lease)")
        got = acquire(r, "jobs", 1, LONG)
        wall, mono = since
        if time.time() - wall < SHORT / 1000 and time.monotonic() - mono < SHORT / 1000:
            _refused(got, f"a 2nd client got a slot on a semaphore of 1 while a {SHORT} ms lease was still "
                          "running: a lease must count until it ends, however short it is")
            return
        # the machine stalled past the short lease: this try says nothing; try again


def _release_atomic(acquire: Acquire, release: Release) -> None:
    """Another client's acquire runs before each round trip of a release, in turn; only the released slot goes."""
    at = 1
    while at <= 50:
        r, other, hook = _clients()
        first = _token(acquire(r, "jobs", 3, LONG), "the first acquire on a semaphore of 3")
        mine = _token(acquire(r, "jobs", 3, LONG), "the second acquire on a semaphore of 3")
        theirs: list[Any] = []
        hook.arm(at, lambda: theirs.append(acquire(other, "jobs", 3, LONG // 2)))
        try:
            _released(release(r, "jobs", mine), True, "for a holder's own token",
                      "the holder gave its slot back and should hear that it did")
        finally:
            hook.disarm()
        if not theirs:  # this release sent fewer round trips than ``at``: every point was tried
            return
        newcomer = _token(theirs[0], "an acquire on a semaphore of 3 with one holder left")
        if release(r, "jobs", first) is not True or release(r, "jobs", newcomer) is not True:
            raise NotYet(f"another client's acquire ran between round trips {at - 1} and {at} of a release, and "
                         "the release gave back another holder's slot instead of (or as well as) its own")
        at += 1


def _atomic(acquire: Acquire) -> None:
    """One slot left; another client's acquire runs before each round trip of this acquire, in turn."""
    at = 1
    while True:
        r, other, hook = _clients()
        _token(acquire(r, "jobs", 2, LONG), "the first acquire on a semaphore of 2")
        theirs: list[Any] = []
        hook.arm(at, lambda: theirs.append(acquire(other, "jobs", 2, LONG)))
        try:
            mine = acquire(r, "jobs", 2, LONG)
        finally:
            hook.disarm()
        if not theirs:  # this acquire sent fewer round trips than ``at``: every point was tried
            return
        if mine is not None and theirs[0] is not None:
            raise NotYet(
                f"two clients took the last slot: another client's acquire ran between round trips {at - 1} and "
                f"{at} of yours, and both got a token; between a check and the act that relies on it, anyone "
                "may act (make the check and the add one atomic step)"
            )
        at += 1
        if at > 50:
            return


def _crowd(acquire: Acquire) -> None:
    r, _, _ = _clients()
    got: list[Any] = []
    lock = threading.Lock()

    def one() -> None:
        token = acquire(r, "crowd", 3, LONG)
        with lock:
            got.append(token)

    run_at_once(THREADS, one)
    holders = [t for t in got if t is not None]
    if len(got) < THREADS:
        raise NotYet(f"only {len(got)} of {THREADS} clients calling acquire at once came back within 30 s")
    if len(holders) > 3:
        raise NotYet(f"{len(holders)} of {THREADS} clients calling acquire at once hold a semaphore of 3")
    if len(holders) < 3:
        raise NotYet(f"only {len(holders)} of {THREADS} clients calling acquire at once got one of the 3 free slots")
    if len(set(holders)) < 3:
        raise NotYet(f"{THREADS} clients at once got the tokens {holders!r}: each holder needs a token of its own")
    _check_ttls(r)


def _check_body(acquire: Acquire, release: Release) -> str:
    _basics(acquire, release)
    _no_jumping(acquire)
    _shared_clock(acquire)
    _release_atomic(acquire, release)
    _leases(acquire, release)
    _short_counts(acquire)
    _atomic(acquire)
    _crowd(acquire)
    return (f"a semaphore: never more than the limit ({THREADS} clients at once), a lapsed lease frees its slot, "
            "only the holder's token releases it, and every key expires")


def check(acquire: Acquire, release: Release | None = None) -> None:
    """Check ``acquire(r, name, limit, lease_ms)`` and ``release(r, name, token)``; print one line.

    The two may also come as one object with ``acquire`` and ``release`` attributes (a class or
    a module), which is how the trainers' solutions notebook passes them.
    """
    if release is None and callable(getattr(acquire, "release", None)):
        acquire, release = acquire.acquire, acquire.release
    def body() -> str:
        if release is None:
            raise NotYet("pass both functions to check: first acquire, then release")
        return _check_body(acquire, release)

    report(body, "lock")
