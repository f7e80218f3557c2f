"""Exercise of notebook 04: create a session the safe way.

    def create_session(r, user_id, data):   # return a new session id; store data under "session:<id>"
        ...                                 # (or "session:{<id>}", the hash-tagged key the chapter writes)
    check(create_session)
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
from unittest import mock
from typing import Any, Callable

from .. import session as chapter_session
from ..trace import trace
from . import NotYet, fresh_client, report

MAX_TTL = 1800
ASKED_BITS, OWASP_MINIMUM_BITS = 128, 64
# The chapter's own scripts (set_session, SessionStore): calling them is not doing the exercise.
_CHAPTER_SCRIPTS = {script.sha for script in vars(chapter_session).values() if hasattr(script, "sha")}
_REAL_URANDOM = os.urandom


def random_bits(ids: list[str]) -> float:
    """How many bits of the ids actually vary, position by position.

    Length times the alphabet's size overcounts: ``uuid4().hex`` is 32 hex digits (128 bits by
    that count) but one digit is always "4" and another only 8, 9, a or b, leaving 122 random
    bits. So each position counts the bits of the values seen there (rounded up to a power of
    two, since 200 draws of 64 letters show nearly all of them, but never more than the alphabet
    the ids use), and a position that never changes counts nothing. ``token_urlsafe(16)`` gives
    21 positions of 6 bits and a last one of 2: 128. Ids of different lengths (a number printed
    without padding) are compared aligned left and aligned right, a missing character being one
    more value, and the better count wins.
    """
    alphabet = len(set("".join(ids)))
    longest = max(len(i) for i in ids)
    best = 0.0
    for aligned in ([i.ljust(longest, "\0") for i in ids], [i.rjust(longest, "\0") for i in ids]):
        best = max(best, sum(min(math.ceil(math.log2(len({i[p] for i in aligned}))), math.log2(max(alphabet, 2)))
                             for p in range(longest)))
    return best


class _FixedBytes:
    """A stand-in for the operating system's random source: the same bytes every run, counted.

    Patching ``os.urandom`` is process-wide, but only the thread that runs the checked
    function gets these bytes: every other thread of the kernel (a dashboard making lock
    tokens, say) is passed on to the real source, so no secret elsewhere is made guessable
    while a check runs, and no other thread's draws shift the ones being checked.
    """

    def __init__(self) -> None:
        self.drawn, self._block = 0, 0
        self._thread = threading.get_ident()

    def __call__(self, n: int) -> bytes:
        if threading.get_ident() != self._thread:
            return _REAL_URANDOM(n)
        out = b""
        while len(out) < n:
            out += hashlib.sha256(self._block.to_bytes(8, "big")).digest()
            self._block += 1
        self.drawn += n
        return out[:n]


def _made_from_os_randomness(fn: Callable[[Any, str, dict], str]) -> tuple[bool, int]:
    """Run ``fn`` twice on the same fixed "random" bytes: (the same id both times, bytes drawn).

    An id made only from the operating system's random source (``secrets``, ``os.urandom``,
    ``uuid4``) comes out the same when that source repeats itself; one made from the time,
    ``random`` or a counter does not, or draws nothing. Hashing cannot hide this, as it can
    hide a counter from the per-position count.
    """
    ids, drawn = [], 0
    for _ in range(2):
        source = _FixedBytes()
        with mock.patch("os.urandom", source), mock.patch("random._urandom", source):
            ids.append(fn(fresh_client(), "ada", {"theme": "dark"}))
        drawn = source.drawn
    return ids[0] == ids[1], drawn


def _decoded(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _holds(r: Any, key: str, data: dict) -> bool:
    """Whether ``key`` holds each item of ``data``: as hash fields (plain or JSON), or as a JSON object."""
    if r.type(key) == "hash":
        fields = r.hgetall(key)
        return all(name in fields and _decoded(fields[name]) == value for name, value in data.items())
    if r.type(key) == "string":
        stored = _decoded(r.get(key))
        return isinstance(stored, dict) and all(stored.get(name) == value for name, value in data.items())
    return False


def _script_sha(command: Any) -> str | None:
    """The SHA1 of the script an EVAL or EVALSHA runs (None for any other command)."""
    if command.name == "EVALSHA" and len(command.args) > 1:
        return command.args[1].lower()
    if command.name == "EVAL" and len(command.args) > 1:
        return hashlib.sha1(command.args[1].encode()).hexdigest()
    return None


def _writes(commands: list) -> list:
    """The commands that can have written: without SCRIPT LOAD, and without an EVALSHA the server
    answered NOSCRIPT (a fresh server has not seen the script; the client then sends it again, by
    text or after loading it, and only that second call runs)."""
    kept = [c for c in commands if c.name != "SCRIPT"]
    return [c for c, after in zip(kept, kept[1:] + [None])
            if not (c.name == "EVALSHA" and after is not None and _script_sha(after) == _script_sha(c))]


def _stored_under(r: Any, session_id: str) -> str:
    """The key the session was stored under: "session:<id>", or the chapter's hash-tagged "session:{<id>}"."""
    for key in (f"session:{session_id}", f"session:{{{session_id}}}"):
        if r.exists(key):
            return key
    raise NotYet(f"nothing was stored under {f'session:{session_id}'!r} (nor under the hash-tagged "
                 f"{f'session:{{{session_id}}}'!r})")


