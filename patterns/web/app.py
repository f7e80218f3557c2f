"""Chapter 09's shop: a small real ASGI app (Starlette) with every pattern behind an endpoint.

Starlette rather than FastAPI: FastAPI is Starlette plus request validation and OpenAPI
(pydantic); what this chapter shows (middleware-free handlers, cookies, streaming responses,
a lifespan) is Starlette's own, so the same code runs in a FastAPI app unchanged, and the
workbook does not need pydantic.

    GET  /api/quote            rate limited per client (X-Client-Id): 429 with Retry-After and
                               the IETF RateLimit / RateLimit-Policy headers
    GET  /products/{id}        a slow pretend database behind patterns.aio.Cache
                               (?cache=off: straight to the database; ?cache=naive: the seed's
                               get-then-set cache, which stampedes at expiry)
    POST /login, GET /me, POST /logout, POST /logout-everywhere, GET /session
                               a session cookie (HttpOnly, SameSite=Lax, Secure over TLS),
                               rotated at login, with idle and absolute timeouts
    POST /jobs/report          one report at a time (patterns.aio.Lock, fencing tokens): 409
    POST /orders, GET /events  an order feed as server-sent events: one reader (a stream consumer
                               group) for every tab, resumed from Last-Event-ID after a reconnect
    GET  /ping, /pitfall/...   the async pitfall lab: a synchronous client in an async handler
    GET  /stats                what the database and the cache did

The app makes its Redis clients at start-up, in the event loop that serves it (its lifespan):
an asyncio client belongs to the loop that made it.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import math
import secrets
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

import patterns
from .. import aio, keys
from ..errors import PatternError, ValueTooLarge
from ..pubsub import STREAM_ID
from ..ratelimit import Decision
from .feed import CLOSED, QUEUE as PAGE, Feed

USERS = {"ada": "lovelace", "bob": "builder"}  # the demo's accounts: user -> password
POLICY = "per-client"  # the name of the rate-limit policy in the IETF headers
COOKIE = "sid"
MAX_CLIENT_ID = 64  # characters of X-Client-Id: it names a Redis key
REPORT_WAIT = 60.0  # seconds a ?wait=1 report waits for its turn before it gets 409


@dataclass
class Settings:
    """Everything the shop can be configured with (a notebook's sliders change some while it runs)."""

    redis_url: str | None = None  # None: REDIS_URL, else the embedded fakeredis (patterns.aio.connect())
    namespace: str | None = None  # None: WORKBOOK_NAMESPACE
    limit: int = 20  # requests per client per window on /api/quote
    window: float = 10.0  # seconds
    on_unavailable: str = "open"  # what /api/quote does when Redis cannot be reached: "open" or "closed"
    cache_ttl: float = 30.0  # seconds a product stays cached
    db_delay: float = 0.05  # seconds the pretend database takes per query
    idle_ttl: float = 300.0  # a session ends after this long unused...
    absolute_ttl: float = 3600.0  # ...and this long after login, however busy
    rotate_at_login: bool = True  # False: the seed's login, which keeps the id (session fixation)
    job_seconds: float = 0.5  # how long a report takes
    job_lease: float = 5.0  # the report lock's lease
    feed: str = "orders"  # the stream behind /events
    pitfall_wait: float = 0.5  # seconds the pitfall lab's slow Redis call (BLPOP) waits
    clock: Any = None  # the sessions' clock (None: the server's), for a notebook that shows timeouts


class SlowDatabase:
    """A pretend database: every query takes ``delay`` seconds and is counted."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.queries = 0

    async def product(self, product_id: int) -> dict:
        self.queries += 1
        await asyncio.sleep(self.delay)
        return {"id": product_id, "name": f"Product {product_id}", "price": round(9.99 + product_id, 2)}


class Ledger:
    """The resource the report job writes to: it refuses a write with an older fencing token than it has seen."""

    def __init__(self) -> None:
        self.highest = 0
        self.writes: list[int] = []
        self.refused = 0

    def write(self, fencing_token: int) -> bool:
        if fencing_token < self.highest:
            self.refused += 1
            return False
        self.highest = fencing_token
        self.writes.append(fencing_token)
        return True


@dataclass
class Shop:
    """The app's state: its clients and the patterns' objects, made at start-up in the serving loop."""

    settings: Settings
    r: Any
    sync_r: Any  # a synchronous client of the same server: only the pitfall lab uses it
    db: SlowDatabase
    ledger: Ledger = field(default_factory=Ledger)
    limiter: Any = None
    cache: Any = None
    sessions: Any = None
    feed: Any = None  # the order feed's one reader (patterns/web/feed.py), started with the app
    naive_hits: int = 0
    slow_entered: threading.Event = field(default_factory=threading.Event)  # a pitfall handler is in its wait

    def __post_init__(self) -> None:
        self.set_limit(self.settings.limit, self.settings.window)
        self.cache = aio.Cache(self.r, "shop-products", ttl=self.settings.cache_ttl, jitter=0,
                               early_refresh_beta=0)
        self.sessions = aio.SessionStore(self.r, idle_ttl=self.settings.idle_ttl,
                                         absolute_ttl=self.settings.absolute_ttl, clock=self.settings.clock)

    def set_limit(self, limit: int, window: float | None = None) -> None:
        """A new limiter (a notebook's slider calls this while traffic runs: the next request uses it)."""
        self.settings.limit, self.settings.window = limit, window or self.settings.window
        self.limiter = aio.SlidingLog(self.r, limit, self.settings.window, name="shop-quote",
                                      on_unavailable=self.settings.on_unavailable)  # type: ignore[arg-type]


def _shop(request: Request) -> Shop:
    return request.app.state.shop


# -- rate limiting ------------------------------------------------------------------------------


def rate_limit_headers(decision: Decision, limit: int, window: float) -> dict[str, str]:
    """The IETF draft's headers (draft-ietf-httpapi-ratelimit-headers-09), and Retry-After on a refusal.

    ``RateLimit-Policy`` states the quota (q) per window of w seconds; ``RateLimit`` what is
    left of it (r) and in how many seconds it is whole again (t). Seconds round up: a client that
    waits what it is told is never refused for having come a fraction too early.
    """
    headers = {"RateLimit-Policy": f'"{POLICY}";q={limit};w={math.ceil(window)}',
               "RateLimit": f'"{POLICY}";r={decision.remaining};t={math.ceil(decision.reset_after)}'}
    if not decision.allowed:
        headers["Retry-After"] = str(max(1, math.ceil(decision.retry_after)))
    return headers


async def quote(request: Request) -> Response:
    shop = _shop(request)
    # The demo trusts X-Client-Id, so a client can pass for another: a real app keys the limit by
    # who is logged in, or by the address its own proxy saw, never by what the client says it is.
    client = request.headers.get("x-client-id") or (request.client.host if request.client else "unknown")
    if len(client) > MAX_CLIENT_ID:
        return JSONResponse({"error": f"X-Client-Id is longer than {MAX_CLIENT_ID} characters"}, status_code=400)
    limiter = shop.limiter
    decision = await limiter.hit(client)
    if decision.degraded:  # Redis unreachable: the limiter decided by on_unavailable
        if decision.allowed:
            return JSONResponse({"quote": "Redis is away: served without a limit"}, headers={"X-RateLimit": "degraded"})
        return JSONResponse({"error": "rate limiting is unavailable"}, status_code=503,
                            headers={"Retry-After": str(max(1, math.ceil(decision.retry_after)))})
    headers = rate_limit_headers(decision, limiter.limit, limiter.window)
    if not decision.allowed:
        return JSONResponse({"error": "too many requests"}, status_code=429, headers=headers)
    return JSONResponse({"quote": "Simple things should be simple."}, headers=headers)


# -- caching ------------------------------------------------------------------------------------


async def product(request: Request) -> Response:
    shop = _shop(request)
    text = request.path_params["product_id"]  # parsed here: a 5,000-digit id is past what int() takes
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        return JSONResponse({"error": "no such product"}, status_code=404)
    product_id = int(text)
    mode = request.query_params.get("cache", "on")
    if mode == "off":
        return JSONResponse(await shop.db.product(product_id))
    if mode == "naive":  # the seed's getOrSet: GET, and on a miss everyone asks the database
        key = keys.key(shop.r, "shop-naive", str(product_id))
        cached = await shop.r.get(key)
        if cached is not None:
            shop.naive_hits += 1
            return JSONResponse(json.loads(cached))
        value = await shop.db.product(product_id)
        await shop.r.set(key, json.dumps(value), ex=max(1, math.ceil(shop.settings.cache_ttl)))
        return JSONResponse(value)
    return JSONResponse(await shop.cache.get_or_set(str(product_id), lambda: shop.db.product(product_id)))


async def stats(request: Request) -> Response:
    shop = _shop(request)
    cache = shop.cache.stats
    return JSONResponse({"db_queries": shop.db.queries, "cache_hits": cache.hits, "cache_misses": cache.misses,
                         "cache_waits": cache.waits, "naive_hits": shop.naive_hits,
                         "ledger_writes": shop.ledger.writes, "ledger_refused": shop.ledger.refused})


# -- sessions -----------------------------------------------------------------------------------


def _set_cookie(response: Response, request: Request, session_id: str) -> None:
    """HttpOnly: page scripts cannot read it (an XSS cannot steal it). SameSite=Lax: other sites'
    forms do not send it (CSRF). Secure where the request came over TLS: never sent in clear."""
    response.set_cookie(COOKIE, session_id, httponly=True, samesite="lax", secure=request.url.scheme == "https",
                        path="/")


async def session(request: Request) -> Response:
    """A visitor's anonymous session (a cart before login): made at the first visit."""
    shop = _shop(request)
    sid = request.cookies.get(COOKIE)
    if sid and await shop.sessions.get(sid) is not None:
        return JSONResponse({"session": "existing"})
    # A guest id of its own: one shared "guest" would put every visitor in one session index.
    sid = await shop.sessions.create(f"guest-{secrets.token_hex(8)}", {"user": "guest"})
    response = JSONResponse({"session": "new"})
    _set_cookie(response, request, sid)
    return response


async def _json_object(request: Request) -> dict | Response:
    """The request's JSON object, or the 4xx answer that says what is wrong with it.

    Only ``Content-Type: application/json``: a page on another site can send a form or
    ``text/plain`` to this server without asking first, but not JSON (the browser asks the
    server first, and this one does not allow it). That is what keeps another site from logging
    a visitor in as someone else (login CSRF).
    """
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return JSONResponse({"error": "send JSON (Content-Type: application/json)"}, status_code=415)
    try:
        body = json.loads(await request.body())
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return JSONResponse({"error": "send a JSON object"}, status_code=400)
    return body


async def login(request: Request) -> Response:
    shop = _shop(request)
    body = await _json_object(request)
    if isinstance(body, Response):
        return body
    user, password = body.get("user"), body.get("password")
    known = isinstance(user, str) and user in USERS and isinstance(password, str)
    if not (known and hmac.compare_digest(USERS[user].encode(), password.encode())):  # type: ignore[union-attr]
        return JSONResponse({"error": "wrong user or password"}, status_code=401)
    sid = request.cookies.get(COOKIE)
    known = sid is not None and await shop.sessions.get(sid) is not None
    if known and not shop.settings.rotate_at_login:  # the seed's login: the id from before login stays
        await shop.sessions.update(sid, user=user)
        new_sid = sid
    elif known:
        new_sid = await shop.sessions.rotate(sid, user, data={"user": user}) or await shop.sessions.create(
            user, {"user": user})
    else:
        new_sid = await shop.sessions.create(user, {"user": user})
    response = JSONResponse({"user": user})
    _set_cookie(response, request, new_sid)
    return response


async def _logged_in(shop: Shop, request: Request) -> tuple[str, str] | None:
    """(session id, user) of a logged-in visitor; None for a guest, an ended session or no cookie."""
    sid = request.cookies.get(COOKIE)
    data = await shop.sessions.get(sid) if sid else None
    if data is None or data.get("user") in (None, "guest"):
        return None
    return sid, data["user"]  # type: ignore[return-value]


NOT_LOGGED_IN = {"error": "not logged in"}


async def me(request: Request) -> Response:
    shop = _shop(request)
    visitor = await _logged_in(shop, request)
    if visitor is None:
        return JSONResponse(NOT_LOGGED_IN, status_code=401)
    sid, user = visitor
    info = await shop.sessions.info(sid)
    return JSONResponse({"user": user, "idle_left": round(info.idle_left, 1) if info else None,
                         "absolute_left": round(info.absolute_left, 1) if info else None})


async def logout(request: Request) -> Response:
    shop = _shop(request)
    sid = request.cookies.get(COOKIE)
    if sid:
        await shop.sessions.destroy(sid)
    response = JSONResponse({"logged_out": True})
    response.delete_cookie(COOKIE, path="/")
    return response


async def logout_everywhere(request: Request) -> Response:
    shop = _shop(request)
    visitor = await _logged_in(shop, request)
    if visitor is None:
        return JSONResponse(NOT_LOGGED_IN, status_code=401)
    ended = await shop.sessions.destroy_all(visitor[1])
    response = JSONResponse({"sessions_ended": ended})
    response.delete_cookie(COOKIE, path="/")
    return response


# -- a job behind a lock ------------------------------------------------------------------------


async def report(request: Request) -> Response:
    """One report at a time: a second request gets 409 at once (or, with ?wait=1, waits its turn)."""
    shop = _shop(request)
    wait = request.query_params.get("wait") == "1"
    lock = aio.Lock(shop.r, "shop-report", ttl=shop.settings.job_lease,
                    timeout=REPORT_WAIT if wait else 0)
    if not await lock.acquire():
        return JSONResponse({"error": "a report is already running"}, status_code=409, headers={"Retry-After": "1"})
    try:
        await asyncio.sleep(shop.settings.job_seconds)  # the work
        written = shop.ledger.write(lock.fencing_token)  # the resource checks the token
    finally:
        await lock.release()
    return JSONResponse({"fencing_token": lock.fencing_token, "written": written})


# -- an event feed --------------------------------------------------------------------------------


async def order(request: Request) -> Response:
    shop = _shop(request)
    body = await _json_object(request)
    if isinstance(body, Response):
        return body
    try:
        entry = await shop.feed.stream.append(body)
    except PatternError as error:  # too large to keep, or not JSON
        return JSONResponse({"error": str(error)}, status_code=413 if isinstance(error, ValueTooLarge) else 400)
    return JSONResponse({"id": entry})


async def events(request: Request) -> Response:
    """Server-sent events: every order from now on, after what the tab missed since ``Last-Event-ID``.

    One reader serves every tab (patterns/web/feed.py). A tab that reconnects names the last
    event it saw and gets what came after it from the stream, then the live events: each id
    once, in order, nothing lost while it was away (up to the stream's maxlen).
    """
    shop = _shop(request)
    last_seen = request.headers.get("last-event-id") or request.query_params.get("last_id")
    limit = request.query_params.get("limit", "")  # stop after this many events (tests, the notebook)
    if last_seen is not None and not STREAM_ID.fullmatch(last_seen):
        return JSONResponse({"error": "Last-Event-ID must be an event id this feed sent"}, status_code=400)
    if limit and not (limit.isdigit() and len(limit) < 7):
        return JSONResponse({"error": "limit must be a whole number of events"}, status_code=400)
    queue = shop.feed.listen()  # from now on, before the history: nothing falls between the two
    missed = await shop.feed.since(last_seen) if last_seen else []

    async def feed() -> AsyncIterator[str]:
        sent, newest, more = 0, last_seen, len(missed) == PAGE
        try:
            yield ": connected\n\n"
            while not limit or sent < int(limit):
                if not missed and more:  # a full page of history: there may be more after it
                    missed.extend(await shop.feed.since(newest))
                    more = len(missed) == PAGE
                message = missed.pop(0) if missed else await _next(queue, request)
                if message is CLOSED:
                    return
                if message is None or (newest and _id(message.id) <= _id(newest)):
                    continue  # nothing yet (the tab is still there), or already sent from the history
                yield f"id: {message.id}\ndata: {json.dumps(message.event)}\n\n"
                sent, newest = sent + 1, message.id
        finally:
            shop.feed.forget(queue)

    return StreamingResponse(feed(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


async def _next(queue: asyncio.Queue, request: Request) -> Any:
    """The next event, or None after a second without one (to notice a tab that went away); CLOSED at the end."""
    try:
        return await asyncio.wait_for(queue.get(), 1.0)
    except asyncio.TimeoutError:
        return CLOSED if await request.is_disconnected() else None


def _id(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)


# -- the async pitfall lab ----------------------------------------------------------------------


async def ping(request: Request) -> Response:
    return JSONResponse({"pong": True})


async def slow_sync(request: Request) -> Response:
    """The pitfall: a synchronous client's call inside ``async def``. BLPOP waits half a second on the
    server, and the whole event loop, every other request with it, waits too."""
    shop = _shop(request)
    shop.slow_entered.set()
    shop.sync_r.blpop(keys.key(shop.sync_r, "shop-pitfall", "nothing"), shop.settings.pitfall_wait)
    return JSONResponse({"waited": shop.settings.pitfall_wait})


async def slow_async(request: Request) -> Response:
    """The same half-second wait, awaited: the loop serves the other requests meanwhile."""
    shop = _shop(request)
    shop.slow_entered.set()
    await shop.r.blpop(keys.key(shop.r, "shop-pitfall", "nothing"), shop.settings.pitfall_wait)
    return JSONResponse({"waited": shop.settings.pitfall_wait})


# -- the app --------------------------------------------------------------------------------------


def create_app(settings: Settings | None = None) -> Starlette:
    """The shop, configured by ``settings``; its clients are made when it starts serving."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            r = await aio.connect(settings.redis_url, namespace=settings.namespace)
            sync_r = patterns.connect(settings.redis_url, namespace=settings.namespace)
            shop = app.state.shop = Shop(settings, r, sync_r, SlowDatabase(settings.db_delay))
            shop.feed = await Feed(r, settings.feed).start()
        except Exception as error:  # uvicorn only logs it and exits: Served.start() raises it
            app.state.startup_error = error
            raise
        app.state.started = time.monotonic()
        try:
            yield
        finally:
            await shop.feed.stop()
            await aio.lock.drain()  # releases still running in the background finish first
            await r.aclose()
            pool = getattr(r, "connection_pool", None)
            if pool is not None:  # a pool from connect()'s registry is not closed by aclose()
                await pool.disconnect()

    routes = [
        Route("/api/quote", quote), Route("/products/{product_id}", product), Route("/stats", stats),
        Route("/session", session), Route("/login", login, methods=["POST"]), Route("/me", me),
        Route("/logout", logout, methods=["POST"]), Route("/logout-everywhere", logout_everywhere, methods=["POST"]),
        Route("/jobs/report", report, methods=["POST"]), Route("/orders", order, methods=["POST"]),
        Route("/events", events), Route("/ping", ping), Route("/pitfall/slow-sync", slow_sync),
        Route("/pitfall/slow-async", slow_async),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
