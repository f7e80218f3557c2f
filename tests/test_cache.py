"""Caching: the seed's getOrSet done right, and the Cache's stampede protection."""
from __future__ import annotations

import json
import logging
import math
import random
import threading
import time

import fakeredis
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aio_twins
from aio_twins import pytest_generate_tests  # noqa: F401  (pytest runs it: every test on both APIs)
from patterns import Cache, aio, get_or_set, invalidate, keys
from patterns.errors import NotSerializable, ValueTooLarge
from patterns.sandbox import LocalServer, redis_server_binary
from patterns.trace import trace
from conftest import _started


# Every test here runs twice: on patterns.cache, and on patterns.aio's twins through
# tests/aio_twins.py (Cache, get_or_set and invalidate swapped for synchronous views of the
# asyncio ones, on a client of the same key space), unless marked sync_only with the reason.
api = aio_twins.both_apis(lambda leg: {"Cache": leg.view(aio.Cache), "get_or_set": leg.function(aio.get_or_set),
                                       "invalidate": leg.function(aio.invalidate)})


class Origin:
    """A stand-in for the database: counts calls, optionally slow."""

    def __init__(self, value=None, delay: float = 0.0):
        self.value, self.delay, self.calls = value, delay, 0
        self._lock = threading.Lock()

    def __call__(self):
        with self._lock:
            self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        return self.value


class AlwaysEarly(random.Random):
    """An rng whose draw makes XFetch's factor huge: every read near expiry refreshes."""

    def random(self):
        return 0.999999


def run_together(n: int, target) -> list:
    """Start ``n`` threads at one barrier; return their results in thread order."""
    barrier, results = threading.Barrier(n), [None] * n

    def body(i):
        barrier.wait()
        results[i] = target()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


# -- get_or_set / invalidate: the seed's functions ---------------------------------------------


def test_a_miss_fetches_and_a_hit_costs_one_round_trip(r):
    origin = Origin({"name": "Ada"})
    assert get_or_set(r, "user:1", origin, 60) == {"name": "Ada"}
    with trace(r) as t:
        assert get_or_set(r, "user:1", origin, 60) == {"name": "Ada"}
    assert origin.calls == 1
    assert (t.names, t.round_trips) == (["EVALSHA"], 1)


@pytest.mark.parametrize("falsy", [None, 0, "", [], {}, False, 0.0])
def test_falsy_values_are_cached_so_the_fetcher_runs_once(r, falsy):
    origin = Origin(falsy)
    assert get_or_set(r, "k", origin, 60) == falsy
    assert get_or_set(r, "k", origin, 60) == falsy
    assert origin.calls == 1


def test_every_entry_is_written_with_its_ttl(r):
    get_or_set(r, "k", Origin(1), ttl_seconds=42)
    assert 41_000 < r.pttl(Cache(r).key_for("k")) <= 42_000


def test_values_are_stored_as_json_text_never_pickle(r):
    get_or_set(r, "k", Origin({"a": [1, 2.5, "x", None, True]}), 60)
    assert json.loads(r.hget(Cache(r).key_for("k"), "value")) == {"a": [1, 2.5, "x", None, True]}


@pytest.mark.parametrize("value", [{1, 2}, object(), b"bytes", float("nan")])
def test_values_json_cannot_hold_raise_a_clear_type_error(r, value):
    with pytest.raises(NotSerializable, match="as JSON") as caught:
        get_or_set(r, "k", Origin(value), 60)
    assert isinstance(caught.value, TypeError)
    assert r.exists(Cache(r).key_for("k")) == 0


def test_values_over_100_kb_are_refused_unless_the_limit_is_raised(r):
    big = "x" * 100_001
    with pytest.raises(ValueTooLarge, match="100,000-byte limit"):
        get_or_set(r, "big", Origin(big), 60)
    assert Cache(r, max_value_bytes=200_000).get_or_set("big", Origin(big)) == big


def test_a_refused_value_does_not_leave_others_waiting(r):
    cache = Cache(r, wait_timeout=5)
    with pytest.raises(ValueTooLarge):
        cache.get_or_set("big", Origin("x" * 100_001))
    assert r.exists(keys.key(r, "cache:default", "big", "fill")) == 0


def test_invalidate_reports_whether_there_was_an_entry_and_forces_a_fetch(r):
    origin = Origin("v")
    get_or_set(r, "k", origin, 60)
    assert invalidate(r, "k") is True
    assert invalidate(r, "k") is False
    get_or_set(r, "k", origin, 60)
    assert origin.calls == 2


