"""Distributed locking: a lease with an owner, released only by its owner, with fencing tokens.

``with_lock`` is the seed's withLock: ``SET NX PX`` with a 128-bit random token, and a
release that deletes the lock only if it still holds that token (one script). ``Lock``
adds blocking acquisition with exponential backoff and jitter, ``extend()``, a clear
``LockLost`` when the lease ran out under you, and a fencing token for the protected
resource to check. ``Redlock`` takes a lock on a majority of independent servers.

A lease-based lock cannot stop a holder that pauses longer than its lease (GC, swap, a
stopped VM) from acting after someone else took over. Fencing tokens are what makes that
safe: the resource refuses any write that carries an older token than it has seen.
"""
from __future__ import annotations

import inspect
import logging
import random
import secrets
import time
from typing import Any, Callable, Iterator, Sequence, TypeVar

from . import keys, validate
from .connection import UNAVAILABLE_ERRORS, check_kind, with_timeout
from .errors import LockLost, LockNotAcquired, LockUnavailable, ReplyLost
from .scripts import load_script

log = logging.getLogger(__name__)
T = TypeVar("T")

_ACQUIRE = load_script("lock_acquire")
_EXTEND = load_script("lock_extend")
_RELEASE = load_script("compare_and_delete")
# How long the fencing counter lives: it outlives any lease by far. lock_acquire.lua holds the same
# number as a constant (one argument fewer on every acquisition); a test checks the counter's TTL.
FENCE_TTL_MS = 30 * 86400 * 1000


def _check_name(r: Any, name: str) -> list[str]:
    return [keys.key(r, "lock", name), keys.key(r, "lock", name, "fence")]


# The durations a Lock takes are checked on every construction, and with_lock makes a Lock per call,
# as a web handler does. The usual value (a plain int or float in range) is decided by two
# comparisons; anything else (a bool, a str, NaN, an int subclass, out of range) goes through the
# full check in validate, which refuses it with its message, or accepts it exactly as before.
_SHORTEST = validate.MILLISECOND
_LONGEST = validate.MAX_SECONDS


def _seconds(value: Any, name: str) -> float:
    """``validate.seconds(value, name)``, quickly for the values it accepts."""
    if (type(value) is float or type(value) is int) and _SHORTEST <= value <= _LONGEST:
        return float(value)
    return validate.seconds(value, name)


def _check_lease(ttl: Any) -> float:
    return _seconds(ttl, "ttl")


def _check_wait(timeout: Any) -> float:
    # Finite: a lock wait is always bounded (0 means "try once").
    if (type(timeout) is float or type(timeout) is int) and (timeout == 0 or _SHORTEST <= timeout <= _LONGEST):
        return float(timeout)
    return validate.seconds(timeout, "timeout", zero=True)


