"""Exercise of notebook 01: cache-aside for a batch of ids.

    def cached_many(r, ids, fetch_many):   # {id: value} for the ids the database has
        ...
    check(cached_many)

A product page shows many products at once. Asking the cache (and the database)
one id at a time costs a round trip (and a query) per id; the exercise asks for
the chapter's rules applied to a whole batch: every read in one round trip, one
query for the misses only, every write in one round trip with its TTL, falsy
values and "not found" cached (for less time), and TTLs spread so a batch written
together does not expire together.
"""
from __future__ import annotations

import copy
import json
import random
from typing import Any, Callable

from ..trace import trace
from . import NotYet, first_key_without_bounded_ttl, fresh_client, report

KEY = "product:{}"
FOUND_TTL = (60, 300)  # seconds a product may be cached
MISSING_TTL = (5, 30)  # seconds "not in the database" may be cached
SPREAD = 10  # seconds the TTLs of one batch must spread over, at least
BATCH = 40  # products cached by one call, to see the spread
EXPIRING = ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT")

CATALOGUE = {
    "p1": {"name": "lamp", "price": 30},
    "p2": 0,
    "p3": "",
    "p4": [],
    "p5": None,
    "p6": False,
    "p7": {"name": "desk", "price": 120},
    **{f"q{n}": {"name": f"chair {n}", "price": 40 + n} for n in range(BATCH)},
}
ABSENT = ("p8", "p9")


