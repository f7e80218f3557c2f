"""Rate limiting for asyncio: every limiter of patterns.ratelimit, with ``await limiter.hit(...)``.

Each class is made from its synchronous twin: the same algorithm, script, key, arguments,
validation, circuit breaker, fail-open or fail-closed decision and Decision, all from
``patterns.ratelimit.LimiterBase`` and the twin's own settings. Only the one round trip
differs (awaited), so the two cannot drift apart. They are not subclasses of the synchronous
classes: code written for those would call ``hit()`` and get a coroutine, never run.
"""
from __future__ import annotations

from typing import Any, Iterable

from .. import ratelimit as sync
from .. import validate
from ..connection import UNAVAILABLE_ERRORS, check_kind
from ..ratelimit import Decision, LimiterBase
from . import steps
from .scripts import run


class AsyncLimiter(LimiterBase):
    """What every asyncio limiter adds to what all limiters share: ``hit()``, awaited."""

    async def hit(self, identifier: str, cost: int = 1) -> Decision:
        """Count one request of ``cost`` units for ``identifier`` if it is allowed."""
        sent = self._prepare(identifier, cost)
        if type(sent) is Decision:
            return sent
        try:
            reply = await run(self.script, self.r, *sent)
        except UNAVAILABLE_ERRORS as error:
            return self._unavailable(error, identifier)
        return sync._decision(reply)

    async def hit_many(self, identifiers: Iterable[str], *, batch: int = 1000) -> list[Decision]:
        """``await hit(identifier)`` (cost 1) for each one in turn, ``batch`` requests per round trip.

        The synchronous ``hit_many``'s steps, awaited: the same decisions, the same batches sent
        once per server (or cluster node) and never again. See ``patterns.ratelimit.Limiter.hit_many``.
        """
        return await steps.run(self.r, self._hit_many(identifiers, batch))

    def _check_client(self, r: Any) -> None:
        check_kind(r, asyncio=True, twin=f"patterns.ratelimit.{type(self).__name__}")

    def __repr__(self) -> str:
        return f"aio.{super().__repr__()}"


def _twin(limiter: type[sync.Limiter]) -> type[AsyncLimiter]:
    """The asyncio class of a synchronous limiter: its algorithm, script and arguments, its docstring."""
    return type(limiter.__name__, (AsyncLimiter,), {
        "algorithm": limiter.algorithm, "script": limiter.script, "_arguments": limiter._arguments,
        "__doc__": limiter.__doc__, "__module__": __name__, "__qualname__": limiter.__name__})


SlidingLog = _twin(sync.SlidingLog)
FixedWindow = _twin(sync.FixedWindow)
SlidingWindowCounter = _twin(sync.SlidingWindowCounter)
TokenBucket = _twin(sync.TokenBucket)
GCRA = _twin(sync.GCRA)

ALGORITHMS: dict[str, type[AsyncLimiter]] = {
    cls.algorithm: cls for cls in (SlidingLog, FixedWindow, SlidingWindowCounter, TokenBucket, GCRA)
}


async def check_rate_limit(r: Any, user_id: str, limit: int, window_seconds: float) -> bool:
    """The seed's checkRateLimit for asyncio: True when this request is within the limit (see patterns.ratelimit)."""
    validate.text(user_id, "user_id")
    return (await sync.seed_limiter(r, limit, window_seconds, SlidingLog).hit(user_id)).allowed
