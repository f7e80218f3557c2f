"""# Chapter 09, the patterns in a web app: solutions

An idempotency key is a claim and a kept answer under one key. The claim is taken in one
command (`SET NX`), so of many copies arriving at once exactly one runs; it carries a TTL, so a
server that crashes mid-request does not block the key for ever; a failure gives it back, so a
retry can run; and the answer replaces the claim, kept for a day, so later retries get it
without running the handler again.
"""
from __future__ import annotations

import json

CHAPTER = "09_web_app"


async def idempotent(r, key, handler):
    """Run ``handler`` once per ``key``: 409 while it runs, its kept answer afterwards.

    `SET NX EX` claims the key only if nobody has: looking first (GET) and claiming after
    would let every copy that looked before the first claim run too. The claim lasts five
    minutes at most: a request that crashed its server ends with it. The kept answer is
    JSON of [status, body], told apart from the claim by its text.
    """
    name = f"idempotency:{key}"
    if await r.set(name, "in progress", nx=True, ex=300):
        try:
            status, body = await handler()
        except BaseException:
            await r.delete(name)  # nothing kept: a retry may run it
            raise
        await r.set(name, json.dumps([status, body]), ex=86400)
        return status, body
    kept = await r.get(name)
    if kept is None or kept == "in progress":
        return 409, {"error": "this request is in progress"}
    status, body = json.loads(kept)
    return status, body


CHECKS = [("idempotent", "patterns.exercises.webapp", "check")]