def _check_body(fn: Callable[[Any, str, dict], str]) -> str:
    r = fresh_client()
    with trace(r) as t:
        session_id = fn(r, "ada", {"theme": "dark"})
    if not isinstance(session_id, str):
        raise NotYet(f"it returned {session_id!r}; return the new session id as a str")
    if any(_script_sha(c) in _CHAPTER_SCRIPTS for c in t.commands):
        raise NotYet("it stores the session with the chapter's own session scripts; the exercise asks you to "
                     "make the id and write the data and its expiry yourself")
    key = _stored_under(r, session_id)
    ids = [session_id] + [fn(r, "ada", {"theme": "light", "visit": n}) for n in range(200)]
    if len(set(ids)) != len(ids):
        raise NotYet("two sessions got the same id: an id must be random, not made from the user id or the time")
    bits = random_bits(ids)
    if all("ada" in i for i in ids):
        raise NotYet("every id contains the user id: an id must say nothing about whose session it is")
    if bits < OWASP_MINIMUM_BITS:
        raise NotYet(
            f"ids like {session_id!r} carry about {bits:.0f} bits that vary and may be guessable; an id "
            f"needs at least {ASKED_BITS} random bits"
        )
    if bits < ASKED_BITS:
        raise NotYet(f"ids like {session_id!r} carry about {bits:.0f} random bits, below the {ASKED_BITS} this "
                     f"exercise asks for (twice OWASP's minimum of {OWASP_MINIMUM_BITS})")
    same, drawn = _made_from_os_randomness(fn)
    if not same or drawn < 16:
        raise NotYet(
            "the ids do not come only from the operating system's random source (they follow the time, the "
            "random module, a counter or a hash of one): an attacker who knows those can predict the next id"
        )
    if not all(re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids):
        raise NotYet(f"the id {session_id!r} uses characters that need escaping in a URL or a key pattern; "
                     "keep to letters, digits, - and _")
    ttl = r.ttl(key)
    if ttl < 0:
        raise NotYet("the session has no TTL: it would never expire")
    if ttl > MAX_TTL:
        raise NotYet(f"the session lives {ttl} s; keep an idle timeout of at most {MAX_TTL} s (30 minutes)")
    writes = _writes(t.commands)
    trips = len({c.round_trip for c in writes})
    names = [c.name for c in writes]
    atomic = trips == 1 and (len(names) == 1 or "MULTI" in names)  # one command, a script, or MULTI
    if not atomic:
        raise NotYet(
            f"the session was written in {trips} round trip(s) ({', '.join(names)}): a crash between "
            "the data and its TTL leaves a session that never expires; write both in one MULTI/EXEC or script"
        )
    if not _holds(r, key, {"theme": "dark"}):
        raise NotYet(f"the session under {key!r} does not hold the data it was given ({{'theme': 'dark'}}): a "
                     "later request must be able to read it back")
    return f"{len(ids)} unique ids of ~{bits:.0f} random bits, data and TTL written together"


def check(fn: Callable[[Any, str, dict], str]) -> None:
    """Check ``fn(r, user_id, data)`` and print one line: what is wrong first, or that it passes."""
    report(lambda: _check_body(fn), "session")
