"""Caching: cache-aside with JSON values, and a Cache that survives stampedes.

``get_or_set`` is the seed's getOrSet done right. ``Cache`` adds what a busy
service needs: TTL jitter, negative caching, stampede protection (a single-flight
fill token and XFetch early refresh), stale-while-revalidate, hit/miss stats, and
serving from the source when Redis is down.

Entries are hashes ``{value: JSON, delta: ms}``. A hit is one round trip that sends
the entry's key and the XFetch draw and gets the JSON back (``cache_peek.lua``); only
when that finds no plain hit does ``cache_read.lua`` decide, with a fresh fill token,
who computes (so a miss costs one round trip more: it pays the fetch anyway). Writing
an entry (``cache_fill.lua``) is refused if it was invalidated while its value was
being computed.

The decisions live in one place for both kinds of client: ``CacheBase._steps`` is a generator
that yields each round trip, each call of the fetcher and each pause (see patterns.steps).
``Cache`` runs it with plain calls; ``patterns.aio.Cache`` awaits them.
"""
from __future__ import annotations

import functools
import inspect
import json
import logging
import math
import random
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, TypeVar

from . import keys, validate
from .breaker import Breaker
from .connection import FULL_ERRORS, UNAVAILABLE_ERRORS, check_kind
from .errors import NotSerializable, ValueTooLarge
from .scripts import load_script
from .steps import FETCH, Background, Batch, Pause, Steps, operations, run, synchronous

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_VALUE_BYTES = 100_000  # the seed's "no objects over 100 KB" rule
_PEEK = load_script("cache_peek")
_READ = load_script("cache_read")
_FILL = load_script("cache_fill")
_RELEASE = load_script("compare_and_delete")



def encode(value: Any, *, key: str = "", max_bytes: int | None = MAX_VALUE_BYTES) -> str:
    """``value`` as compact JSON, or a clear error: never pickle, never a silent truncation."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise NotSerializable(
            f"cannot cache {type(value).__name__} for {key!r} as JSON ({error}); "
            "return dicts, lists, str, int, float, bool or None (convert dates and objects first)"
        ) from None
    size = len(text.encode())
    if max_bytes is not None and size > max_bytes:
        raise ValueTooLarge(
            f"value for {key!r} is {size:,} bytes of JSON, over the {max_bytes:,}-byte limit: "
            "cache less (only the fields you need), split it, or raise max_value_bytes"
        )
    return text


def _is_default(signature: inspect.Signature, name: str, value: Any) -> bool:
    """Was ``name`` passed at its default value? (then it is left out of the key)"""
    default = signature.parameters[name].default
    if default is inspect.Parameter.empty:
        return False
    if value is default:
        return True
    try:
        return type(value) is type(default) and bool(value == default)
    except Exception:  # a value whose == fails or is not a bool: not the default, then
        return False


def canonical(value: Any) -> Any:
    """``value`` as JSON-ready data that keeps apart what plain JSON would merge.

    JSON writes a tuple as a list and a dict's int keys as strings, so ``(1, 2)`` and
    ``[1, 2]``, or ``{1: "a"}`` and ``{"1": "a"}``, would share a cache key while a
    function may well answer them differently. Tuples and dicts become tagged objects
    (``{"tuple": [...]}``, ``{"dict": [[key, value], ...]}``, pairs sorted), and no other
    JSON object is ever produced, so two different values never encode alike.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotSerializable(f"cannot build a cache key from {value!r}: JSON has no NaN or infinity")
        return value
    if isinstance(value, list):
        return [canonical(item) for item in value]
    if isinstance(value, tuple):
        return {"tuple": [canonical(item) for item in value]}
    if isinstance(value, dict):
        pairs = [[canonical(k), canonical(v)] for k, v in value.items()]
        return {"dict": sorted(pairs, key=lambda pair: json.dumps(pair, sort_keys=True))}
    raise NotSerializable(f"cannot build a cache key from {type(value).__name__} {value!r}: use JSON types "
                          "(str, int, float, bool, None, lists, tuples and dicts of them)")