class _Database:
    """``fetch_many``: what the catalogue has of the ids asked for; records each call and when it came."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.round_trip_at_call: list[int] = []
        self.recorder: Any = None

    def __call__(self, ids: Any) -> dict[str, Any]:
        asked = list(ids)
        self.calls.append(asked)
        self.round_trip_at_call.append(self.recorder.round_trips if self.recorder else 0)
        return {i: copy.deepcopy(CATALOGUE[i]) for i in asked if i in CATALOGUE}


def _call(fn: Callable, r: Any, ids: list[str]) -> tuple[Any, _Database, Any]:
    database = _Database()
    with trace(r) as recorded:
        database.recorder = recorded
        result = fn(r, list(ids), database)
    return result, database, recorded


def _check_fetches(database: _Database, ids: list[str]) -> None:
    if len(database.calls) > 1:
        raise NotYet(f"fetch_many ran {len(database.calls)} times in one call for {len(ids)} ids: ask the "
                     "database once, for all the misses together")


def _check_result(result: Any, ids: list[str], which: str = "") -> None:
    if not isinstance(result, dict):
        raise NotYet(f"it returned a {type(result).__name__}; return a dict {{id: value}} of the ids the database has")
    for i in ids:
        if i in ABSENT and i in result:
            raise NotYet(f"{i!r} is not in the database, yet the{which} result holds it (as {result[i]!r}): leave "
                         "such ids out, as fetch_many does")
        if i in ABSENT:
            continue
        want = CATALOGUE[i]
        if i not in result:
            extra = ": a cached null is a value, not 'not found'" if want is None and which else ""
            raise NotYet(f"{i!r} is in the database (with the value {want!r}) but the{which} result leaves it out{extra}")
        got = result[i]
        if got != want or type(got) is not type(want):
            raise NotYet(f"for {i!r} the{which or ''} call returned {got!r} ({type(got).__name__}); the database has "
                         f"{want!r} ({type(want).__name__})")
    unasked = sorted(set(result) - set(ids))
    if unasked:
        raise NotYet(f"the result holds ids nobody asked for: {unasked}")


def _lifetime(r: Any, name: str) -> float | None:
    """Seconds the key has left; None when it never expires (the key must exist)."""
    ms = r.pttl(name)
    return None if ms < 0 else ms / 1000


def _check_entries(r: Any, ids: list[str], recorded: Any) -> None:
    for i in ids:
        name = KEY.format(i)
        if i in ABSENT:
            continue
        if not r.exists(name):
            raise NotYet(f"nothing was stored under {name!r} (each product's entry is named product:<id>)")
        stored = r.get(name) if r.type(name) == "string" else None
        try:
            if json.loads(stored) != CATALOGUE[i]:
                raise ValueError
        except (TypeError, ValueError):
            raise NotYet(f"{name!r} holds {stored!r}, which is not the JSON text of the value "
                         f"{CATALOGUE[i]!r}") from None
    names = recorded.names
    separate = [n for n in names if n in EXPIRING]
    for i in ids:
        name = KEY.format(i)
        seconds = _lifetime(r, name) if r.exists(name) else -1
        if i in ABSENT:
            if seconds == -1:
                raise NotYet(f"nothing was cached for {i!r}, which is not in the database: cache 'not found' too "
                             f"(for {MISSING_TTL[0]}-{MISSING_TTL[1]} s), or every request for it reaches the database")
            if seconds is None:
                raise NotYet(f"{name!r} (not in the database) has no TTL: it would hide the product forever once "
                             "it is added")
            if not MISSING_TTL[0] - 1 <= seconds <= MISSING_TTL[1]:
                raise NotYet(f"{name!r} (not in the database) lives {seconds:.0f} s; cache 'not found' for "
                             f"{MISSING_TTL[0]}-{MISSING_TTL[1]} s, shorter than a product")
            continue
        if seconds is None:
            raise NotYet(f"{name!r} has no TTL: every cache entry needs one, or stale data stays forever")
        if not FOUND_TTL[0] - 1 <= seconds <= FOUND_TTL[1]:
            raise NotYet(f"{name!r} lives {seconds:.0f} s; a product should be cached for "
                         f"{FOUND_TTL[0]}-{FOUND_TTL[1]} s")
    if separate:
        writer = next((n for n in names[: names.index(separate[0])][::-1] if n not in EXPIRING), "a write")
        raise NotYet(f"values and their TTLs were written by separate commands ({writer}, then {separate[0]}): "
                     "twice the commands, and unless both always run together, a crash between them leaves a key that "
                     "never expires; write each value with its TTL in one command")


def _paid(recorded: Any, first: int = 1, last: int | None = None) -> int:
    """Round trips ``first``..``last`` of the trace, a script's first use counted once.

    A script called by its digest before the server has it is refused, loaded, and called
    again: three round trips that happen once per server, not once per call.
    """
    last = recorded.round_trips if last is None else last
    trips = [[c.args for c in recorded.commands if c.round_trip == n] for n in range(first, last + 1)]
    paid, n = 0, 0
    while n < len(trips):
        lone_digest_call = len(trips[n]) == 1 and trips[n][0][0].upper() == "EVALSHA"
        after = trips[n + 1] if n + 1 < len(trips) else []
        if lone_digest_call and len(after) == 1 and [a.upper() for a in after[0][:2]] == ["SCRIPT", "LOAD"]:
            n += 2  # refused, then loaded: the call that follows is the one that counts
        elif lone_digest_call and len(after) == 1 and after[0][0].upper() == "EVAL":
            n += 1  # refused, then sent with its text
        else:
            paid, n = paid + 1, n + 1
    return paid


def _check_round_trips(database: _Database, recorded: Any, ids: list[str], misses: list[str]) -> None:
    if not database.calls:
        if _paid(recorded) != 1:
            raise NotYet(f"a call whose ids were all cached took {_paid(recorded)} round trips; one is enough")
        return
    reads = _paid(recorded, 1, database.round_trip_at_call[0])
    writes = _paid(recorded, database.round_trip_at_call[0] + 1)
    if reads == 0:
        raise NotYet("fetch_many was called before the cache was read: look in Redis first, then ask the database "
                     "only for what it did not have")
    if reads > 1:
        raise NotYet(f"reading the cache for {len(ids)} ids took {reads} round trips; one is enough for all of them")
    if writes > 1:
        raise NotYet(f"writing {len(misses)} new entries took {writes} round trips; one is enough for all of them")


def _check_asked(database: _Database, misses: list[str], cached: list[str], which: str) -> None:
    asked = set(database.calls[0]) if database.calls else set()
    again = [i for i in cached if i in asked]
    hits = [i for i in again if i not in ABSENT and CATALOGUE[i]]
    if hits:
        raise NotYet(f"the {which} call asked the database again for {hits[0]!r}, which the first call cached: ask "
                     "only for the ids the cache did not have")
    for i in again:
        if i in ABSENT:
            raise NotYet(f"the {which} call asked the database again for {i!r}, which the first call learned is not "
                         "there: a cached 'not found' is a hit too")
        raise NotYet(f"the {which} call asked the database again for {i!r}, whose value {CATALOGUE[i]!r} was "
                     "cached by the first: a falsy value is still a hit")
    missing = [i for i in misses if i not in asked]
    if missing:
        raise NotYet(f"the {which} call never asked the database for {missing[0]!r}, which was not cached")


def _lives_ms(r: Any, ids: list[str]) -> dict[str, int]:
    return {KEY.format(i): r.pttl(KEY.format(i)) for i in ids}


def _check_hits_untouched(r: Any, database: _Database, recorded: Any, before: dict[str, int], which: str) -> None:
    """The entries a call found in the cache: not written again, and still expiring when they did."""
    fetched_at = database.round_trip_at_call[0] if database.calls else recorded.round_trips
    for command in recorded.commands:
        if command.round_trip > fetched_at:
            again = next((a for a in command.args[1:] if a in before), None)
            if again:
                raise NotYet(f"the {which} call wrote {again!r} again, though the cache had it: write only what "
                             "the database just returned, or a cached entry never reaches its end of life")
    for name, ms in before.items():
        if r.pttl(name) > ms + 500:
            raise NotYet(f"the {which} call pushed back the expiry of {name!r}, which it only read: an entry read "
                         "often would never expire, and a changed product would stay stale; a hit leaves the entry's "
                         "TTL running down")


def _check_body(fn: Callable) -> str:
    r = fresh_client()

    # 1. A cold call: every id is a miss, one of them is not in the database at all.
    first = ["p1", "p2", "p3", "p4", "p5", "p6", "p8"]
    result, database, recorded = _call(fn, r, first)
    _check_fetches(database, first)
    _check_result(result, first)
    _check_asked(database, first, [], "first")
    _check_round_trips(database, recorded, first, first)
    _check_entries(r, first, recorded)

    # 2. A mixed call: everything from the first call must be a hit, only the new ids a query.
    second = ["p1", "p2", "p3", "p4", "p5", "p6", "p8", "p7", "p9"]
    before = _lives_ms(r, first)
    result, database, recorded = _call(fn, r, second)
    _check_fetches(database, second)
    _check_asked(database, ["p7", "p9"], first, "second")
    _check_result(result, second, " second")
    _check_round_trips(database, recorded, second, ["p7", "p9"])
    _check_hits_untouched(r, database, recorded, before, "second")
    _check_entries(r, ["p7", "p9"], recorded)

    # 3. Only hits: no query, one round trip.
    third = ["p1", "p2", "p7", "p8", "p9"]
    before = _lives_ms(r, third)
    result, database, recorded = _call(fn, r, third)
    if database.calls:
        raise NotYet(f"every id was cached, yet fetch_many was called (with {database.calls[0]}): a call that only "
                     "hits should not reach the database")
    _check_result(result, third, " third")
    _check_round_trips(database, recorded, third, [])
    _check_hits_untouched(r, database, recorded, before, "third")

    # 4. A page cached together must not expire together.
    page = [f"q{n}" for n in range(BATCH)]
    result, database, recorded = _call(fn, r, page)
    _check_result(result, page, " page's")
    _check_entries(r, page, recorded)
    pipe = r.pipeline(transaction=True)  # every TTL read at one instant: a slow read must not shrink the spread
    for i in page:
        pipe.pttl(KEY.format(i))
    lives = [ms / 1000 for ms in pipe.execute()]
    if max(lives) - min(lives) < SPREAD - 0.5:  # whole-second TTLs exactly SPREAD apart pass, less does not
        raise NotYet(f"the {BATCH} products cached by one call all expire within {max(lives) - min(lives):.0f} s of "
                     f"each other, so they will all miss together: spread their TTLs over at least {SPREAD} s")
    unbounded = first_key_without_bounded_ttl(r, FOUND_TTL[1])
    if unbounded:
        name, seconds = unbounded
        lives = "never expires" if seconds < 0 else f"lives {seconds} s"
        raise NotYet(f"it also wrote {name!r}, which {lives}: every key a cache writes needs a TTL as short as "
                     "its entries', or the cache grows and goes stale without end")
    return ("cache-aside for a batch works: one round trip to read, one query for the misses only, one to write; "
            "falsy values and 'not found' cached; TTLs spread")


def check(fn: Callable[[Any, list, Callable[[list], dict]], Any]) -> None:
    """Check ``fn(r, ids, fetch_many)`` and print one line: what is wrong first, or that it passes.

    The learner's code may draw TTLs from ``random``: it is seeded for the check (and given back
    its state after), so the verdict is the same every run.
    """
    state = random.getstate()
    random.seed(1)
    try:
        return report(lambda: _check_body(fn), "caching")
    finally:
        random.setstate(state)
