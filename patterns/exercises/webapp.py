"""Exercise of notebook 09: an idempotency key, so that a POST sent again runs once.

    async def idempotent(r, key, handler):   # handler(): the request's work, returns (status, body)
        ...
    check(idempotent)

A client whose POST (a payment, an order) timed out cannot know whether it ran, so it sends it
again with the same ``Idempotency-Key`` header. The first request with a key runs
``await handler()`` and keeps its answer; one that comes while it still runs gets ``(409, ...)``;
one that comes after gets the kept answer, and the handler does not run again. A handler that
raises has kept nothing: a retry runs it. Nothing is kept for ever.

The checker gives ``idempotent`` an asyncio client of a fresh embedded server, and runs it
in an event loop of its own (a thread), as an app server would: one request, a retry, 50
copies of one request at once, two keys, a failing handler, and a look at what is left.
"""
from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any, Callable

import fakeredis

from ..aio.connection import fake_client
from ..connection import fake_server
from . import NotYet, call_within, report

COPIES = 50
LONGEST_CLAIM = 300  # seconds a request in progress may hold its key: a crashed server's claim must end
LONGEST_KEPT = 86400  # seconds an answer may be kept


class _Handler:
    """The request's work: counts its runs, takes a moment, and answers (201, body)."""

    def __init__(self, body: dict, *, seconds: float = 0.0, fails: bool = False, look: Callable | None = None):
        self.body, self.seconds, self.fails, self.look = body, seconds, fails, look
        self.runs = 0

    async def __call__(self) -> tuple[int, dict]:
        self.runs += 1
        if self.look:
            self.look()
        await asyncio.sleep(self.seconds)
        if self.fails:
            raise RuntimeError("the payment provider is down")
        return 201, self.body


def _answer(result: Any, who: str) -> tuple[int, Any]:
    if inspect.isawaitable(result):
        raise NotYet(f"{who} returned a coroutine: something inside idempotent was not awaited")
    if not (isinstance(result, (tuple, list)) and len(result) == 2 and isinstance(result[0], int)):
        raise NotYet(f"{who} returned {result!r}; return (status, body), e.g. (201, {{...}})")
    return int(result[0]), result[1]


class _OverANetwork:
    """The learner's client, each command taking a moment as over a network (the embedded server
    answers at once, so a check-then-act would never be caught in the act). Everything else passes."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._client, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            result = value(*args, **kwargs)
            return _delayed(result) if inspect.isawaitable(result) else result

        return call


async def _delayed(reply: Any) -> Any:
    await asyncio.sleep(0.001)  # the request on its way
    result = await reply
    await asyncio.sleep(0.001)  # the reply on its way
    return result


def _keys_and_ttls(sync: Any) -> dict[str, int]:
    return {name: sync.ttl(name) for name in sync.scan_iter("*")}


def _check_bounded(sync: Any, longest: int, when: str) -> None:
    for name, ttl in _keys_and_ttls(sync).items():
        if ttl == -1:
            raise NotYet(f"{when}, the key {name!r} never expires: every key an idempotency key makes must "
                         "end by itself, or they pile up for ever")
        if ttl > longest:
            raise NotYet(f"{when}, the key {name!r} lives {ttl} s; at most {longest} s")


async def _scenario(fn: Callable[..., Any], server: Any) -> str:
    client = fake_client(server)
    r = _OverANetwork(client)  # the learner's client; the checker looks through a synchronous one
    sync = fakeredis.FakeRedis(server=server, decode_responses=True)
    claims: list[dict[str, int]] = []
    first = _Handler({"payment": "p-1", "amount": 42}, seconds=0.01, look=lambda: claims.append(_keys_and_ttls(sync)))
    status, body = _answer(await fn(r, "pay-1", first), "the first request")
    if (status, body) != (201, first.body) or first.runs != 1:
        raise NotYet(f"the first request returned {(status, body)!r} after running the handler {first.runs} "
                     f"time(s); it should run it once and return its answer, (201, {first.body!r})")
    if not claims or not claims[0]:
        raise NotYet("nothing was in Redis while the handler ran: another app server (another process) "
                     "would not know the request is in progress, and would run it again")
    for name, ttl in claims[0].items():
        if ttl == -1 or ttl > LONGEST_CLAIM:
            raise NotYet(f"while the handler ran, the key {name!r} had a TTL of {ttl} s: if that server crashed "
                         f"mid-request, retries would get 409 for {'ever' if ttl == -1 else f'{ttl} s'}; "
                         f"at most {LONGEST_CLAIM} s")
    _check_bounded(sync, LONGEST_KEPT, "once the answer is kept")

    retry = _Handler({"payment": "p-2"})
    again = _answer(await fn(r, "pay-1", retry), "a retry")
    if retry.runs:
        raise NotYet("a retry after the first request finished ran the handler again: the customer pays twice")
    if again != (201, first.body):
        raise NotYet(f"a retry got {again!r}; it should get the first request's answer, (201, {first.body!r})")

    await asyncio.gather(*(client.ping() for _ in range(COPIES)))  # a busy server's pool: a connection each
    crowd = _Handler({"order": "o-1"}, seconds=0.05)
    answers = [_answer(a, "one of the copies") for a in
               await asyncio.gather(*(fn(r, "order-1", crowd) for _ in range(COPIES)))]
    if crowd.runs != 1:
        raise NotYet(f"{COPIES} copies of one request sent at once ran the handler {crowd.runs} times: between "
                     "looking and claiming, another copy claimed too (check-then-act); claim in one command")
    statuses = sorted({status for status, _ in answers})
    if statuses != [201, 409] or sum(status == 201 for status, _ in answers) != 1:
        raise NotYet(f"{COPIES} copies sent at once got the statuses {statuses}: one runs (201) and every copy "
                     "that comes while it runs gets 409")

    other = _Handler({"order": "o-2"})
    if _answer(await fn(r, "order-2", other), "a request with another key")[0] != 201 or other.runs != 1:
        raise NotYet("a request with another key did not run: each key is a request of its own")

    failing = _Handler({"payment": "p-3"}, fails=True)
    try:
        await fn(r, "pay-3", failing)
    except RuntimeError:
        pass
    else:
        raise NotYet("when the handler raised, idempotent did not raise it: let the error through (the app "
                     "answers 500), and keep nothing")
    after = _Handler({"payment": "p-3"})
    status, _ = _answer(await fn(r, "pay-3", after), "a retry after a failure")
    if after.runs != 1 or status != 201:
        raise NotYet(f"after a failing handler, a retry got {status} without running it: the failed request "
                     "kept its claim, and the customer can never pay")
    _check_bounded(sync, LONGEST_KEPT, "at the end")
    await client.aclose()
    kept = json.dumps(body)
    return (f"one run per key, {COPIES} copies at once gave one 201 and {COPIES - 1} 409s, a retry got the kept "
            f"answer ({kept}), a failure kept nothing, and every key expires")


def check(fn: Callable[..., Any]) -> None:
    """Check ``async def idempotent(r, key, handler)`` and print one line: what is wrong first, or that it passes."""
    def body() -> str:
        if not inspect.iscoroutinefunction(fn):
            raise NotYet("idempotent must be an `async def` function: an app server awaits it in its handler")
        return call_within(60, "idempotent did not return within 60 s: is something waiting for ever?",
                           asyncio.run, _scenario(fn, fake_server()))

    report(body, "webapp")