class LockBase:
    """What a lock decides around its script calls, for Lock and for patterns.aio's (which awaits them).

    A lease on ``name``: at most one holder at a time, for at most ``ttl`` seconds.

    timeout     seconds to wait for the lock in acquire() / ``with``; 0: try once
    backoff     first wait between attempts (doubles up to ``max_backoff``, with full jitter,
                so many waiters do not poll in lockstep)
    """

    def __init__(self, r: Any, name: str, ttl: float = 10.0, timeout: float = 10.0, *,
                 backoff: float = 0.01, max_backoff: float = 0.5) -> None:
        self._check_client(r)
        self.r = r
        self.name = name
        self.key, self.fence_key = _check_name(r, name)
        self.ttl = _check_lease(ttl)
        self.timeout = _check_wait(timeout)
        self.backoff = _seconds(backoff, "backoff")
        self.max_backoff = _seconds(max_backoff, "max_backoff")
        if self.max_backoff < self.backoff:
            raise ValueError(f"max_backoff ({max_backoff} s) must be at least backoff ({backoff} s)")
        self.token: str | None = None
        self.fencing_token: int | None = None
        self.attempts = 0  # tries the last acquire() needed

    # What acquire, release and extend decide around their one script call: here once, for Lock
    # and for patterns.aio's, which only awaits the calls.

    def _start(self, timeout: float | None) -> tuple[str, Iterator[float]]:
        """A new token (128 random bits: nobody else has it) and the pause before each try."""
        timeout = self.timeout if timeout is None else _check_wait(timeout)
        self.attempts = 0
        return secrets.token_hex(16), self._pauses(time.monotonic() + timeout)

    def _pauses(self, deadline: float) -> Iterator[float]:
        """0 before the first try, then full-jitter waits that double up to max_backoff, until ``deadline``."""
        delay = self.backoff
        yield 0.0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            yield min(remaining, random.uniform(0, delay))
            delay = min(delay * 2, self.max_backoff)

    def _acquire_call(self, token: str) -> tuple[list[str], list[Any]]:
        return [self.key, self.fence_key], [token, int(self.ttl * 1000)]

    def _unavailable(self, error: Exception) -> LockUnavailable:
        if isinstance(error, ReplyLost):
            return LockUnavailable(
                f"lost Redis's answer while taking lock {self.name!r} ({error}): it may have been granted, "
                f"and if so it ends by itself within {self.ttl:g} s; this Lock does not hold it")
        return LockUnavailable(f"cannot reach Redis to take lock {self.name!r} ({error}); the lock was not granted")

    def _granted(self, token: str, fence: Any) -> bool:
        if fence is None:
            return False
        self.token, self.fencing_token = token, int(fence)
        return True

    def _giving_back(self) -> str:
        token, self.token = self.token, None
        if token is None:
            raise LockLost(f"lock {self.name!r} is not held by this Lock (never acquired, or already released)")
        return token

    def _expired(self) -> LockLost:
        return LockLost(
            f"lock {self.name!r} expired before release (lease {self.ttl:g} s): another client may have held it "
            "meanwhile; use a longer ttl, extend() while working, and fencing tokens at the resource")

    def _extension(self, ttl: float | None) -> int:
        ttl = self.ttl if ttl is None else _check_lease(ttl)
        if self.token is None:
            raise self._not_extended()
        return int(ttl * 1000)

    def _not_extended(self) -> LockLost:
        return LockLost(f"cannot extend lock {self.name!r}: its lease has run out or it was never held")

    def _check_client(self, r: Any) -> None:
        check_kind(r, asyncio=False, twin="patterns.aio.Lock (with `async with`)")

    def _release_problem(self, error: Exception, *, failed: bool) -> None:
        """What a release at the end of the protected work does with ``error``.

        A lease that ran out is reported (LockLost), unless the work itself raised: then
        the work's exception is what the caller must see, and the lost lease is logged
        beside it instead of hiding it (redis-py #3532).
        """
        if isinstance(error, LockLost):
            if not failed:
                raise error
            log.warning("%s (while the protected code was raising its own error)", error)
            return
        # The work is done (or failed on its own); whether the release reached Redis is unknown.
        # Either way the lease ends by itself within ttl: say so, and do not hide the outcome.
        log.warning("lock %r: could not confirm its release (%s); if it is still held, its lease ends "
                    "within %g s", self.name, error, self.ttl)


class Lock(LockBase):
    """A lease on ``name`` for a synchronous client: ``with Lock(r, name):`` or acquire() and release()."""

    def acquire(self, timeout: float | None = None) -> bool:
        """Take the lock, waiting up to ``timeout`` seconds; True when held."""
        token, pauses = self._start(timeout)
        for pause in pauses:
            if pause:
                time.sleep(pause)
            self.attempts += 1
            try:
                fence = _ACQUIRE(self.r, *self._acquire_call(token))
            except UNAVAILABLE_ERRORS as error:
                raise self._unavailable(error) from None
            if self._granted(token, fence):
                return True
        return False

    def release(self) -> None:
        """Give the lock back. Raises LockLost if the lease had already run out."""
        token = self._giving_back()
        if not _RELEASE(self.r, [self.key], [token]):
            raise self._expired()

    def extend(self, ttl: float | None = None) -> None:
        """Renew the lease to ``ttl`` seconds from now (default: the original ttl); only while held."""
        ttl_ms = self._extension(ttl)
        if not _EXTEND(self.r, [self.key], [self.token, ttl_ms]):
            raise self._not_extended()

    def locked(self) -> bool:
        """Does anyone hold the lock right now?"""
        return bool(self.r.exists(self.key))

    def owned(self) -> bool:
        """Does this Lock hold it right now (its lease has not run out)?"""
        held = self.r.get(self.key)
        if isinstance(held, bytes):  # a client without decode_responses
            held = held.decode()
        return self.token is not None and held == self.token

    def __enter__(self) -> "Lock":
        if not self.acquire():
            raise LockNotAcquired(f"lock {self.name!r} is held by someone else (waited {self.timeout:g} s)")
        return self

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        self._release_after(failed=exc_type is not None)

    def _release_after(self, *, failed: bool) -> None:
        """Release at the end of the protected work (see _release_problem)."""
        try:
            self.release()
        except (LockLost, *UNAVAILABLE_ERRORS) as error:
            self._release_problem(error, failed=failed)


