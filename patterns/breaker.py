"""A circuit breaker: after Redis fails, skip it for a while instead of failing every call.

Without one, every request during an outage waits out its own connect timeout
before the pattern degrades (a cache serving from the source, a rate limiter
failing open or closed). With one, an outage costs one timeout per
``seconds``, and the first call after that tries Redis again.
"""
from __future__ import annotations

import logging
import threading
import time


class Breaker:
    """Open for ``seconds`` after ``trip()``; ``is_open()`` says whether to skip Redis now."""

    def __init__(self, seconds: float, name: str, log: logging.Logger) -> None:
        self.seconds = seconds
        self.name = name
        self.log = log
        self._open_until = 0.0
        self._lock = threading.Lock()

    def is_open(self) -> bool:
        return self._open_until > time.monotonic()

    def trip(self, error: Exception, action: str) -> None:
        """Record a failure: log it once, with what the caller does instead, and open."""
        with self._lock:
            self._open_until = time.monotonic() + self.seconds
        self.log.warning(
            "%s: Redis unavailable (%s); %s, and skipping Redis for %.0f s", self.name, error or type(error).__name__,
            action, self.seconds
        )

    def reset(self) -> None:
        """Close the breaker now (the next call tries Redis)."""
        with self._lock:
            self._open_until = 0.0
