"""Chapter checker tests (web app): the reference passes; each wrong answer gets one line naming its problem."""
from __future__ import annotations

import json

import pytest

from patterns.exercises import webapp
from solutions.webapp import idempotent as reference

CLAIMED = "in progress"


async def _kept_or_409(r, name):
    """What a request that could not claim the key answers: the kept answer, or 409 while it runs."""
    kept = await r.get(name)
    return (409, {}) if kept in (None, CLAIMED) else tuple(json.loads(kept))


async def look_then_claim(r, key, handler):  # check-then-act: every copy that looked first runs too
    name = f"idem:{key}"
    kept = await r.get(name)
    if kept == CLAIMED:
        return 409, {}
    if kept:
        return tuple(json.loads(kept))
    await r.set(name, CLAIMED, ex=300)
    status, body = await handler()
    await r.set(name, json.dumps([status, body]), ex=86400)
    return status, body


async def claim_without_ttl(r, key, handler):  # a crashed server's claim blocks the key for ever
    name = f"idem:{key}"
    if await r.set(name, CLAIMED, nx=True):
        try:
            status, body = await handler()
        except BaseException:
            await r.delete(name)
            raise
        await r.set(name, json.dumps([status, body]), ex=86400)
        return status, body
    return await _kept_or_409(r, name)


async def kept_for_ever(r, key, handler):
    name = f"idem:{key}"
    if await r.set(name, CLAIMED, nx=True, ex=300):
        try:
            status, body = await handler()
        except BaseException:
            await r.delete(name)
            raise
        await r.set(name, json.dumps([status, body]))  # the answer without a TTL
        return status, body
    return await _kept_or_409(r, name)


async def claim_kept_after_a_failure(r, key, handler):
    name = f"idem:{key}"
    if await r.set(name, CLAIMED, nx=True, ex=300):
        status, body = await handler()  # a failure leaves the claim: retries get 409 for five minutes
        await r.set(name, json.dumps([status, body]), ex=86400)
        return status, body
    return await _kept_or_409(r, name)


async def answer_not_kept(r, key, handler):  # a lock, not an idempotency key: a later retry runs again
    name = f"idem:{key}"
    if not await r.set(name, CLAIMED, nx=True, ex=300):
        return 409, {}
    try:
        return await handler()
    finally:
        await r.delete(name)


SEEN: dict = {}


async def in_this_process_only(r, key, handler):  # a dict: another app server never sees it
    if key in SEEN:
        return SEEN[key]
    SEEN[key] = (409, {})
    SEEN[key] = answer = await handler()
    return answer


async def forgot_an_await(r, key, handler):
    name = f"idem:{key}"
    if r.set(name, CLAIMED, nx=True, ex=300):  # a coroutine, never run: always true
        return await handler()
    return 409, {}


def not_async(r, key, handler):
    return 201, {}


async def the_error_swallowed(r, key, handler):
    name = f"idem:{key}"
    if await r.set(name, CLAIMED, nx=True, ex=300):
        try:
            status, body = await handler()
        except Exception:
            await r.delete(name)
            return 500, {"error": "failed"}
        await r.set(name, json.dumps([status, body]), ex=86400)
        return status, body
    return await _kept_or_409(r, name)


WRONG = [
    (look_then_claim, "ran the handler"),
    (claim_without_ttl, "had a TTL of -1 s"),
    (kept_for_ever, "never expires"),
    (claim_kept_after_a_failure, "the failed request kept its claim"),
    (answer_not_kept, "ran the handler again"),
    (in_this_process_only, "nothing was in Redis while the handler ran"),
    (forgot_an_await, "never awaited|not awaited|returned a coroutine|nothing was in Redis"),
    (not_async, "must be an `async def`"),
    (the_error_swallowed, "did not raise it"),
]


def test_the_reference_passes(capsys):
    webapp.check(reference)
    assert capsys.readouterr().out.startswith("✓ one run per key")


@pytest.mark.parametrize(("answer", "says"), WRONG, ids=[fn.__name__ for fn, _ in WRONG])
def test_each_wrong_answer_is_told_its_problem_in_one_line(capsys, answer, says):
    import re

    SEEN.clear()
    webapp.check(answer)
    out = capsys.readouterr().out
    assert out.startswith("not yet: ") and out.count("\n") == 1, out
    assert re.search(says, out), out


def test_a_stub_is_told_to_replace_it(capsys):
    async def stub(r, key, handler):
        raise NotImplementedError

    webapp.check(stub)
    assert "still raises NotImplementedError" in capsys.readouterr().out