def with_lock(r: Any, key: str, fn: Callable[[], T], ttl_ms: int = 10_000) -> T:
    """The seed's withLock: run ``fn()`` holding lock ``key``; returns its result.

    Raises LockNotAcquired at once when the lock is taken (like the seed, it does not
    wait), and LockLost after ``fn`` if the lease ran out while it ran.
    """
    lock = Lock(r, key, ttl=validate.milliseconds(ttl_ms, "ttl_ms") / 1000, timeout=0)
    validate.function(fn, "fn", "nothing")
    if not lock.acquire():
        raise not_acquired(key)
    try:
        result = fn()
        if inspect.iscoroutine(result):  # an async def: its body would run after the release
            result.close()
            raise TypeError(f"fn is an async def function: with_lock would release {key!r} before its body ran; "
                            "use await patterns.aio.with_lock(r, key, fn)")
    except BaseException:
        lock._release_after(failed=True)
        raise
    lock._release_after(failed=False)
    return result


def not_acquired(key: str) -> LockNotAcquired:
    return LockNotAcquired(f"could not acquire lock {key!r}: it is held by someone else")


def _server_identity(r: Any) -> Any:
    """What tells two clients' servers apart: the embedded server object, or the address."""
    kwargs = getattr(getattr(r, "connection_pool", None), "connection_kwargs", {})
    if "server" in kwargs:  # fakeredis: one FakeServer object per server
        return id(kwargs["server"])
    return (kwargs.get("host"), kwargs.get("port"), kwargs.get("path"), kwargs.get("db", 0)) if kwargs else id(r)


def _check_independent(servers: Sequence[Any]) -> None:
    seen: dict[Any, int] = {}
    for position, r in enumerate(servers):
        identity = _server_identity(r)
        if identity in seen:
            raise ValueError(
                f"Redlock servers {seen[identity]} and {position} are the same server: a majority of copies of one "
                "server is no majority. Give clients of independent servers (on the embedded backend every "
                "patterns.connect() shares one server; use fakeredis.FakeRedis(server=fakeredis.FakeServer()))"
            )
        seen[identity] = position


