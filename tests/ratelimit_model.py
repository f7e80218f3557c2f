"""Plain-Python models of the five rate limiters: the same arithmetic, no Redis.

Each ``hit(now_ms, cost)`` returns (allowed, remaining, retry_after_ms, reset_after_ms).
The models never expire state: by design the scripts' TTLs only collect garbage that
the algorithms would ignore anyway, so keeping it must give the same answers.
"""
from __future__ import annotations

import math


class SlidingLog:
    """Times in whole microseconds, as the script keeps them (the resolution of the server's TIME)."""

    def __init__(self, limit: int, window_ms: float) -> None:
        self.limit, self.window, self.entries = limit, _microseconds(window_ms), []

    def hit(self, now_ms: float, cost: int):
        now = _microseconds(now_ms)
        self.entries = [t for t in self.entries if t > now - self.window]
        count = len(self.entries)
        if count + cost <= self.limit:
            self.entries += [now] * cost
            return True, self.limit - count - cost, 0, math.ceil(self.window / 1000)
        must_leave = count + cost - self.limit
        return (False, self.limit - count, math.ceil((sorted(self.entries)[must_leave - 1] + self.window - now) / 1000),
                math.ceil((max(self.entries) + self.window - now) / 1000))


def _microseconds(ms: float) -> int:
    return math.floor(ms * 1000 + 0.5)  # as the script rounds: half a microsecond up


class FixedWindow:
    def __init__(self, limit: int, window_ms: float) -> None:
        self.limit, self.window, self.w, self.n = limit, window_ms, None, 0

    def hit(self, now: float, cost: int):
        w = math.floor(now / self.window)
        count = self.n if self.w == w else 0
        reset = math.ceil((w + 1) * self.window - now)
        if count + cost > self.limit:
            return False, self.limit - count, reset, reset
        self.w, self.n = w, count + cost
        return True, self.limit - count - cost, 0, reset


class SlidingWindowCounter:
    def __init__(self, limit: int, window_ms: float) -> None:
        self.limit, self.window, self.w, self.curr, self.prev = limit, window_ms, None, 0, 0

    def hit(self, now: float, cost: int):
        window, limit = self.window, self.limit
        w = math.floor(now / window)
        curr, prev = self.curr, self.prev
        if self.w == w - 1:
            prev, curr = curr, 0
        elif self.w != w:
            prev, curr = 0, 0
        elapsed = now - w * window
        estimate = prev * (window - elapsed) / window + curr
        reset = math.ceil((w + 2) * window - now) if curr > 0 else math.ceil((w + 1) * window - now) if prev > 0 else 0
        if estimate + cost > limit:
            if curr + cost <= limit:
                retry = window * (1 - (limit - curr - cost) / prev) - elapsed
            else:
                retry = (window - elapsed) + window * (1 - (limit - cost) / curr)
            return False, max(0, math.floor(limit - estimate)), math.ceil(retry), reset
        self.w, self.curr, self.prev = w, curr + cost, prev
        return True, math.floor(limit - estimate - cost), 0, math.ceil((w + 2) * window - now)


class TokenBucket:
    def __init__(self, limit: int, window_ms: float) -> None:
        self.capacity, self.rate = limit, limit / window_ms
        self.tokens, self.ts = None, None

    def hit(self, now: float, cost: int):
        tokens, ts = (self.capacity, now) if self.tokens is None else (self.tokens, self.ts)
        tokens = min(self.capacity, tokens + max(0, now - ts) * self.rate)
        if tokens < cost:
            return (False, math.floor(tokens), math.ceil((cost - tokens) / self.rate),
                    math.ceil((self.capacity - tokens) / self.rate))
        tokens -= cost
        self.tokens, self.ts = tokens, now
        return True, math.floor(tokens), 0, math.ceil((self.capacity - tokens) / self.rate)


class GCRA:
    def __init__(self, limit: int, window_ms: float) -> None:
        self.interval, self.burst, self.tat = window_ms / limit, limit, None

    def hit(self, now: float, cost: int):
        tat = max(self.tat if self.tat is not None else now, now)
        new_tat = tat + self.interval * cost
        allow_at = new_tat - self.burst * self.interval
        if now < allow_at:
            return (False, math.floor((now - (tat - self.burst * self.interval)) / self.interval),
                    math.ceil(allow_at - now), math.ceil(tat - now))
        self.tat = new_tat
        return (True, math.floor((now - (new_tat - self.burst * self.interval)) / self.interval), 0,
                math.ceil(new_tat - now))


MODELS = {
    "sliding_log": SlidingLog,
    "fixed_window": FixedWindow,
    "sliding_window_counter": SlidingWindowCounter,
    "token_bucket": TokenBucket,
    "gcra": GCRA,
}
