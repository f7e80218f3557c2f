"""Exercise of notebook 04: create a session the safe way.

    def create_session(r, user_id, data):   # return a new session id; store data under "session:<id>"
        ...
    check(create_session)
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable

from ..trace import trace
from . import NotYet, fresh_client, report

MAX_TTL = 1800


def random_bits(ids: list[str]) -> int:
    """How many bits of the ids actually vary, position by position.

    Length times the alphabet's size overcounts: ``uuid4().hex`` is 32 hex digits (128 bits by
    that count) but one digit is always "4" and another only 8, 9, a or b, leaving 122 random
    bits. So each position counts the bits of the values seen there (rounded up to a power of
    two: 200 draws of 64 letters show nearly all of them), and a position that never changes
    counts nothing. ``token_urlsafe(16)`` gives 21 positions of 6 bits and a last one of 2: 128.
    """
    shortest = min(len(i) for i in ids)
    return sum(math.ceil(math.log2(len({i[p] for i in ids}))) for p in range(shortest))


def _check_body(fn: Callable[[Any, str, dict], str]) -> str:
    r = fresh_client()
    with trace(r) as t:
        session_id = fn(r, "ada", {"theme": "dark"})
    if not isinstance(session_id, str):
        raise NotYet(f"it returned {session_id!r}; return the new session id as a str")
    key = f"session:{session_id}"
    if not r.exists(key):
        raise NotYet(f"nothing was stored under {key!r}")
    ids = [session_id] + [fn(r, "ada", {"theme": "light", "visit": n}) for n in range(200)]
    if len(set(ids)) != len(ids):
        raise NotYet("two sessions got the same id: use secrets.token_urlsafe(), not the user id or the time")
    bits = random_bits(ids)
    if bits < 128 or all("ada" in i for i in ids):  # every id carries the user id: derived, not random
        raise NotYet(
            f"ids like {session_id!r} carry about {bits:.0f} bits and may be guessable; use "
            "secrets.token_urlsafe(16) or longer (at least 128 random bits)"
        )
    if not all(re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids):
        raise NotYet(f"the id {session_id!r} has characters that need escaping in a cookie; use token_urlsafe")
    ttl = r.ttl(key)
    if ttl < 0:
        raise NotYet("the session has no TTL: it would never expire")
    if ttl > MAX_TTL:
        raise NotYet(f"the session lives {ttl} s; keep an idle timeout of at most {MAX_TTL} s (30 minutes)")
    atomic = t.round_trips == 1 and (len(t.names) == 1 or "MULTI" in t.names)  # one command, a script, or MULTI
    if not atomic:
        raise NotYet(
            f"the session was written in {t.round_trips} round trip(s) ({', '.join(t.names)}): a crash between "
            "the data and its TTL leaves a session that never expires; write both in one MULTI/EXEC or script"
        )
    return f"{len(ids)} unique ids of ~{bits:.0f} random bits, data and TTL written together"


def check(fn: Callable[[Any, str, dict], str]) -> None:
    """Check ``fn(r, user_id, data)`` and print one line: what is wrong first, or that it passes."""
    report(lambda: _check_body(fn))