def test_an_invalidation_during_a_slow_fetch_is_not_undone(r):
    """The race: a reader fetches old data, a writer invalidates, the reader writes it back."""
    database = {"price": 10}
    fetched, release = threading.Event(), threading.Event()

    def slow_fetch():
        value = dict(database)  # reads the OLD price
        fetched.set()
        release.wait(5)
        return value

    reader = threading.Thread(target=get_or_set, args=(r, "item", slow_fetch, 60))
    reader.start()
    fetched.wait(5)
    database["price"] = 12  # the writer updates the database ...
    invalidate(r, "item")  # ... and invalidates the cache
    release.set()
    reader.join(5)
    assert get_or_set(r, "item", lambda: dict(database), 60) == {"price": 12}


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    )
)
def test_any_json_value_comes_back_equal_and_typed(value):
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    get_or_set(client, "k", lambda: value, 60)
    assert get_or_set(client, "k", lambda: "not this", 60) == value


# -- Cache: stampede protection ------------------------------------------------------------------


def test_without_protection_every_concurrent_miss_calls_the_origin(r):
    origin = Origin("menu", delay=0.3)
    cache = Cache(r, "t", single_flight=False, early_refresh_beta=0)
    assert run_together(20, lambda: cache.get_or_set("menu", origin)) == ["menu"] * 20
    assert origin.calls == 20


def test_single_flight_lets_one_caller_compute_while_the_others_wait(r):
    origin = Origin("menu", delay=0.3)
    cache = Cache(r, "t", single_flight=True, early_refresh_beta=0)
    assert run_together(20, lambda: cache.get_or_set("menu", origin)) == ["menu"] * 20
    assert origin.calls == 1
    assert (cache.stats.misses, cache.stats.waits, cache.stats.hits) == (1, 19, 19)


def test_xfetch_refreshes_once_before_expiry_and_nobody_misses(r):
    cache = Cache(r, "t", single_flight=False, early_refresh_beta=1.0, rng=AlwaysEarly(), jitter=0)
    cache.get_or_set("menu", Origin("old", delay=0.05))  # delta ~50 ms recorded
    r.pexpire(cache.key_for("menu"), 500)  # fast-forward: 0.5 s of freshness left
    origin = Origin("new", delay=0.3)
    results = run_together(20, lambda: cache.get_or_set("menu", origin))
    assert origin.calls == 1
    assert cache.stats.misses == 1  # only the first fill, before the burst
    assert cache.stats.early_refreshes == 1
    assert results.count("new") == 1 and results.count("old") == 19
    assert cache.get_or_set("menu", origin) == "new"


def test_xfetch_leaves_entries_alone_far_from_expiry(r):
    cache = Cache(r, "t", ttl=300, early_refresh_beta=1.0, rng=AlwaysEarly())
    origin = Origin("v", delay=0.01)
    for _ in range(5):
        cache.get_or_set("k", origin)
    assert origin.calls == 1 and cache.stats.early_refreshes == 0


def test_beta_zero_never_refreshes_early(r):
    cache = Cache(r, "t", early_refresh_beta=0, rng=AlwaysEarly(), jitter=0)
    origin = Origin("v", delay=0.02)
    cache.get_or_set("k", origin)
    r.pexpire(cache.key_for("k"), 200)
    cache.get_or_set("k", origin)
    assert origin.calls == 1


def test_stale_entries_are_served_while_one_caller_refreshes(r):
    cache = Cache(r, "t", ttl=60, stale_ttl=30, jitter=0, early_refresh_beta=0)
    cache.get_or_set("k", Origin("old"))
    r.pexpire(cache.key_for("k"), 10_000)  # inside the 30 s stale grace: stale, still servable
    origin = Origin("new", delay=0.3)
    results = run_together(10, lambda: cache.get_or_set("k", origin))
    assert origin.calls == 1
    assert results.count("new") == 1 and results.count("old") == 9
    assert cache.stats.stale_served == 9


def test_a_waiter_computes_itself_when_the_filler_never_finishes(r):
    cache = Cache(r, "t", wait_timeout=0.2, fill_timeout=30)
    r.set(keys.key(r, "cache:t", "k", "fill"), "a crashed filler's token", px=30_000)
    origin = Origin("v")
    assert cache.get_or_set("k", origin) == "v"
    assert origin.calls == 1 and cache.stats.waits == 1


def test_a_failing_fetcher_gives_the_fill_token_back(r):
    cache = Cache(r, "t")

    def broken():
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError, match="database down"):
        cache.get_or_set("k", broken)
    assert r.exists(keys.key(r, "cache:t", "k", "fill")) == 0
    assert cache.get_or_set("k", Origin("v")) == "v"