@dataclass
class CacheStats:
    """What the cache did: every count a dashboard or an alert would want."""

    hits: int = 0
    misses: int = 0
    origin_calls: int = 0  # how often the fetcher (the database) was called
    early_refreshes: int = 0  # XFetch recomputations before expiry
    stale_served: int = 0  # stale values returned while someone else refreshed
    waits: int = 0  # callers that waited for another caller's fill
    fills_refused: int = 0  # writes refused because the entry was invalidated meanwhile
    redis_errors: int = 0  # Redis calls that failed (connection refused, timed out, ...)
    bypassed: int = 0  # calls served from the source without trying Redis (breaker open)

    @property
    def hit_ratio(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "hit_ratio": round(self.hit_ratio, 4)}


class CacheBase:
    """What a cache does, whichever client it talks to: its options, keys, stats and decisions.

    ttl              seconds an entry is fresh (before jitter)
    jitter           fraction of ttl taken off at random, so keys written together
                     do not all expire together (0.1: TTL between 90% and 100% of ttl)
    negative_ttl     seconds to cache a None result ("not found"), usually shorter
    stale_ttl        seconds a stale entry may still be served while one caller refreshes
    single_flight    on a miss, one caller computes and the others wait for it
    early_refresh_beta  XFetch's beta: > 0 recomputes shortly before expiry (1.0 is the
                     paper's default; larger refreshes earlier), 0 turns it off
    fill_timeout     seconds a fill token lives: how long a crashed filler blocks others
    wait_timeout     seconds a waiting caller waits before computing the value itself
    max_value_bytes  refuse values whose JSON is larger (None: no limit)
    breaker_seconds  after Redis fails, serve from the source this long without trying it
    rng, sleep       injectable for deterministic notebooks and tests
    """

    default_sleep: Callable[[float], Any] = time.sleep
    OPERATIONS = ("set", "invalidate")  # besides get_or_set (which takes a fetcher): see patterns.steps.operations

    def __init__(
        self,
        r: Any,
        namespace: str = "default",
        *,
        ttl: float = 300.0,
        jitter: float = 0.1,
        negative_ttl: float | None = 30.0,
        stale_ttl: float = 0.0,
        single_flight: bool = True,
        early_refresh_beta: float = 1.0,
        fill_timeout: float = 10.0,
        wait_timeout: float = 5.0,
        max_value_bytes: int | None = MAX_VALUE_BYTES,
        breaker_seconds: float = 5.0,
        rng: random.Random | None = None,
        sleep: Callable[[float], Any] | None = None,
    ) -> None:
        self._check_client(r)
        self.jitter = validate.number(jitter, "jitter")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be a fraction in [0, 1) of ttl, got {jitter!r}")
        self.beta = validate.number(early_refresh_beta, "early_refresh_beta", minimum=0)
        if max_value_bytes is not None:
            validate.whole(max_value_bytes, "max_value_bytes")
        self.r = r
        self.namespace = namespace
        self.ttl = validate.seconds(ttl, "ttl")
        self.negative_ttl = validate.optional_seconds(negative_ttl, "negative_ttl")
        self.stale_ttl = validate.seconds(stale_ttl, "stale_ttl", zero=True)
        self.single_flight = bool(single_flight)
        self.fill_timeout = validate.seconds(fill_timeout, "fill_timeout")
        self.wait_timeout = validate.seconds(wait_timeout, "wait_timeout", zero=True)
        self.max_value_bytes = max_value_bytes
        self.breaker = Breaker(validate.seconds(breaker_seconds, "breaker_seconds", zero=True),
                               f"cache {self.namespace}", log)
        self.rng = rng or random.Random()
        self.sleep = validate.function(type(self).default_sleep if sleep is None else sleep, "sleep", "seconds")
        self._full_warned_at = -math.inf
        self.stats = CacheStats()
        self._stats_lock = threading.Lock()

    def _check_client(self, r: Any) -> None:
        check_kind(r, asyncio=False, twin="patterns.aio.Cache (or patterns.aio.get_or_set)")

    # -- keys ---------------------------------------------------------------------------
    @property
    def namespace(self) -> str:
        return self._namespace

    @namespace.setter
    def namespace(self, namespace: str) -> None:
        self._namespace = keys.validate_namespace(namespace)
        self._kind = f"cache:{namespace}"  # built once, not at every read

    def key_for(self, key: str) -> str:
        """The Redis key of ``key``'s entry (its fill token shares the same hash tag)."""
        return keys.key(self.r, self._kind, key)

    def redis_keys(self, key: str) -> list[str]:
        """Every Redis key an entry uses (the entry, its fill token): one hash tag, one slot."""
        return [self.key_for(key), self._token_key(key)]

    def _token_key(self, key: str) -> str:
        return keys.key(self.r, self._kind, key, "fill")

    # -- writes: one MULTI/EXEC each -------------------------------------------------------
    def _set(self, key: str, value: Any, ttl: float | None = None) -> Steps[None]:
        """Write ``value`` now (write-through), cancelling any fill still in flight.

        Unlike reads, writes and invalidations raise when Redis is down: a lost
        invalidation would leave stale data behind without anyone knowing.
        """
        ttl = self.ttl if ttl is None else validate.seconds(ttl, "ttl")
        text = encode(value, key=key, max_bytes=self.max_value_bytes)
        entry, token_key = self.redis_keys(key)
        yield Batch([("DEL", token_key), ("HSET", entry, "value", text, "delta", 0),
                     ("PEXPIRE", entry, self._ttl_ms(ttl))], transaction=True)

    def _invalidate(self, key: str) -> Steps[bool]:
        """Delete ``key``'s entry and its fill token: a fill in flight will not write it back. True if there was one."""
        entry, token_key = self.redis_keys(key)
        existed, _ = yield Batch([("DEL", entry), ("DEL", token_key)], transaction=True)
        return bool(existed)

    # -- the steps of one get_or_set ----------------------------------------------------
    awaits_fetchers = False  # patterns.aio.Cache awaits an async def's result; this one would cache a coroutine

    def _get_or_set_steps(self, key: str, fetcher: Any, ttl: float | None) -> Steps:
        """What one ``get_or_set(key, fetcher, ttl)`` does, with the checks a call makes first."""
        if not callable(fetcher):
            validate.function(fetcher, "fetcher", "nothing (it returns the value)")
        if not self.awaits_fetchers and inspect.iscoroutinefunction(fetcher):
            raise TypeError(f"{getattr(fetcher, '__qualname__', fetcher)!r} is an async def: this cache would get a "
                            "coroutine, not its value; use patterns.aio.Cache (or patterns.aio.get_or_set)")
        return self._steps(key, self.ttl if ttl is None else ttl)

    def _steps(self, key: str, ttl: float) -> Steps:
        # The hit path: one script that sends the entry and the XFetch draw and answers the value,
        # or nothing. No token, no lock but the stats', no second key: hits are most calls.
        entry = keys.key(self.r, self._kind, key)
        if self.breaker.is_open():
            self._count("bypassed")
            return (yield from self._from_source())
        factor, stale_ttl = self._draw(), self.stale_ttl
        try:
            text = yield (_PEEK, (entry,), _peek_args(factor, stale_ttl) if factor or stale_ttl else ())
        except UNAVAILABLE_ERRORS as error:
            self._count("redis_errors")
            self.breaker.trip(error, f"serving {key!r} from the source")
            return (yield from self._from_source())
        except FULL_ERRORS as error:  # a read writes nothing, but a server may refuse any script when full
            self._count("redis_errors")
            self._warn_full(error)
            return (yield from self._from_source())
        if text is not None:
            with self._stats_lock:
                self.stats.hits += 1
            return json.loads(text)
        return (yield from self._settle(key, entry, ttl, factor))

    def _settle(self, key: str, entry: str, ttl: float, factor: float | None) -> Steps:
        """Not a plain hit: decide atomically who computes (cache_read.lua), then fill, serve or wait.

        ``factor`` is the draw the peek used, so one read is one draw whichever script answers it.
        """
        fill_keys = [entry, self._token_key(key)]
        deadline = time.monotonic() + self.wait_timeout
        delay, waited = 0.005, False
        while True:
            if factor is None:  # every later round is a read of its own
                if self.breaker.is_open():
                    self._count("bypassed")
                    return (yield from self._from_source())
                factor = self._draw()
            claim = self._read(fill_keys, factor)
            try:
                value, fresh_ms, token = self._read_reply((yield claim))
            except UNAVAILABLE_ERRORS as error:
                self._count("redis_errors")
                self.breaker.trip(error, f"serving {key!r} from the source")
                return (yield from self._from_source())
            except FULL_ERRORS as error:  # Redis is up but cannot store a fill token: no caching now
                self._count("redis_errors")
                self._warn_full(error)
                return (yield from self._from_source())
            except GeneratorExit:
                raise
            except BaseException as error:  # cancelled, or Ctrl-C, with the claim's reply unread: it may have
                yield from self._give_back(fill_keys[1], claim[2][0], error)  # made this caller the filler
                raise
            factor = None
            if value is not None and token is None:
                self._count("hits")
                if fresh_ms <= 0:
                    self._count("stale_served")  # someone else is refreshing it
                return json.loads(value)
            if token is not None:
                if value is not None and fresh_ms > 0:
                    self._count("hits")  # still fresh: this caller refreshes it early (XFetch)
                    self._count("early_refreshes")
                else:
                    self._count("misses")
                return (yield from self._fill(key, fill_keys, token, ttl))
            # A miss while another caller fills it (single flight): wait for its value.
            if not waited:
                self._count("waits")
                waited = True
            if time.monotonic() >= deadline:
                log.warning("cache %s: waited %.1fs for %r; computing it here", self.namespace, self.wait_timeout, key)
                self._count("misses")
                return (yield from self._from_source())
            yield Pause(delay * (0.5 + self.rng.random()))
            delay = min(delay * 2, 0.1)

    def _read(self, fill_keys: list[str], factor: float) -> tuple[Any, ...]:
        """The call of cache_read.lua: a fresh fill token, offered in case this caller is to fill."""
        args = [secrets.token_hex(16), int(self.fill_timeout * 1000), int(self.stale_ttl * 1000), repr(factor),
                int(self.single_flight)]
        return (_READ, fill_keys, args)

    @staticmethod
    def _read_reply(reply: list[Any]) -> tuple[str | None, int, str | None]:
        value, fresh_ms, token, _new = reply
        return value, int(fresh_ms), token

    def _fill(self, key: str, fill_keys: list[str], token: str, ttl: float) -> Steps:
        self._count("origin_calls")
        started = time.perf_counter()
        try:
            value = yield FETCH
            text = encode(value, key=key, max_bytes=self.max_value_bytes)
        except GeneratorExit:  # the steps were dropped unfinished: nothing more can be sent
            raise
        except BaseException as error:  # the fetcher failed or was interrupted (a task cancelled, Ctrl-C)
            yield from self._give_back(fill_keys[1], token, error)  # let the next caller try, not wait it out
            raise
        delta_ms = max(1, round((time.perf_counter() - started) * 1000))
        if value is None and self.negative_ttl is not None:
            ttl = self.negative_ttl
        try:
            written = yield (_FILL, fill_keys, [token, text, delta_ms, self._ttl_ms(ttl)])
        except UNAVAILABLE_ERRORS as error:
            self._count("redis_errors")
            self.breaker.trip(error, f"returning {key!r} uncached")
            return value
        except FULL_ERRORS as error:
            self._count("redis_errors")
            self._warn_full(error)
            yield from self._give_back(fill_keys[1], token)
            return value
        except GeneratorExit:
            raise
        except BaseException as error:  # cancelled or interrupted around the fill: a fill that ran took the
            yield from self._give_back(fill_keys[1], token, error)  # token with it; this then deletes nothing
            raise
        if not written:
            self._count("fills_refused")
        return value

    def _give_back(self, token_key: str, token: str, because: BaseException | None = None) -> Steps:
        """Delete this caller's fill token (if it is still this caller's), so the next caller fills at once.

        On the way out of a cancel or an interrupt (``because`` is no Exception) it goes in the
        background under asyncio: a second cancel (anyio cancels at every await) must not stop
        it half-way, and the cancelled caller must not wait for it. After a failed fetch it is
        made at once, so the caller's error comes after the token is gone.
        """
        release = (_RELEASE, [token_key], [token])
        try:
            yield release if because is None or isinstance(because, Exception) else Background((release,))
        except UNAVAILABLE_ERRORS + FULL_ERRORS:
            pass  # the token expires by itself after fill_timeout

    def _from_source(self) -> Steps:
        self._count("origin_calls")
        return (yield FETCH)

    # -- the parts ----------------------------------------------------------------------
    def _draw(self) -> float:
        """XFetch's factor for one read, beta * -ln(u): the rng is drawn only when early refresh is on."""
        beta = self.beta
        return beta * -math.log(1.0 - self.rng.random()) if beta else 0  # 0, not 0.0: sent as "0", as before

    def _warn_full(self, error: Exception) -> None:
        # Hits keep working, so the breaker stays closed; one warning per breaker period, not per miss.
        now = time.monotonic()
        if now - self._full_warned_at >= max(self.breaker.seconds, 1.0):
            self._full_warned_at = now
            log.warning("cache %s: Redis refuses writes (%s); serving misses from the source uncached",
                        self.namespace, error)

    def _ttl_ms(self, ttl: float) -> int:
        # Jitter only shortens: a caller asking for 300 s never gets data older than that.
        fresh = ttl * (1 - self.jitter * self.rng.random())
        return max(1, round((fresh + self.stale_ttl) * 1000))

    def _count(self, field: str) -> None:
        with self._stats_lock:
            setattr(self.stats, field, getattr(self.stats, field) + 1)


