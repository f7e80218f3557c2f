"""A cache hit against the hand-written one it replaces: ``json.loads(r.get(key))``.

    python benchmarks/cache.py        (make bench runs it with the others)

One throwaway redis-server, started here on a free port. Each figure is the median of five
interleaved rounds of 1,500 calls from one thread (see _measure.py), every one a hit on one
of 100 keys holding a product record of about 300 bytes of JSON.

* ``get_or_set(r, key, fetch, 600)``: the seed function, called per request.
* ``Cache(r)`` made once, ``.get_or_set(key, fetch)``: every default on (jitter, negative
  caching, single flight, XFetch early refresh).
* The anchor: what the README's cache replaces, a bare GET and json.loads on the same client,
  with no TTL handling, no stampede protection and no invalidation guard.
* The server's own time per hit (INFO commandstats), beside the bare GET's.
"""
from __future__ import annotations

import json

import patterns
from _measure import Row, interleaved, report, round_trips, server_usec
from patterns.cache import Cache, get_or_set
from patterns.sandbox import LocalServer

KEYS = 100
GOAL = 1.0


def product(i: int) -> dict:
    return {"id": i, "name": f"Product {i}", "price": 19.99 + i, "currency": "EUR", "stock": 3 * i,
            "tags": ["kitchen", "steel", "gift"], "description": "A sturdy thing that does what it says. " * 4}


def main() -> None:
    with LocalServer() as server:
        r = patterns.connect(server.url)
        cache = Cache(r, "bench", ttl=600)
        for i in range(KEYS):  # every measured call is a hit
            r.set(f"plain:{i}", json.dumps(product(i)), ex=600)
            get_or_set(r, f"product:{i}", lambda i=i: product(i), 600)
            cache.get_or_set(f"product:{i}", lambda i=i: product(i))
        contenders = {
            "get_or_set": lambda i: get_or_set(r, f"product:{i % KEYS}", dict, 600),
            "Cache": lambda i: cache.get_or_set(f"product:{i % KEYS}", dict),
            "GET + json.loads": lambda i: json.loads(r.get(f"plain:{i % KEYS}")),
        }
        print(f"Cache hits on {patterns.describe(r)}: medians of 5 interleaved rounds of 1,500 calls, one thread")
        for name, operation in contenders.items():
            print(f"  {name:18} {round_trips(lambda i: operation(i % KEYS)):.1f} round trip per hit, "
                  f"server {server_usec(r, operation):.2f} us per hit (INFO commandstats)")
        rates = interleaved(contenders)
        misses = cache.stats.misses
        anchor = rates["GET + json.loads"]
        report([
            Row("get_or_set(r, key, fetch, 600), a hit", "json.loads(r.get(key))", rates["get_or_set"] / anchor, GOAL),
            Row("Cache(r) made once, .get_or_set(key, fetch), a hit", "json.loads(r.get(key))", rates["Cache"] / anchor, GOAL),
        ])
        assert misses == KEYS, f"every measured call should have been a hit, {misses - KEYS} missed"
        r.connection_pool.disconnect()


if __name__ == "__main__":
    main()
