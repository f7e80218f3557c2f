"""Run a synchronous test against patterns.aio: the same test, the asyncio API underneath.

A test module's behaviour tests call ``Cache(r, ...)``, ``get_or_set(r, ...)`` and so on with a
synchronous client ``r``, which they also use to look at the keys. ``AsyncLeg`` stands in for
those names: each call builds, once per client, an asyncio client of the same key space (the
same FakeServer, URL, user and namespace), makes the ``patterns.aio`` object on it, and runs
every coroutine on an event loop in a thread of its own. Plain fetchers and decorated functions
run in a worker thread (``asyncio.to_thread``), as an async app's database calls would run
off the loop: one that waits on an Event never stops the loop that must set it.

So one test body checks both APIs, and neither can drift from the other.
"""
from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from typing import Any, Callable
from urllib.parse import quote

import redis

from patterns import aio, keys


class Loop:
    """An event loop running in a thread of its own, for synchronous test code to run coroutines on."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="aio-twin-loop", daemon=True)
        self.thread.start()

    def run(self, coroutine: Any, timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def async_client_like(r: Any) -> Any:
    """An asyncio client of ``r``'s key space: its FakeServer, or its server (or cluster), user and namespace."""
    namespace = keys.namespace_of(r) or None
    kwargs = r.get_connection_kwargs() if isinstance(r, redis.RedisCluster) else r.connection_pool.connection_kwargs
    if "server" in kwargs:  # fakeredis
        if kwargs.get("decode_responses"):
            client = aio.connection.fake_client(kwargs["server"])
        else:  # a client that answers with bytes: its twin does too
            import fakeredis

            client = fakeredis.FakeAsyncRedis(server=kwargs["server"])
        keys.set_namespace(client, namespace)
        client._patterns_loop = asyncio.get_running_loop()
        return client
    if isinstance(r, redis.RedisCluster):
        node = r.get_default_node()
        host, port = node.host, node.port
    else:
        host, port = kwargs["host"], kwargs["port"]
    user = kwargs.get("username")
    auth = f"{quote(user)}:{quote(kwargs.get('password') or '')}@" if user else ""
    return await aio.connect(f"redis://{auth}{host}:{port}", namespace=namespace)


async def _awaited(made: Any) -> Any:
    return await made


def in_a_thread(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` as an ``async def`` that runs it in a worker thread (its name and signature kept)."""

    @functools.wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    return run


class View:
    """A patterns.aio object seen synchronously: its coroutine methods run on the loop."""

    def __init__(self, target: Any, loop: Loop, sync_client: Any = None) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_loop", loop)
        object.__setattr__(self, "_sync_client", sync_client)

    def __getattr__(self, name: str) -> Any:
        if name == "r" and self._sync_client is not None:  # a test that writes through obj.r: the client it gave
            return self._sync_client
        value = getattr(self._target, name)
        if name == "cached":
            return self._cached
        if inspect.iscoroutinefunction(value):
            return lambda *args, **kwargs: _seen(self._loop.run(value(*_off_loop(args), **kwargs)), self)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)

    def __enter__(self) -> "View":
        """``with`` for an object used with ``async with`` (aio.Subscriber): entered on the loop."""
        self._loop.run(self._target.__aenter__())
        return self

    def __exit__(self, *exc: Any) -> None:
        self._loop.run(self._target.__aexit__(*exc))

    def _cached(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        decorate = self._target.cached(*args, **kwargs)

        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            cached = decorate(in_a_thread(fn))

            @functools.wraps(fn)
            def call(*a: Any, **kw: Any) -> Any:
                return self._loop.run(cached(*a, **kw))

            call.invalidate = lambda *a, **kw: self._loop.run(cached.invalidate(*a, **kw))  # type: ignore[attr-defined]
            return call

        return wrap


def _seen(result: Any, view: View) -> Any:
    """A result that is itself a patterns.aio object (a leaderboard's window Board) seen synchronously too."""
    if type(result).__module__.startswith("patterns.aio."):
        return View(result, view._loop, view._sync_client)
    return result


def _off_loop(args: tuple) -> tuple:
    """A call's arguments with each plain function (a fetcher) made to run in a worker thread."""
    return tuple(in_a_thread(a) if callable(a) and not inspect.iscoroutinefunction(a) else a for a in args)


class AsyncLeg:
    """The names a test module calls, backed by patterns.aio on one loop (see the module's docstring)."""

    def __init__(self) -> None:
        self.loop = Loop()
        self._clients: dict[int, tuple[Any, Any]] = {}  # id(sync client) -> (sync client, its asyncio twin)

    def client(self, r: Any) -> Any:
        """The asyncio twin of ``r``, made once (the seed functions keep their cache on it), in ``r``'s namespace now."""
        known = self._clients.get(id(r))
        if known is None or known[0] is not r:
            known = self._clients[id(r)] = (r, self.loop.run(async_client_like(r)))
        keys.set_namespace(known[1], keys.namespace_of(r) or None)  # a test may move r to another one
        return known[1]

    def view(self, make: Callable[..., Any]) -> Callable[..., View]:
        """``make(r, ...)`` (a patterns.aio class), called with ``r``'s twin and seen synchronously."""
        return lambda r, *args, **kwargs: View(self._made(make(self.client(r), *args, **kwargs)), self.loop, r)

    def view_over(self, make: Callable[..., Any]) -> Callable[..., View]:
        """``make([r1, r2, ...], ...)`` (aio.Redlock: several servers), with each client's twin, seen synchronously."""
        return lambda servers, *args, **kwargs: View(make([self.client(r) for r in servers], *args, **kwargs),
                                                     self.loop)

    def _made(self, made: Any) -> Any:
        """An object made as its module says to: ``await``ed where it is awaitable (aio.EventStream)."""
        return self.loop.run(_awaited(made)) if inspect.isawaitable(made) else made

    def function(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """A patterns.aio seed function ``fn(r, ...)``, called synchronously with ``r``'s twin."""
        return lambda r, *args, **kwargs: self.loop.run(fn(self.client(r), *_off_loop(args), **kwargs))

    def close(self) -> None:
        for _, client in self._clients.values():
            try:
                self.loop.run(client.aclose(), timeout=10)
            except Exception:
                pass
        self.loop.close()


def pytest_generate_tests(metafunc: Any) -> None:
    """Every test of a module that imports this runs on both APIs, unless marked ``sync_only`` (with why)."""
    sync_only = metafunc.definition.get_closest_marker("sync_only") is not None
    if "api" in metafunc.fixturenames:
        metafunc.parametrize("api", ["sync"] if sync_only else ["sync", "async"], indirect=True)


def both_apis(swaps: Callable[[AsyncLeg], dict[str, Any]]) -> Any:
    """An autouse fixture ``api`` for a test module: on its "async" leg, the module's names in
    ``swaps(leg)`` (e.g. ``{"Cache": leg.view(aio.Cache)}``) stand for the asyncio API, and
    ``trace(r)`` traces ``r``'s asyncio twin. Import ``pytest_generate_tests`` beside it."""
    import pytest

    @pytest.fixture(autouse=True)
    def api(request: Any, monkeypatch: Any) -> Any:
        if request.param == "sync":
            yield "sync"
            return
        leg = AsyncLeg()
        request.node.aio_leg = leg  # for a fixture that makes the twins up front (before it stops a server)
        names = request.module.__dict__
        for name, value in swaps(leg).items():
            monkeypatch.setitem(names, name, value)
        if "trace" in names:
            traced = names["trace"]
            monkeypatch.setitem(names, "trace", lambda r=None: traced(None if r is None else leg.client(r)))
        yield "async"
        leg.close()

    return api