# -- Cache: TTLs, negative caching, decorator, stats -----------------------------------------------


def test_jitter_only_shortens_ttls_and_spreads_them(r):
    cache = Cache(r, "t", ttl=100, jitter=0.2, rng=random.Random(7))
    for i in range(50):
        cache.get_or_set(f"k{i}", Origin(i))
    ttls = [r.pttl(cache.key_for(f"k{i}")) for i in range(50)]
    assert all(79_000 <= t <= 100_000 for t in ttls)
    assert max(ttls) - min(ttls) > 10_000


def test_none_results_are_cached_for_the_shorter_negative_ttl(r):
    cache = Cache(r, "t", ttl=300, negative_ttl=5, jitter=0)
    origin = Origin(None)
    assert cache.get_or_set("missing", origin) is None
    assert cache.get_or_set("missing", origin) is None
    assert origin.calls == 1
    assert 0 < r.pttl(cache.key_for("missing")) <= 5_000


def test_set_writes_through_and_cancels_a_fill_in_flight(r):
    cache = Cache(r, "t", jitter=0)
    cache.set("k", {"v": 2}, ttl=30)
    assert cache.get_or_set("k", Origin("unused")) == {"v": 2}
    assert 0 < r.pttl(cache.key_for("k")) <= 30_000


def test_the_decorator_caches_per_arguments_and_can_invalidate(r):
    cache = Cache(r, "t")
    calls = []

    @cache.cached(ttl=60, name="price")
    def price(item: str, currency: str = "EUR") -> dict:
        calls.append(item)
        return {"item": item, "currency": currency}

    assert price("tea") == price("tea") == {"item": "tea", "currency": "EUR"}
    assert price("tea", currency="USD")["currency"] == "USD"
    assert calls == ["tea", "tea"]
    assert price.invalidate("tea") is True
    price("tea")
    assert calls == ["tea", "tea", "tea"]
    assert price.__name__ == "price"


def test_the_decorator_refuses_arguments_json_cannot_hold(r):
    cache = Cache(r, "t")
    with pytest.raises(NotSerializable, match="cache key"):
        cache.cached(name="identity")(lambda x: x)(object())


def test_stats_count_hits_misses_and_origin_calls(r):
    cache = Cache(r, "t")
    origin = Origin(1)
    for _ in range(4):
        cache.get_or_set("k", origin)
    assert cache.stats.as_dict() | {} == {
        "hits": 3, "misses": 1, "origin_calls": 1, "early_refreshes": 0, "stale_served": 0,
        "waits": 0, "fills_refused": 0, "redis_errors": 0, "bypassed": 0, "hit_ratio": 0.75,
    }


def test_keys_live_under_the_clients_namespace(r):
    keys.set_namespace(r, "alice")
    cache = Cache(r, "menu")
    cache.get_or_set("today", Origin("soup"))
    assert cache.key_for("today") == "alice:cache:menu:{today}"
    assert r.exists("alice:cache:menu:{today}") == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ttl": 0}, "ttl must be a positive number"),
        ({"ttl": "60"}, "ttl must be a positive number of seconds"),
        ({"jitter": 1.5}, "jitter must be a fraction"),
        ({"early_refresh_beta": -1}, "early_refresh_beta"),
        ({"max_value_bytes": 0}, "max_value_bytes"),
        ({"namespace": "a b"}, "namespace"),
        ({"stale_ttl": -1}, "stale_ttl must be >= 0"),
    ],
)
def test_bad_arguments_say_what_is_wrong(kwargs, message):
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    with pytest.raises((ValueError, TypeError), match=message):
        Cache(client, **kwargs)


# -- Redis unavailable: serve from the source ------------------------------------------------------


def test_when_fakeredis_is_down_the_cache_serves_from_the_source(caplog):
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server, decode_responses=True)
    server.connected = False
    cache = Cache(client, "t")
    with caplog.at_level(logging.WARNING, logger="patterns.cache"):
        assert cache.get_or_set("k", Origin("from the database")) == "from the database"
    assert cache.stats.redis_errors == 1 and cache.stats.origin_calls == 1
    assert "Redis unavailable" in caplog.text