class RedlockBase:
    """A lock on a majority of independent Redis servers (the published Redlock algorithm).

    The lock is held when at least N//2+1 servers granted it within the lease, and only
    for the validity left: ttl - time spent acquiring - clock drift. A failed attempt is
    undone on every server before retrying after a random delay.

    node_timeout   seconds one server may take to answer before it counts as a "no"
                   (default: ttl/10, at most 0.1 s, rounded to the millisecond). The algorithm needs it far below the
                   lease: a frozen server that costs the client's 5 s socket timeout would use
                   up the whole lease, and a 3 s lock could never be taken while one of three
                   servers hangs. Each server is asked through a client of its own with this
                   timeout and no retries.

    What it does not give: a fencing token. Each server keeps its own counter, and no number
    grows across a majority that changes from one acquisition to the next. Nor does it
    survive a server that restarts without persistence: that server forgets a grant, and a
    second client can then win a majority while the first still believes it holds the lock
    (the published critique of Redlock; chapter 06 shows the availability side). Where a
    second holder would do damage, use one Lock with fencing tokens checked by the resource.

    Everything but asking the servers is here: ``Redlock`` asks them in turn, ``patterns.aio``'s
    asks them all at once.
    """

    def __init__(self, servers: Sequence[Any], name: str, ttl: float = 10.0, *, retries: int = 3,
                 retry_delay: float = 0.2, drift_factor: float = 0.01, allow_fewer: bool = False,
                 node_timeout: float | None = None) -> None:
        if len(servers) < 3 and not allow_fewer:
            raise ValueError(
                f"Redlock needs at least 3 independent servers (5 is usual), got {len(servers)}; with fewer, one "
                "failure loses the majority. Pass allow_fewer=True if you mean it."
            )
        if not servers:
            raise ValueError("Redlock needs servers")
        for r in servers:
            self._check_client(r)
        self.name = name
        self.keys = [_check_name(r, name)[0] for r in servers]
        self.ttl = _check_lease(ttl)
        self.retries = validate.whole(retries, "retries", minimum=0)
        self.retry_delay = validate.seconds(retry_delay, "retry_delay", zero=True)
        self.drift_factor = validate.number(drift_factor, "drift_factor", minimum=0, below=0.5)
        longest = self.ttl / 2 / len(servers)  # every server asked in turn must leave half the lease
        if node_timeout is None:
            if longest < 0.001:
                raise ValueError(f"ttl={self.ttl:g} s is too short for Redlock over {len(servers)} servers: asked one "
                                 "after another, each needs at least 1 ms of it")
            node_timeout = round(max(0.001, min(self.ttl / 10, 0.1, longest)), 3)
        self.node_timeout = validate.seconds(node_timeout, "node_timeout")
        if self.node_timeout > longest:
            raise ValueError(f"node_timeout must be far below the lease: with {len(servers)} servers asked one "
                             f"after another and ttl={self.ttl:g} s, at most {longest:g} s, got {node_timeout!r}")
        _check_independent(servers)
        self.servers = self._quick_clients(servers)
        self.quorum = len(self.servers) // 2 + 1
        self.token: str | None = None
        self.validity = 0.0  # seconds the current hold is valid for, from when it was taken

    def _check_client(self, r: Any) -> None:
        check_kind(r, asyncio=False, twin="patterns.aio.Redlock")

    def _quick_clients(self, servers: Sequence[Any]) -> list[Any]:
        return [with_timeout(r, self.node_timeout) for r in servers]

    def _attempts(self) -> Iterator[tuple[int, str]]:
        """(attempt, a fresh token) for the first try and each retry."""
        for attempt in range(self.retries + 1):
            yield attempt, secrets.token_hex(16)

    def _held(self, token: str, granted: int, started: float) -> bool:
        """Did ``granted`` servers, asked since ``started`` (time.monotonic), give a hold with validity left?"""
        drift = self.ttl * self.drift_factor + 0.002
        validity = self.ttl - (time.monotonic() - started) - drift
        if granted >= self.quorum and validity > 0:
            self.token, self.validity = token, validity
            return True
        return False

    def _pause(self, attempt: int) -> float:
        """Seconds to wait after a failed ``attempt``, at random (0 after the last: no wait)."""
        return random.uniform(0, self.retry_delay) if attempt < self.retries else 0.0

    def _not_acquired(self) -> LockNotAcquired:
        return LockNotAcquired(f"Redlock {self.name!r}: no majority of {len(self.servers)} servers granted it")

    def _set(self, key: str, token: str) -> tuple[Any, ...]:
        """The SET one server is asked: only if free, with the whole lease."""
        return ("SET", key, token, "NX", "PX", int(self.ttl * 1000))


class Redlock(RedlockBase):
    """Redlock for synchronous clients (see RedlockBase): ``acquire()``/``release()`` or ``with``."""

    def acquire(self) -> bool:
        for attempt, token in self._attempts():
            started = time.monotonic()
            granted = sum(self._try(r, key, token) for r, key in zip(self.servers, self.keys))
            if self._held(token, granted, started):
                return True
            self._release_everywhere(token)  # undo the partial hold before trying again
            if pause := self._pause(attempt):
                time.sleep(pause)
        return False

    def _try(self, r: Any, key: str, token: str) -> bool:
        try:
            return bool(r.execute_command(*self._set(key, token)))
        except UNAVAILABLE_ERRORS:
            return False  # a server that is down is simply a "no"

    def _release_everywhere(self, token: str) -> None:
        for r, key in zip(self.servers, self.keys):
            try:
                _RELEASE(r, [key], [token])
            except UNAVAILABLE_ERRORS:
                pass  # the lease there expires by itself

    def release(self) -> None:
        if self.token:
            self._release_everywhere(self.token)
        self.token = None

    def __enter__(self) -> "Redlock":
        if not self.acquire():
            raise self._not_acquired()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
