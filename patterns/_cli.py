"""What the command-line tools (``patterns.audit``, ``patterns.workshop``) share.

One-line errors with exit status 2, and a progress line that appears only on a
terminal, so a long walk of a big keyspace shows it is alive and a script or CI log
gets clean output.
"""
from __future__ import annotations

import sys
from typing import Callable

import redis

from .errors import PatternError

EXIT_FAILED = 2


def run(body: Callable[[], int]) -> int:
    """Run a command; print any expected failure as one ``error:`` line and return 2."""
    try:
        return body()
    except (ValueError, PatternError, ConnectionError, redis.RedisError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED


class progress:
    """``show(n)`` rewrites one status line on stderr when it is a terminal; ``done()`` ends it."""

    def __init__(self, template: str, *, enabled: bool | None = None) -> None:
        self.template = template
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.shown = False

    def __call__(self, n: int, total: int | None = None) -> None:
        if self.enabled:
            print("\r" + bar(n, total) + self.template.format(n), end="", file=sys.stderr, flush=True)
            self.shown = True

    def done(self) -> None:
        if self.shown:
            print(file=sys.stderr)


def bar(n: int, total: int | None, width: int = 30) -> str:
    """``[#########.....]  60% `` for ``n`` of ``total``; nothing when the total is unknown."""
    if not total:
        return ""
    done = min(n, total) / total
    filled = int(done * width)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done:4.0%} "