def test_after_a_failure_the_breaker_skips_redis_then_tries_again():
    server = fakeredis.FakeServer()
    cache = Cache(fakeredis.FakeRedis(server=server, decode_responses=True), "t", breaker_seconds=0.2)
    server.connected = False
    origin = Origin("v")
    for _ in range(3):
        assert cache.get_or_set("k", origin) == "v"
    assert (cache.stats.redis_errors, cache.stats.bypassed, origin.calls) == (1, 2, 3)
    server.connected = True
    time.sleep(0.25)
    cache.get_or_set("k", origin)
    assert cache.get_or_set("k", origin) == "v"
    assert cache.stats.hits == 1 and cache.stats.redis_errors == 1


@pytest.mark.sync_only("a redis.Redis with timeouts of its own; tests/test_aio_cache.py has the asyncio client's twin")
def test_a_black_holed_server_costs_one_timeout_not_one_per_request():
    """A server that accepts no connection at all: only the first request waits for the timeout."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)  # never accepted: once its backlog is full, new connects hang
    fillers = []
    for _ in range(4):  # fill the backlog without waiting for it
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(listener.getsockname())
        fillers.append(filler)
    try:
        client = redis.Redis(*listener.getsockname(), socket_connect_timeout=0.3, socket_timeout=0.3,
                             retry=None, decode_responses=True)
        cache = Cache(client, "t")
        started = time.monotonic()
        results = [cache.get_or_set(f"k{i}", Origin(i)) for i in range(20)]
        elapsed = time.monotonic() - started
    finally:
        for s in fillers:
            s.close()
        listener.close()
    assert results == list(range(20))
    assert cache.stats.redis_errors == 1 and cache.stats.bypassed == 19
    assert elapsed < 3  # one 0.3 s timeout, not twenty


@pytest.mark.sync_only("a redis.Redis with timeouts of its own; tests/test_aio_cache.py has the asyncio client's twin")
def test_when_the_real_server_is_unreachable_the_cache_serves_from_the_source_quickly():
    from helpers import refusing_port

    from patterns import connection

    with refusing_port() as port:
        # The retry policy connect() gives every client (redis-py's own default backs off for up
        # to seconds, at random): the cache's part is to give up on Redis at once, not to retry.
        client = redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=0.5, decode_responses=True,
                             retry=connection._retry())
        started = time.monotonic()
        assert get_or_set(client, "k", Origin("from the database"), 60) == "from the database"
    assert time.monotonic() - started < 5


# -- hardening: one call, one key ------------------------------------------------------------------


def test_a_call_has_one_key_however_its_arguments_are_passed(r):
    cache = Cache(r, "t")
    calls = []

    @cache.cached(ttl=60, name="profile")
    def profile(user_id: int, fields: str = "all") -> dict:
        calls.append(user_id)
        return {"id": user_id}

    profile(42)
    profile(user_id=42)
    profile(42, "all")
    profile(42, fields="all")
    assert calls == [42]  # one entry, four spellings
    assert profile.invalidate(user_id=42) is True
    profile(42)
    assert calls == [42, 42]  # the invalidation reached the entry every spelling reads


@pytest.mark.parametrize(("first", "second"), [
    ((1, 2), [1, 2]),
    ({1: "a"}, {"1": "a"}),
    (1, 1.5),
    (True, 1),
    (None, "null"),
])
def test_different_arguments_never_share_a_key(r, first, second):
    cache = Cache(r, "t")
    seen = []

    @cache.cached(ttl=60, name="echo")
    def echo(value):
        seen.append(value)
        return repr(value)

    assert echo(first) == repr(first) and echo(second) == repr(second)
    assert len(seen) == 2


def test_arguments_the_function_would_refuse_are_refused_before_redis(r):
    cache = Cache(r, "t")
    cached = cache.cached(name="identity")(lambda user_id: user_id)
    with trace(r) as t:
        with pytest.raises(TypeError):
            cached(1, 2)
    assert t.commands == []


# -- hardening: a server that cannot store ---------------------------------------------------------


@pytest.fixture(scope="module")
def full_server():
    """A real server whose memory policy is noeviction, as docs/workshop.md recommends."""
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed")
    server = _started(lambda: LocalServer("--maxmemory-policy", "noeviction"))
    yield server
    server.cleanup()


def test_a_cache_whose_redis_is_out_of_memory_serves_from_the_source(full_server):
    client = redis.Redis(port=full_server.port, decode_responses=True)
    client.flushall()
    cache = Cache(client, "t")
    assert cache.get_or_set("kept", Origin("cached before")) == "cached before"
    client.config_set("maxmemory", 1)  # now over maxmemory: every write is refused (OOM)
    try:
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            client.set("probe", "x")
        origin = Origin({"fresh": True})
        assert [cache.get_or_set(f"new-{i}", origin) for i in range(3)] == [{"fresh": True}] * 3
        assert origin.calls == 3 and cache.stats.redis_errors == 3
        assert cache.get_or_set("kept", Origin("unused")) == "cached before"  # hits still come from Redis
        assert get_or_set(client, "seed", lambda: 7) == 7  # and the seed's function too
    finally:
        client.config_set("maxmemory", 0)
        client.flushall()


# -- hardening: durations Redis cannot express -------------------------------------------------------


@pytest.mark.parametrize("option", ["ttl", "negative_ttl", "stale_ttl", "fill_timeout", "wait_timeout",
                                    "breaker_seconds"])
@pytest.mark.parametrize("value", [math.inf, math.nan, 0.0004, -1, True])
def test_durations_redis_cannot_express_are_value_errors_naming_the_option(option, value):
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    with pytest.raises((TypeError, ValueError), match=option) as raised:
        Cache(client, **{option: value})
    assert raised.type is (TypeError if value is True else ValueError)


@pytest.mark.parametrize("ttl", [math.inf, 0.0004, math.nan, 0])
def test_get_or_set_refuses_a_ttl_redis_cannot_express(r, ttl):
    with pytest.raises(ValueError, match="ttl"):
        get_or_set(r, "k", lambda: 1, ttl_seconds=ttl)


@pytest.mark.parametrize(("option", "value"), [("early_refresh_beta", math.nan), ("early_refresh_beta", math.inf),
                                               ("jitter", math.nan), ("max_value_bytes", 1.5),
                                               ("max_value_bytes", True)])
def test_numbers_that_are_not_finite_or_whole_are_refused(option, value):
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    with pytest.raises((TypeError, ValueError), match=option):
        Cache(client, **{option: value})


def test_a_read_sent_again_after_a_lost_reply_still_makes_this_caller_the_filler(r):
    # A retried read may have run already and set this caller's fill token; sent again, it must
    # hand the same caller the token, not tell it to wait for itself until wait_timeout.
    from patterns import cache as cache_module

    cache = Cache(r, "t")
    arguments = ["my-token", 10_000, 0, "0", 1]
    first = cache_module._READ(r, cache.redis_keys("k"), arguments)
    again = cache_module._READ(r, cache.redis_keys("k"), arguments)
    assert first[2] == "my-token" and again[2] == "my-token"
    other = cache_module._READ(r, cache.redis_keys("k"), ["other-token", 10_000, 0, "0", 1])
    assert other[2] is None  # anyone else waits for the filler (single flight)


# -- hardening, second review -------------------------------------------------------------------------


def test_functions_a_factory_makes_must_be_named_or_they_would_share_entries(r):
    cache = Cache(r, "t")

    def loader(table):
        def load(key):
            return f"{table}:{key}"
        return load

    with pytest.raises(TypeError, match="name="):
        cache.cached()(loader("users"))
    users, orders = cache.cached(name="users")(loader("users")), cache.cached(name="orders")(loader("orders"))
    assert (users(1), orders(1)) == ("users:1", "orders:1")


def test_a_default_json_cannot_hold_does_not_stop_the_function_being_cached(r):
    cache = Cache(r, "t")
    database, calls = object(), []

    @cache.cached(name="lookup")
    def lookup(key, db=database):
        calls.append(key)
        return key.upper()

    assert lookup("a") == lookup("a") == lookup("a", db=database) == "A" and calls == ["a"]


def test_a_method_is_cached_across_instances_when_self_is_ignored(r):
    cache = Cache(r, "t")
    calls = []

    class Repository:
        @cache.cached(name="Repository.find", ignore=("self",))
        def find(self, key):
            calls.append(key)
            return {"key": key}

    assert Repository().find("a") == Repository().find("a") == {"key": "a"} and calls == ["a"]


def test_under_oom_a_stale_entry_is_served_from_redis_not_the_source(full_server):
    client = redis.Redis(port=full_server.port, decode_responses=True)
    client.flushall()
    cache = Cache(client, "t", ttl=0.1, stale_ttl=60, jitter=0, early_refresh_beta=0)
    cache.get_or_set("k", Origin({"v": 1}))
    time.sleep(0.15)  # fresh for 0.1 s: now stale, still servable for a minute
    client.config_set("maxmemory", 1)
    try:
        origin = Origin({"v": 2})
        assert [cache.get_or_set("k", origin) for _ in range(5)] == [{"v": 1}] * 5
        assert origin.calls == 0 and cache.stats.stale_served == 5
    finally:
        client.config_set("maxmemory", 0)
        client.flushall()


def test_a_fill_sent_again_after_a_lost_reply_counts_as_written(r):
    from patterns import cache as cache_module

    cache = Cache(r, "t")
    fill_keys = cache.redis_keys("k")
    _, _, token, _ = cache_module._READ(r, fill_keys, ["my-token", 10_000, 0, "0", 1])
    arguments = [token, '"v"', 5, 60_000]
    assert cache_module._FILL(r, fill_keys, arguments) == 1
    assert cache_module._FILL(r, fill_keys, arguments) == 1  # the same call again: it was written
    assert cache_module._FILL(r, fill_keys, [token, '"other"', 5, 60_000]) == 0  # another value: refused


def test_an_argument_too_big_for_a_key_is_not_serializable(r):
    cache = Cache(r, "t")
    with pytest.raises(NotSerializable, match="cache key"):
        cache.cached(name="big")(lambda n: n)(10**5000)


# -- the hit path: one script, one value, no token (cache_peek.lua) ------------------------------------
#
# A hit sends the entry and the XFetch draw to cache_peek.lua and gets the JSON text back; anything
# else gets nothing, and only then does cache_read.lua decide, atomically and with a fresh token, who
# computes. Each test below proves that a guarantee the one-script read gave still holds.


class Scripted(random.Random):
    """An rng that answers the given draws in turn (then 0.5), counting them."""

    def __init__(self, *draws: float):
        super().__init__(0)
        self.draws, self.taken = list(draws), 0

    def random(self):
        self.taken += 1
        return self.draws.pop(0) if self.draws else 0.5


def _entry(r, cache, key, value, *, delta_ms, ttl_ms):
    """An entry as cache_fill.lua writes it, with a chosen delta and TTL (no fill token)."""
    entry = cache.key_for(key)
    r.hset(entry, mapping={"value": json.dumps(value), "delta": delta_ms})
    if ttl_ms is not None:
        r.pexpire(entry, ttl_ms)
    return entry


@pytest.mark.sync_only("puts a call between the synchronous client's round trips (helpers.before_round_trip); the decisions are CacheBase's, shared")
def test_an_invalidation_at_any_point_of_a_hit_still_refuses_the_refresh_in_flight(r):
    """A hit sends no fill token. While one caller refreshes an entry (XFetch), another reads it and
    a writer invalidates it before or after any round trip of that read: the refresher's old value
    is never written back, whatever the reader did meanwhile."""
    from helpers import before_round_trip, round_trips_of

    reader = Cache(r, "t", jitter=0, early_refresh_beta=0)  # plain hits
    refresher = Cache(r, "t", jitter=0, rng=AlwaysEarly())  # refreshes early, whatever is left
    database = {"price": 10}
    _entry(r, reader, "item", {"price": 10}, delta_ms=100_000, ttl_ms=60_000)
    reader.get_or_set("item", lambda: dict(database))  # scripts loaded: a hit is its round trips alone
    points = round_trips_of(r, lambda: reader.get_or_set("item", lambda: dict(database))) + 1
    assert points == 2
    for point in range(1, points + 1):
        r.delete(*reader.redis_keys("item"))
        database["price"] = 10
        _entry(r, reader, "item", {"price": 10}, delta_ms=100_000, ttl_ms=60_000)
        fetched, release, refused = threading.Event(), threading.Event(), refresher.stats.fills_refused

        def slow_fetch():
            old = dict(database)  # reads the OLD price ...
            fetched.set()
            release.wait(10)  # ... and is slow to return it
            return old

        filler = threading.Thread(target=refresher.get_or_set, args=("item", slow_fetch))
        filler.start()
        assert fetched.wait(10)
        written = []

        def writer():
            database["price"] = 12  # the database changes ...
            reader.invalidate("item")  # ... and the cache entry is invalidated
            written.append(True)

        with before_round_trip(point, writer):
            seen = reader.get_or_set("item", lambda: dict(database))
        if not written:  # the point after the read's last round trip
            writer()
        release.set()
        filler.join(10)
        assert seen in ({"price": 10}, {"price": 12})
        assert refresher.stats.fills_refused == refused + 1, f"the old value was written back (point {point})"
        cached = r.hget(reader.key_for("item"), "value")
        assert cached is None or json.loads(cached) == {"price": 12}, f"the old price is cached (point {point})"
        assert reader.get_or_set("item", lambda: dict(database)) == {"price": 12}


@pytest.mark.sync_only("puts a call between the synchronous client's round trips (helpers.before_round_trip); the decisions are CacheBase's, shared")
def test_a_fill_landing_between_a_miss_and_its_claim_is_used_not_fetched_again(r):
    """A miss is two reads now: the peek, then cache_read.lua's claim. Another caller's whole fill
    landing before either of them leaves this caller nothing to fetch: the origin runs once."""
    from helpers import before_round_trip

    cache = Cache(r, "t", early_refresh_beta=0)
    cache.get_or_set("warm", Origin(1))  # scripts loaded
    cache.invalidate("warm")
    fetched_at = []

    def recording_origin():
        fetched_at.append(counted[0])
        return "v"

    with before_round_trip(10**6, lambda: None) as counted:
        cache.get_or_set("warm", recording_origin)
    assert fetched_at == [2]  # the peek and the claim come before the fetch
    for point in (1, 2):
        cache.invalidate("k")
        mine, theirs = Origin("v"), Origin("v")
        with before_round_trip(point, lambda: cache.get_or_set("k", theirs)):
            assert cache.get_or_set("k", mine) == "v"
        assert (mine.calls, theirs.calls) == (0, 1), f"another caller's fill before round trip {point}"


def test_one_read_is_one_draw_and_the_claim_decides_with_the_peeks_draw(r):
    """XFetch draws once per read, as before the split (seeded notebooks print the same numbers):
    the claim that follows a peek reuses its draw, so both scripts decide the same read alike."""
    cache = Cache(r, "t", jitter=0, rng=Scripted(0.999999, 0.0))  # "refresh now", then "never"
    _entry(r, cache, "k", "old", delta_ms=10_000, ttl_ms=60_000)  # 60 s left < 10 s * 13.8: refresh
    assert cache.get_or_set("k", Origin("new")) == "new"  # decided by the first draw, in both scripts
    assert cache.stats.early_refreshes == 1
    assert cache.rng.taken == 2  # the read's draw and the TTL's (jitter draws even when it is 0)
    cache.rng.taken = 0
    assert cache.get_or_set("k", Origin("unused")) == "new"
    assert cache.rng.taken == 1  # a plain hit: one draw


def test_hit_counts_are_exact_however_many_threads_hit_at_once(r):
    import sys

    cache = Cache(r, "t")
    cache.get_or_set("k", Origin(1))
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        run_together(8, lambda: [cache.get_or_set("k", Origin(2)) for _ in range(150)])
    finally:
        sys.setswitchinterval(interval)
    assert (cache.stats.hits, cache.stats.misses, cache.stats.origin_calls) == (1200, 1, 1)


def test_a_hit_sends_the_entry_and_the_draw_and_a_miss_costs_one_round_trip_more(r):
    from patterns import cache as cache_module

    cache = Cache(r, "t")
    cache.get_or_set("warm", Origin(1))  # scripts loaded
    with trace(r) as miss:
        cache.get_or_set("k", Origin("v"))
    with trace(r) as hit:
        cache.get_or_set("k", Origin("v"))
    assert (miss.names, miss.round_trips) == (["EVALSHA"] * 3, 3)  # peek, claim, fill
    assert [c.args[1] for c in miss.commands] == [cache_module._PEEK.sha, cache_module._READ.sha,
                                                  cache_module._FILL.sha]
    (command,) = hit.commands
    sha, numkeys, entry, factor = command.args[1:]  # one key, one argument: no token, no options
    assert (sha, numkeys, entry) == (cache_module._PEEK.sha, "1", cache.key_for("k"))
    assert int(factor) >= 0
    with trace(r) as seed_hit:
        get_or_set(r, "k2", Origin("v"), 60)
        get_or_set(r, "k2", Origin("v"), 60)
    assert seed_hit.commands[-1].args[2:] == ("1", Cache(r).key_for("k2"))  # no XFetch: no argument at all


@pytest.mark.parametrize("ttl_ms", [None, 60_000])
@pytest.mark.parametrize("delta_ms", [0, 1_000])
@pytest.mark.parametrize("factor", [0.0, 5.0, 100.0])
@pytest.mark.parametrize("stale_ms", [0, 30_000, 70_000])
def test_the_hit_script_calls_a_hit_exactly_what_the_read_script_calls_one(r, ttl_ms, delta_ms, factor, stale_ms):
    """cache_peek.lua answers a value exactly when cache_read.lua would serve it as a plain hit
    (no TTL, stale, due for an early refresh, missing: neither), so splitting the read changes no
    decision. The freshness left and delta * factor are seconds apart in every case."""
    from patterns import cache as cache_module

    cache = Cache(r, "t", stale_ttl=stale_ms / 1000 or 0)
    for present in (True, False):
        r.delete(*cache.redis_keys("k"))
        if present:
            _entry(r, cache, "k", "v", delta_ms=delta_ms, ttl_ms=ttl_ms)
        peeked = cache_module._PEEK(r, [cache.key_for("k")], cache_module._peek_args(factor, stale_ms / 1000))
        value, _fresh, token, _new = cache_module._READ(r, cache.redis_keys("k"),
                                                        ["token", 10_000, stale_ms, repr(factor), 1])
        read_says_hit = value is not None and token is None  # nobody held a token: a plain hit
        assert (peeked is not None) == read_says_hit
        assert peeked is None or peeked == value == '"v"'


@pytest.mark.sync_only("counts patterns.cache.Cache objects; tests/test_aio_cache.py counts patterns.aio.Cache ones")
def test_get_or_set_makes_one_cache_per_client_and_lets_it_go_with_the_client(monkeypatch):
    import gc
    import weakref

    from patterns import cache as cache_module

    made = []
    init = cache_module.Cache.__init__
    monkeypatch.setattr(cache_module.Cache, "__init__", lambda self, *a, **k: made.append(1) or init(self, *a, **k))
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    origin = Origin("v")
    for _ in range(5):
        assert get_or_set(client, "k", origin, 60) == "v"
    assert invalidate(client, "k") is True
    assert get_or_set(client, "k", origin, 60) == "v"
    assert (len(made), origin.calls) == (1, 2)
    other = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    get_or_set(other, "k", origin, 60)
    assert len(made) == 2  # a client of its own, a cache of its own
    gone = weakref.ref(client)
    del client
    gc.collect()
    assert gone() is None  # the cache kept on the client does not keep the client alive


def test_get_or_set_keys_follow_the_clients_namespace_at_every_call(r):
    get_or_set(r, "menu", Origin("soup"), 60)
    keys.set_namespace(r, "alice")
    get_or_set(r, "today", Origin("soup"), 60)
    assert r.exists("alice:cache:default:{today}") == 1


def test_get_or_set_keeps_the_seeds_options_none_for_its_ttl_and_no_waiting(r):
    origin = Origin(None)
    assert get_or_set(r, "missing", origin, 600) is None
    assert 599_000 < r.pttl(Cache(r).key_for("missing")) <= 600_000  # no shorter negative TTL, no jitter
    r.set(keys.key(r, "cache:default", "held", "fill"), "a crashed filler's token", px=30_000)
    started = time.monotonic()
    assert get_or_set(r, "held", Origin("v"), 60) == "v"  # no single flight: it does not wait
    assert time.monotonic() - started < 1
    assert get_or_set(r, "held", Origin("other"), 60) == "v"


@pytest.mark.sync_only("reads the synchronous client's seed cache; tests/test_aio_cache.py reads the asyncio client's")
def test_get_or_set_skips_redis_for_a_while_after_it_failed_on_that_client(caplog):
    """The breaker of get_or_set's cache lives with the client, as a Cache's does: an outage costs
    one failed call per breaker period, not one per request (made per call, each call tried again)."""
    from patterns import cache as cache_module

    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server, decode_responses=True)
    server.connected = False
    origin = Origin("from the database")
    with caplog.at_level(logging.WARNING, logger="patterns.cache"):
        assert [get_or_set(client, "k", origin, 60) for _ in range(3)] == ["from the database"] * 3
    stats = cache_module._seed_cache(client).stats
    assert (stats.redis_errors, stats.bypassed, origin.calls) == (1, 2, 3)
    assert caplog.text.count("Redis unavailable") == 1


@pytest.mark.sync_only("raises Ctrl-C from inside a synchronous script call; tests/test_aio_cache.py cancels tasks at each await")
@pytest.mark.parametrize(("script", "ran"), [("_READ", True), ("_FILL", False)])
def test_a_ctrl_c_during_the_claim_or_the_fill_gives_the_fill_token_back(r, monkeypatch, script, ran):
    """Review of 3 Dec: interrupted with the claim's reply unread, or around the fill, the caller
    kept a token it never used, and every other caller waited wait_timeout for it."""
    from patterns import cache as cache_module

    cache = Cache(r, "t", early_refresh_beta=0, fill_timeout=30)
    real = getattr(cache_module, script)

    def interrupted(*args, **kwargs):
        if ran:
            real(*args, **kwargs)  # it ran on the server, and the reply was never read
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_module, script, interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache.get_or_set("k", Origin("v"))
    monkeypatch.setattr(cache_module, script, real)
    assert r.exists(cache.redis_keys("k")[1]) == 0
