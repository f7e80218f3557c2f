"""Concurrent HTTP traffic with httpx, and what it measured: status codes, latency percentiles, rate.

``await load(url, clients=20, requests=200)`` sends ``requests`` requests from ``clients``
tasks at once (each its own connection, as separate browsers would be), or keeps them sending
for ``seconds``. Every figure the chapter prints comes from a ``Load``.
"""
from __future__ import annotations

import asyncio
import collections
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import httpx


@dataclass
class Load:
    """What one run of traffic measured. Safe to read while it runs (a live dashboard does)."""

    statuses: collections.Counter = field(default_factory=collections.Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, one per answered request
    errors: int = 0  # requests that got no answer (connection refused, timed out)
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None

    @property
    def answered(self) -> int:
        return len(self.latencies)

    @property
    def seconds(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    @property
    def per_second(self) -> float:
        return self.answered / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile of the latencies, in milliseconds (nearest rank); 0 with none."""
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return 1000 * ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]

    def summary(self) -> str:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return (f"{self.answered} answered in {self.seconds:.2f} s ({self.per_second:.0f}/s) · {codes or 'none'}"
                + (f" · {self.errors} unanswered" if self.errors else "")
                + f" · p50 {self.percentile(50):.1f} ms, p99 {self.percentile(99):.1f} ms")


async def load(url: str, *, clients: int = 10, requests: int | None = None, seconds: float | None = None,
               method: str = "GET", headers: Callable[[int], dict[str, str]] | None = None,
               into: Load | None = None, timeout: float = 30.0, until_refused: bool = False) -> Load:
    """Send ``method url`` from ``clients`` tasks at once: ``requests`` in all, or for ``seconds``.

    ``headers(n)`` gives client ``n``'s headers (``X-Client-Id``, a cookie); ``into`` is a Load
    to fill (a dashboard reads it as it fills). ``until_refused`` (with ``seconds``): each client
    goes on after the ``seconds`` until it has been refused once (any answer but 200, or none),
    for at most ``timeout`` seconds more, so that every client reaches its limit however slow the
    machine is: a count of the 200s is then the limit times the clients, not what a loaded
    machine managed in time.
    """
    if (requests is None) == (seconds is None):
        raise ValueError("give either requests or seconds")
    if until_refused and seconds is None:
        raise ValueError("until_refused goes with seconds")
    measured = into or Load()
    measured.started = time.monotonic()
    left = [requests if requests is not None else -1]
    deadline = measured.started + (seconds or 0)

    def another() -> bool:
        if requests is None:
            return time.monotonic() < deadline
        left[0] -= 1
        return left[0] >= 0

    def refused_yet(refused: bool) -> bool:
        return not until_refused or refused or time.monotonic() >= deadline + timeout

    async def client(n: int) -> None:
        refused = False
        async with httpx.AsyncClient(timeout=timeout, headers=headers(n) if headers else None) as http:
            while another() or not refused_yet(refused):
                began = time.perf_counter()
                try:
                    answer = await http.request(method, url)
                except httpx.HTTPError:
                    measured.errors += 1
                    refused = True
                    continue
                measured.latencies.append(time.perf_counter() - began)
                measured.statuses[answer.status_code] += 1
                refused = refused or answer.status_code != 200

    await asyncio.gather(*(client(n) for n in range(clients)))
    measured.ended = time.monotonic()
    return measured


def same_client(name: str = "client-0") -> Callable[[int], dict[str, str]]:
    """Headers for every task as one client (one user with many tabs): one limit shared."""
    return lambda n: {"X-Client-Id": name}
