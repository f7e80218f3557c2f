"""Chapter 09's shop: requests per second with each pattern on and off, so its cost per request shows.

    python benchmarks/webapp.py [--seconds 2]        (make bench runs it with the others)

The shop (patterns.web) is served by uvicorn on a throwaway redis-server, and loaded by 20
httpx clients at once from this process, each for ``--seconds``; three interleaved rounds,
medians kept. Each pattern is compared with the same request without it:

* ``/api/quote`` (one rate-limit script per request) against ``/ping`` (no Redis at all);
* ``/products/1``, a cache hit (one script), against ``/products/1?cache=off`` with a database
  that answers at once (``db_delay=0``): the cost of asking Redis instead;
* ``/me`` with a session (one script that reads and slides it, one that reads its times) against ``/ping``.

The ratio is requests per second with the pattern over without it (1.0: free). The client and
the server share this machine's cores, so the figures are the whole round trip's, not the
server's alone.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics

import httpx

from _measure import Row, report
from patterns.sandbox import LocalServer
from patterns.web import Served, Settings, create_app, load

CLIENTS = 20
ROUNDS = 3


async def _session_cookie(url: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=url) as http:
        await http.post("/login", json={"user": "ada", "password": "lovelace"})
        return {"Cookie": f"sid={http.cookies['sid']}"}


async def measure(url: str, seconds: float) -> dict[str, float]:
    cookie = await _session_cookie(url)
    await load(f"{url}/products/1", clients=1, requests=1)  # cached
    paths = {"/ping": None, "/api/quote": None, "/products/1": None, "/products/1?cache=off": None, "/me": cookie}
    rates: dict[str, list[float]] = {path: [] for path in paths}
    for round_number in range(ROUNDS):
        order = list(paths)
        shift = round_number % len(order)
        for path in order[shift:] + order[:shift]:
            headers = paths[path]
            measured = await load(f"{url}{path}", clients=CLIENTS, seconds=seconds,
                                  headers=(lambda n, h=headers: {**(h or {}), "X-Client-Id": f"bench-{round_number}-{n}"}))
            assert set(measured.statuses) == {200}, (path, measured.statuses)
            rates[path].append(measured.per_second)
    return {path: statistics.median(values) for path, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    seconds = parser.parse_args().seconds
    with LocalServer() as server:
        settings = Settings(redis_url=server.url, limit=10**6, window=60, db_delay=0, cache_ttl=600)
        with Served(create_app(settings)) as served:
            rates = asyncio.run(measure(served.url, seconds))
    print(f"\nthe shop under {CLIENTS} clients at once, requests per second (median of {ROUNDS} rounds of {seconds:g} s):")
    for path, rate in rates.items():
        print(f"  {path:24} {rate:>7,.0f}/s")
    report([
        Row("/api/quote (rate limited), requests/s", "/ping (no Redis)", rates["/api/quote"] / rates["/ping"]),
        Row("/products/1 (a cache hit), requests/s", "?cache=off, an instant database",
            rates["/products/1"] / rates["/products/1?cache=off"]),
        Row("/me (a session read), requests/s", "/ping (no Redis)", rates["/me"] / rates["/ping"]),
    ])


if __name__ == "__main__":
    main()
