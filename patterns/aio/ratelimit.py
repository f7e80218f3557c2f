"""Rate limiting for asyncio: every limiter of patterns.ratelimit, with ``await limiter.hit(...)``.

Each class is its synchronous twin with ``hit`` awaited: the same script, key, arguments,
validation, circuit breaker, fail-open or fail-closed decision and Decision. Only the one
round trip differs, so the two cannot drift apart.
"""
from __future__ import annotations

from typing import Any

from .. import ratelimit as sync
from .. import validate
from ..connection import UNAVAILABLE_ERRORS
from ..ratelimit import Decision
from .scripts import run


class _Awaited:
    """What every asyncio limiter changes in its synchronous twin: the script call is awaited."""

    async def hit(self, identifier: str, cost: int = 1) -> Decision:  # type: ignore[override]
        """Count one request of ``cost`` units for ``identifier`` if it is allowed."""
        sent = self._prepare(identifier, cost)  # type: ignore[attr-defined]
        if type(sent) is Decision:
            return sent
        try:
            reply = await run(self.script, self.r, *sent)  # type: ignore[attr-defined]
        except UNAVAILABLE_ERRORS as error:
            return self._unavailable(error, identifier)  # type: ignore[attr-defined]
        return sync._decision(reply)

    def hit_many(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("hit_many is synchronous only for now: use patterns.ratelimit for replays")


class SlidingLog(_Awaited, sync.SlidingLog):
    __doc__ = sync.SlidingLog.__doc__


class FixedWindow(_Awaited, sync.FixedWindow):
    __doc__ = sync.FixedWindow.__doc__


class SlidingWindowCounter(_Awaited, sync.SlidingWindowCounter):
    __doc__ = sync.SlidingWindowCounter.__doc__


class TokenBucket(_Awaited, sync.TokenBucket):
    __doc__ = sync.TokenBucket.__doc__


class GCRA(_Awaited, sync.GCRA):
    __doc__ = sync.GCRA.__doc__


ALGORITHMS: dict[str, type[sync.Limiter]] = {
    cls.algorithm: cls for cls in (SlidingLog, FixedWindow, SlidingWindowCounter, TokenBucket, GCRA)
}


async def check_rate_limit(r: Any, user_id: str, limit: int, window_seconds: float) -> bool:
    """The seed's checkRateLimit for asyncio: True when this request is within the limit (see patterns.ratelimit)."""
    validate.text(user_id, "user_id")
    return (await sync.seed_limiter(r, limit, window_seconds, SlidingLog).hit(user_id)).allowed