@operations(synchronous)
class Cache(CacheBase):
    """A cache-aside cache over one Redis, safe for many threads and processes at once (see CacheBase)."""

    def get_or_set(self, key: str, fetcher: Callable[[], T], ttl: float | None = None) -> T:
        """Return the cached value of ``key``, computing it with ``fetcher()`` when needed."""
        steps = self._get_or_set_steps(key, fetcher, None if ttl is None else _seconds(ttl, "ttl"))
        return run(self.r, steps, fetcher=fetcher, sleep=self.sleep)


    def cached(self, ttl: float | None = None, *, name: str | None = None,
               ignore: tuple[str, ...] = ()) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator: cache a function's result per JSON-encodable arguments.

        The wrapped function gains ``.invalidate(*args, **kwargs)``. The arguments are bound
        to the function's signature first, and an argument left at its default is left out, so
        ``f(42)``, ``f(user_id=42)`` and ``f(42, fields="all")`` with that default are one entry,
        ``f.invalidate(42)`` reaches it however it was called, and a default JSON cannot hold
        (a database handle) does not matter; arguments the function would refuse raise its
        TypeError before Redis is asked.

        name     what the entries are named after (default: the function's module and
                 qualified name). Required for a function made inside another one: every
                 function a factory makes has the same qualified name, and would share entries.
        ignore   argument names left out of the key (``"self"`` for a method, a connection
                 passed in): calls that differ only in them share an entry.

        The key does not change with the function's body: after changing what it computes,
        invalidate (or change ``name``), as with any cache. Values equal in Python but of other
        types (``1``, ``1.0``, ``True``) are separate entries: safe, if a little wasteful.
        """
        ttl, key_function = _cached_options(ttl, name, ignore)

        def decorate(fn: Callable[..., T]) -> Callable[..., T]:
            if inspect.iscoroutinefunction(fn):
                raise TypeError(f"{fn.__qualname__} is an async def: its result is a coroutine, which cannot be "
                                "cached; use patterns.aio.Cache(...).cached() with an asyncio client")
            key_of = key_function(fn)

            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> T:
                return self.get_or_set(key_of(args, kwargs), lambda: fn(*args, **kwargs), ttl)

            wrapper.invalidate = lambda *args, **kwargs: self.invalidate(key_of(args, kwargs))  # type: ignore[attr-defined]
            return wrapper

        return decorate


def _cached_options(ttl: float | None, name: str | None,
                    ignore: tuple[str, ...]) -> tuple[float | None, Callable[[Callable[..., Any]], Callable[[tuple, dict], str]]]:
    """``cached()``'s checked ttl, and what makes a function's ``key_of(args, kwargs)`` (see Cache.cached)."""
    ttl = None if ttl is None else validate.seconds(ttl, "ttl")
    if name is not None:
        validate.text(name, "name")
    left_out = set(ignore)

    def key_function(fn: Callable[..., Any]) -> Callable[[tuple, dict], str]:
        if name is None and "<locals>" in fn.__qualname__:
            raise TypeError(f"{fn.__qualname__} is defined inside another function, so every function made "
                            "there has this name and they would share cache entries: pass cached(name=...)")
        prefix = name or f"{fn.__module__}.{fn.__qualname__}"
        try:
            signature: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):  # some builtins have none: key on the call as made
            signature = None

        def key_of(args: tuple, kwargs: dict) -> str:
            if signature is None:
                call: Any = [list(args), kwargs]
            else:
                bound = signature.bind(*args, **kwargs)
                call = [(arg, value) for arg, value in bound.arguments.items()
                        if arg not in left_out and not _is_default(signature, arg, value)]
            try:
                return prefix + ":" + json.dumps(canonical(call), separators=(",", ":"))
            except (NotSerializable, ValueError) as error:  # ValueError: an int too long for JSON text
                raise NotSerializable(f"cannot build a cache key for {prefix}: {error}; leave arguments that are "
                                      "not data (a connection, a request) out of it with cached(ignore=(...))") from None

        return key_of

    return ttl, key_function


def _peek_args(factor: float, stale_ttl: float) -> tuple[str, ...]:
    """cache_peek.lua's arguments (none at all without XFetch or a stale grace: see the caller).

    The factor goes in millionths, a whole number: ``str(int)`` costs half a ``repr(float)``.
    """
    micro = str(int(factor * 1_000_000))
    return (micro, str(int(stale_ttl * 1000))) if stale_ttl else (micro,)


def get_or_set(r: Any, key: str, fetcher: Callable[[], T], ttl_seconds: float = 3600) -> T:
    """The seed's getOrSet, done right.

    JSON values (None and falsy values are cached too, so the fetcher runs once); the
    TTL is written with the value in one step; a hit is one round trip; a value
    invalidated while it was being fetched is not written back; if Redis is down the
    fetcher's value is returned instead of an error (and, for ``breaker_seconds``, without
    trying Redis again: one timeout per outage, not one per call).
    """
    cache = _seed_cache(r, Cache)
    steps = cache._get_or_set_steps(key, fetcher, _seconds(ttl_seconds, "ttl_seconds"))
    return run(cache.r, steps, fetcher=fetcher, sleep=cache.sleep)


def invalidate(r: Any, key: str) -> bool:
    """Delete an entry written by ``get_or_set``; True if there was one."""
    return _seed_cache(r, Cache).invalidate(key)


_SEED_CACHE = "_workbook_seed_cache"


C = TypeVar("C", bound=CacheBase)


def _seed_cache(r: Any, kind: type[C] = Cache) -> C:  # type: ignore[assignment]
    """The one cache of ``kind`` the seed functions use for client ``r``, made at its first call.

    Made per call it cost more than the hit itself (a seeded rng, a breaker, a lock, the
    option checks). It lives on the client, as its namespace does, so it goes when the client
    goes (a cycle the garbage collector frees), and each client has its own breaker. Its keys
    follow the client's namespace at every call.
    """
    cache = getattr(r, _SEED_CACHE, None)
    if not isinstance(cache, kind):  # none yet, or the other kind's (whose client check this one's refuses)
        cache = kind(r, jitter=0, negative_ttl=None, single_flight=False, early_refresh_beta=0)
        try:
            setattr(r, _SEED_CACHE, cache)
        except AttributeError:  # a client that takes no attributes: a Cache per call, as before
            pass
    return cache


def _seconds(value: Any, name: str) -> float:
    """``validate.seconds(value, name)``, with the common case (a plain number in range) checked first."""
    if type(value) in (int, float) and validate.MILLISECOND <= value <= validate.MAX_SECONDS:
        return value
    return validate.seconds(value, name)
