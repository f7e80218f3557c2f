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
from dataclasses import dataclass
from typing import Any, Callable, Literal

from . import keys, validate
from .breaker import Breaker
from .connection import UNAVAILABLE_ERRORS
from .scripts import load_script

log = logging.getLogger(__name__)

_SLIDING_LOG = load_script("sliding_log")
_FIXED_WINDOW = load_script("fixed_window")
_SLIDING_WINDOW_COUNTER = load_script("sliding_window_counter")
_TOKEN_BUCKET = load_script("token_bucket")
_GCRA = load_script("gcra")

OnUnavailable = Literal["open", "closed"]
MAX_LIMIT = 10**12  # per window: past it a limit limits nothing, and counts would near a double's 2^53


@dataclass(frozen=True)
class Decision:
    """The answer for one request."""

    allowed: bool
    remaining: int  # requests (of cost 1) that would still be allowed right now
    retry_after: float  # seconds until this request could pass; 0.0 when allowed
    reset_after: float  # seconds until the caller's limit is fully available again
    degraded: bool = False  # True when Redis was unavailable and on_unavailable decided


class Limiter:
    """What every algorithm shares: arguments, keys, the script call and degraded mode.

    limit            requests allowed per window (for the buckets: the burst capacity)
    window           seconds
    name             tells apart limiters of the same algorithm (e.g. "login", "api")
    on_unavailable   "open" or "closed": the decision when Redis cannot be reached
    clock            None: the server's clock (production). A function returning seconds
                     makes time injectable for tests and deterministic notebooks; it decides
                     the algorithm, while the key's TTL still runs on the server's own clock.
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

    def key_for(self, identifier: str) -> str:
        """The one Redis key this limiter keeps for ``identifier``."""
        return keys.key(self.r, f"ratelimit:{self.algorithm}:{self.name}", identifier)

    def hit(self, identifier: str, cost: int = 1) -> Decision:
        """Count one request of ``cost`` units for ``identifier`` if it is allowed."""
        key = self.key_for(validate.text(identifier, "identifier"))
        cost = validate.whole(cost, "cost")
        if cost > self.limit:
            raise ValueError(f"cost {cost} is more than the limit {self.limit}: such a request could never pass")
        if self.breaker.is_open():
            return self._degraded()
        now_ms = -1 if self.clock is None else self.clock() * 1000
        try:
            allowed, remaining, retry_ms, reset_ms = self.script(self.r, [key], [now_ms, *self._arguments(cost)])
        except UNAVAILABLE_ERRORS as error:
            self.breaker.trip(error, f"failing {self.on_unavailable} for {identifier!r}")
            return self._degraded()
        return Decision(bool(allowed), int(remaining), retry_ms / 1000, reset_ms / 1000)

    def _arguments(self, cost: int) -> list[Any]:
        return [self.limit, self.window * 1000, cost]

    def _degraded(self) -> Decision:
        if self.on_unavailable == "open":
            return Decision(True, 0, 0.0, 0.0, degraded=True)
        return Decision(False, 0, self.breaker.seconds, self.breaker.seconds, degraded=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(limit={self.limit}, window={self.window:g}s, name={self.name!r})"


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

    def _arguments(self, cost: int) -> list[Any]:
        return [self.limit, self.limit / (self.window * 1000), cost]


class GCRA(Limiter):
    """The token bucket's behaviour with one timestamp per caller (generic cell rate algorithm)."""

    algorithm = "gcra"
    script = _GCRA

    def _arguments(self, cost: int) -> list[Any]:
        return [self.window * 1000 / self.limit, self.limit, cost]


ALGORITHMS: dict[str, type[Limiter]] = {
    cls.algorithm: cls for cls in (SlidingLog, FixedWindow, SlidingWindowCounter, TokenBucket, GCRA)
}


def check_rate_limit(r: Any, user_id: str, limit: int, window_seconds: float) -> bool:
    """The seed's checkRateLimit, done right: True when this request is within the limit.

    A sliding log in one atomic script: the server's clock, unique members even for
    requests in the same millisecond, denied requests not counted, a TTL on the key.
    Under any concurrency exactly ``limit`` requests pass per window.
    """
    validate.text(user_id, "user_id")
    return SlidingLog(r, limit, validate.seconds(window_seconds, "window_seconds")).hit(user_id).allowed
