"""Rate limiting: decide, per caller, whether a request may proceed.

Every limiter is one Lua script (one round trip) that reads the server's clock, so many
app servers share one notion of time and no two requests can race between check and
count. Five algorithms, one interface: ``Limiter(r, limit, window).hit(identifier)``
returns a ``Decision``.

When Redis is unreachable a limiter cannot count, so it must guess: ``on_unavailable=
"open"`` (the default) lets requests through, "closed" refuses them. Open suits an API
that must stay up; closed suits a login or payment endpoint where abuse costs more than
an outage. Either way the decision says ``degraded=True``, a warning is logged, and a
circuit breaker stops every request from paying a connect timeout.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Literal, NamedTuple

from . import keys, steps, validate
from .breaker import Breaker
from .connection import UNAVAILABLE_ERRORS, PackedArgs, check_kind
from .scripts import load_script
from .steps import Steps

log = logging.getLogger(__name__)

_SLIDING_LOG = load_script("sliding_log")
_FIXED_WINDOW = load_script("fixed_window")
_SLIDING_WINDOW_COUNTER = load_script("sliding_window_counter")
_TOKEN_BUCKET = load_script("token_bucket")
_GCRA = load_script("gcra")

OnUnavailable = Literal["open", "closed"]
MAX_LIMIT = 10**12  # per window: past it a limit limits nothing, and counts would near a double's 2^53
_SERVERS_CLOCK = b"-1"  # ARGV[1] when no clock is injected: the script reads TIME
_COST_ONE = b"1"


class Decision(NamedTuple):
    """The answer for one request.

    A named tuple rather than a dataclass: one is made per request, and a tuple is built in a
    fifth of the time. It is as immutable, and it equals only another Decision (never a plain
    tuple of the same values).
    """

    allowed: bool
    remaining: int  # requests (of cost 1) that would still be allowed right now
    retry_after: float  # seconds until this request could pass; 0.0 when allowed
    reset_after: float  # seconds until the caller's limit is fully available again
    degraded: bool = False  # True when Redis was unavailable and on_unavailable decided

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and tuple.__eq__(self, other)  # type: ignore[arg-type]

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = tuple.__hash__


_new_decision = tuple.__new__  # Decision's fields from one tuple, without NamedTuple's keyword handling


def _decision(reply: str | bytes) -> Decision:
    """A script's reply, '<allowed 0/1> <remaining> <retry_after_ms> <reset_after_ms>', as a Decision.

    One short text rather than a list of four numbers: a reply of one value is read in a
    fraction of the time redis-py's parser takes for an array.
    """
    allowed, remaining, retry_ms, reset_ms = reply.split()
    return _new_decision(Decision, (allowed in _ALLOWED, int(remaining), int(retry_ms) / 1000, int(reset_ms) / 1000,
                                    False))


_ALLOWED = ("1", b"1")  # a client made without decode_responses answers in bytes


def _number(value: float) -> bytes:
    """A script argument, as text sent once per limiter: whole numbers without a '.0'."""
    return str(int(value)).encode() if float(value).is_integer() else repr(float(value)).encode()


class LimiterBase:
    """What every algorithm shares, synchronous or awaited: arguments, keys and degraded mode.

    limit            requests allowed per window (for the buckets: the burst capacity)
    window           seconds
    name             tells apart limiters of the same algorithm (e.g. "login", "api")
    on_unavailable   "open" or "closed": the decision when Redis cannot be reached
    clock            None: the server's clock (production). A function returning seconds
                     makes time injectable for tests and deterministic notebooks; it decides
                     the algorithm, while the key's TTL still runs on the server's own clock.

    A limiter is made once and used for every request: the script's arguments other than the
    time and the cost are computed here, as text, so a request only validates its own two.
    Everything but the one round trip is here: ``Limiter`` sends it, ``patterns.aio``'s awaits it.
    """

    algorithm = ""
    script = _SLIDING_LOG

    def __init__(
        self,
        r: Any,
        limit: int,
        window: float,
        *,
        name: str = "default",
        on_unavailable: OnUnavailable = "open",
        clock: Callable[[], float] | None = None,
        breaker_seconds: float = 5.0,
    ) -> None:
        validate.choice(on_unavailable, "on_unavailable", ("open", "closed"))
        self._check_client(r)
        self.r = r
        self.limit = validate.whole(limit, "limit", maximum=MAX_LIMIT)
        self.window = validate.seconds(window, "window")
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {name!r} ({type(name).__name__})")
        self.name = keys.validate_namespace(name)
        self.on_unavailable = on_unavailable
        if clock is not None:
            validate.function(clock, "clock", "nothing (it returns seconds)")
        self.clock = clock
        self.breaker = Breaker(validate.seconds(breaker_seconds, "breaker_seconds", zero=True),
                               f"rate limiter {self.algorithm}:{self.name}", log)
        self._kind = f"ratelimit:{self.algorithm}:{self.name}"
        self._settings = tuple(_number(value) for value in self._arguments())
        # The common request: cost 1, the server's clock. Its arguments never change: packed once.
        self._one_now = PackedArgs((_SERVERS_CLOCK, *self._settings, _COST_ONE))

    def key_for(self, identifier: str) -> str:
        """The one Redis key this limiter keeps for ``identifier``."""
        return keys.key(self.r, self._kind, identifier)

    def _prepare(self, identifier: str, cost: int) -> Any:
        """What ``hit`` sends, ``([key], arguments)``, or its Decision when the breaker skips Redis.

        Everything around the one script call, so that ``patterns.aio``'s hit only awaits it.
        """
        key, cost = self._checked(identifier, cost)
        if self.breaker.is_open():
            return self._degraded()
        return [key], self._request(cost)

    def _unavailable(self, error: Exception, identifier: str) -> Decision:
        self.breaker.trip(error, f"failing {self.on_unavailable} for {identifier!r}")
        return self._degraded()

    def _checked(self, identifier: str, cost: int) -> tuple[str, int]:
        """The key and the cost of one request, both checked: what ``hit`` needs before the breaker."""
        key = self.key_for(validate.text(identifier, "identifier"))
        if cost.__class__ is not int or not 1 <= cost <= self.limit:  # the quick check; the full one says why
            cost = self._checked_cost(cost)
        return key, cost

    def _request(self, cost: int) -> Any:
        """The script's arguments for a request of ``cost`` now (an injected clock is read here)."""
        if self.clock is None and cost == 1:
            return self._one_now
        now_ms = _SERVERS_CLOCK if self.clock is None else self.clock() * 1000
        return (now_ms, *self._settings, str(cost).encode())

    def _checked_cost(self, cost: Any) -> int:
        cost = validate.whole(cost, "cost")
        if cost > self.limit:
            raise ValueError(f"cost {cost} is more than the limit {self.limit}: such a request could never pass")
        return cost

    def _arguments(self) -> tuple[float, ...]:
        """The script's ARGV[2] and ARGV[3] (after the time, before the cost)."""
        return self.limit, self.window * 1000

    def _hit_many(self, identifiers: Iterable[str], batch: int) -> Steps[list[Decision]]:
        """The steps of ``hit_many``, for either kind of client (one implementation: see patterns.steps)."""
        validate.whole(batch, "batch")
        if isinstance(identifiers, (str, bytes)):
            raise TypeError(f"identifiers must be an iterable of str, not one {type(identifiers).__name__} "
                            f"({identifiers!r} would be {len(identifiers)} requests, one per character)")
        requests, decisions = iter(identifiers), []
        while True:  # each request's arguments are made as it is taken: an injected clock is read in turn
            planned = [([self._checked(identifier, 1)[0]], self._request(1))
                       for _, identifier in zip(range(batch), requests)]
            if not planned:
                return decisions
            if self.breaker.is_open():
                decisions += [self._degraded()] * len(planned)
                continue
            replies = yield from self.script.many(self.r, planned)
            lost = [reply for reply in replies if isinstance(reply, UNAVAILABLE_ERRORS)]
            if lost:
                self.breaker.trip(lost[0], f"failing {self.on_unavailable} for {len(lost)} requests")
            for reply in replies:
                if isinstance(reply, Exception) and not isinstance(reply, UNAVAILABLE_ERRORS):
                    reply.decisions = decisions  # type: ignore[attr-defined]  # those made before it
                    raise reply
                decisions.append(self._degraded() if isinstance(reply, Exception) else _decision(reply))

    def _degraded(self) -> Decision:
        if self.on_unavailable == "open":
            return Decision(True, 0, 0.0, 0.0, degraded=True)
        return Decision(False, 0, self.breaker.seconds, self.breaker.seconds, degraded=True)

    def _check_client(self, r: Any) -> None:
        check_kind(r, asyncio=False, twin=f"patterns.aio.{type(self).__name__}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(limit={self.limit}, window={self.window:g}s, name={self.name!r})"


class Limiter(LimiterBase):
    """A limiter for a synchronous client: ``hit()`` sends one script call and returns its Decision."""

    def hit(self, identifier: str, cost: int = 1) -> Decision:
        """Count one request of ``cost`` units for ``identifier`` if it is allowed."""
        sent = self._prepare(identifier, cost)
        if type(sent) is Decision:
            return sent
        try:
            reply = self.script(self.r, *sent)
        except UNAVAILABLE_ERRORS as error:
            return self._unavailable(error, identifier)
        return _decision(reply)

    def hit_many(self, identifiers: Iterable[str], *, batch: int = 1000) -> list[Decision]:
        """``hit(identifier)`` (cost 1) for each one in turn, ``batch`` requests per round trip.

        For replaying recorded traffic: notebook 02 replays thousands of requests on an injected
        clock, which is read as each request is queued. The decisions are the ones ``hit`` gives
        called in the same order, because a server runs the scripts one after the other as they
        arrive (``LuaScript.run_many``: one write per server, or per cluster node). Where they
        can differ, it says so:
        * a batch is sent once and never again: a request whose reply was lost is decided by
          ``on_unavailable`` (it may have been counted, as a hit whose reply was lost may), and
          so is every later batch while the breaker is open. On a cluster only the requests
          sent to the failed node are; the others in its batch were decided by their nodes;
        * a script error (a key of another type) raises once its batch has run: the requests
          after it in that batch were counted. The error's ``decisions`` holds every decision
          made before the failed request, so a caller that retries can skip them.
        """
        return steps.run(self.r, self._hit_many(identifiers, batch))


class SlidingLog(Limiter):
    """Exact: one sorted-set entry per admitted request in the last window, carrying its cost.

    Memory grows with the number of requests in the window (at most ``limit``), and a
    request's cost never changes what it costs the server: one entry either way.
    """

    algorithm = "sliding_log"
    script = _SLIDING_LOG


class FixedWindow(Limiter):
    """One counter per clock-aligned window: cheapest, but up to 2x limit across a boundary."""

    algorithm = "fixed_window"
    script = _FIXED_WINDOW


class SlidingWindowCounter(Limiter):
    """Two counters, the previous window weighted by how much of it still overlaps: near exact, tiny."""

    algorithm = "sliding_window_counter"
    script = _SLIDING_WINDOW_COUNTER


class TokenBucket(Limiter):
    """A bucket of ``limit`` tokens refilled at limit/window per second: bursts, then a steady rate."""

    algorithm = "token_bucket"
    script = _TOKEN_BUCKET

    def _arguments(self) -> tuple[float, ...]:
        return self.limit, self.limit / (self.window * 1000)


class GCRA(Limiter):
    """The token bucket's behaviour with one timestamp per caller (generic cell rate algorithm)."""

    algorithm = "gcra"
    script = _GCRA

    def _arguments(self) -> tuple[float, ...]:
        return self.window * 1000 / self.limit, self.limit


ALGORITHMS: dict[str, type[Limiter]] = {
    cls.algorithm: cls for cls in (SlidingLog, FixedWindow, SlidingWindowCounter, TokenBucket, GCRA)
}


def check_rate_limit(r: Any, user_id: str, limit: int, window_seconds: float) -> bool:
    """The seed's checkRateLimit, done right: True when this request is within the limit.

    A sliding log in one atomic script: the server's clock, unique members even for
    requests in the same microsecond, denied requests not counted, a TTL on the key.
    Under any concurrency exactly ``limit`` requests pass per window.
    """
    validate.text(user_id, "user_id")
    return seed_limiter(r, limit, window_seconds).hit(user_id).allowed


_SEED_LIMITERS = "_patterns_seed_limiters"  # the client's attribute holding check_rate_limit's limiters
_SEED_LIMITERS_MAX = 64  # settings per client kept at most: a caller computing limits on the fly cannot grow it


def seed_limiter(r: Any, limit: int, window_seconds: float, kind: type[LimiterBase] = SlidingLog) -> Any:
    """The SlidingLog (``kind``: patterns.aio's for an asyncio client) check_rate_limit uses for ``r``.

    Made on the first call with these settings, once rather than per request: its circuit
    breaker also remembers an outage from one request to the next. It is kept on the client
    itself (as the namespace is), so it lives as long as the client and no longer: a global
    table keyed by the client would keep every client alive, since each limiter refers to its
    client. Only settings of the exact types a limiter
    accepts are looked up (``True`` equals 1 and 5.0 equals 5 as dict keys): anything else is
    made afresh, and refused there with the full message.
    """
    cacheable = type(limit) is int and (type(window_seconds) is float or type(window_seconds) is int)
    limiters = getattr(r, _SEED_LIMITERS, None) if cacheable else None
    if limiters is not None:
        limiter = limiters.get((kind, limit, window_seconds))
        if limiter is not None:
            return limiter
    limiter = kind(r, limit, validate.seconds(window_seconds, "window_seconds"))
    if cacheable:
        if limiters is None or len(limiters) >= _SEED_LIMITERS_MAX:
            limiters = {}
            try:
                setattr(r, _SEED_LIMITERS, limiters)
            except AttributeError:  # a client that takes no attributes: a limiter per call, as before
                return limiter
        limiters[(kind, limit, window_seconds)] = limiter
    return limiter
