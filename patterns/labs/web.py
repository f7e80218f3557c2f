"""Plumbing for chapter 09's labs: the pitfall measurements and the cancelled-release lab.

What a teaching cell would be too long for; the app itself is ``patterns.web``.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import redis.asyncio as aredis

from .. import keys
from ..connection import embedded_server
from ..web.load import Load


async def through_an_outage(on_unavailable: str) -> tuple[int, int, str]:
    """A shop on a redis-server of its own, which is stopped between two requests to /api/quote:
    (status before, status during, what the answer during says). Its log lines are held back:
    their wording depends on how the connection broke."""
    from ..sandbox import LocalServer
    from ..web import Served, Settings, create_app

    server = LocalServer().start()
    logs = [logging.getLogger(name) for name in ("patterns.ratelimit", "patterns.web.feed")]
    hold_back = logging.Filter("nothing")  # a filter, not .disabled: uvicorn's logging set-up re-enables loggers
    for log in logs:
        log.addFilter(hold_back)
    try:
        with Served(create_app(Settings(redis_url=server.url, on_unavailable=on_unavailable))) as shop:
            async with httpx.AsyncClient(base_url=shop.url, timeout=60) as client:
                before = (await client.get("/api/quote")).status_code
                server.stop()
                during = await client.get("/api/quote")
    finally:
        for log in logs:
            log.removeFilter(hold_back)
        server.cleanup()
    says = during.headers.get("X-RateLimit") or f"Retry-After {during.headers.get('Retry-After')}"
    return before, during.status_code, says


async def pings_during(base_url: str, slow_path: str | None, pings: int = 20) -> Load:
    """``pings`` GET /ping, one after another, sent while one request to ``slow_path`` runs (None: none)."""
    measured = Load()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as slow, \
            httpx.AsyncClient(base_url=base_url, timeout=60) as quick:
        await quick.get("/ping")  # connected before the clock starts
        slow_call = asyncio.ensure_future(slow.get(slow_path)) if slow_path else None
        await asyncio.sleep(0.05)  # the slow request is in its handler
        loop = asyncio.get_running_loop()
        measured.started = loop.time()
        for _ in range(pings):
            began = loop.time()
            answer = await quick.get("/ping")
            measured.latencies.append(loop.time() - began)
            measured.statuses[answer.status_code] += 1
        measured.ended = loop.time()
        if slow_call:
            await slow_call
    return measured


def one_connection_client(url: str | None, namespace: str | None) -> Any:
    """An asyncio client whose pool has one connection (of ``url``'s server, or the embedded one):
    while one command holds it, the next waits for it, as a busy app's requests wait for a free one."""
    if url:
        client = aredis.Redis(connection_pool=aredis.BlockingConnectionPool.from_url(
            url, max_connections=1, decode_responses=True))
    else:
        import fakeredis

        client = fakeredis.FakeAsyncRedis(server=embedded_server(), decode_responses=True,
                                          connection_pool_class=aredis.BlockingConnectionPool, max_connections=1)
    keys.set_namespace(client, namespace)
    return client


async def release_cancelled_while_waiting(r: Any, lock: Any, acquire: Any, release: Any) -> None:
    """Take ``lock``, then cancel its release while the release waits for the pool's one connection
    (busy with a one-second BLPOP): the moment a request's task is cancelled (its client went away)."""
    await acquire()
    busy = asyncio.ensure_future(r.blpop(keys.plain(r, "nothing-comes"), 1))
    await asyncio.sleep(0.05)
    releasing = asyncio.ensure_future(release())
    await asyncio.sleep(0.05)
    releasing.cancel()
    await asyncio.gather(releasing, busy, return_exceptions=True)


async def read_events(http: httpx.AsyncClient, path: str, count: int, headers: dict | None = None,
                      connected: asyncio.Event | None = None) -> list[tuple[str, str]]:
    """Read ``count`` server-sent events, as (id, data), from ``path``, then hang up (a tab closed).

    ``connected`` is set when the app says the feed is open (its ``: connected`` comment line):
    events sent from then on reach this reader.
    """
    got: list[tuple[str, str]] = []
    async with http.stream("GET", path, headers=headers or {}) as answer:
        entry_id = ""
        async for line in answer.aiter_lines():
            if line.startswith(": connected") and connected is not None:
                connected.set()
            if line.startswith("id: "):
                entry_id = line[4:]
            elif line.startswith("data: "):
                got.append((entry_id, line[6:]))
                if len(got) == count:
                    break
    return got
