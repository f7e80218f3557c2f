"""Exercise of notebook 00: read many users' profiles in one round trip.

    def load_profiles(r, user_ids):   # every user's name, email and plan, in ONE round trip
        ...
    check(load_profiles)

Each field is its own string key, ``user:<id>:<field>``, as the notebook saves them. The
function returns ``{user_id: {"name": ..., "email": ..., "plan": ...}}`` for every id it
is given, in any number, with None for a field never saved. The checker asks for lists of
different lengths and orders, with a user who has no plan and one who does not exist, so a
function that waits for each user (or each read) in turn fails, and so does one that puts
an answer under the wrong user or field.
"""
from __future__ import annotations

from typing import Any, Callable

from ..trace import trace
from . import NotYet, fresh_client, report

FIELDS = ("name", "email", "plan")
SAVED = {
    7: {"name": "Ada", "email": "ada@example.com", "plan": "pro"},
    42: {"name": "Bo", "email": "bo@example.com", "plan": "free"},
    99: {"name": "Cy", "email": "cy@example.com"},  # no plan saved
}
MANY = [1000 + n for n in range(20)]  # twenty more users, each with a profile of their own
ASKS = [[7, 42], [42, 99, 7, 5], MANY]  # 5 was never saved at all


def _expected(user_id: int) -> dict[str, str | None]:
    if user_id in SAVED:
        return {field: SAVED[user_id].get(field) for field in FIELDS}
    if user_id in MANY:
        return {field: f"{field}-{user_id}" for field in FIELDS}
    return dict.fromkeys(FIELDS)


def _fill(r: Any) -> None:
    for user_id in [*SAVED, *MANY]:
        for field, value in _expected(user_id).items():
            if value is not None:
                r.set(f"user:{user_id}:{field}", value)


def _check_body(fn: Callable) -> str:
    r = fresh_client()
    _fill(r)
    stored = {name: r.get(name) for name in r.scan_iter("*")}
    for user_ids in ASKS:
        with trace(r) as t:
            got = fn(r, list(user_ids))
        if not t.commands:
            raise NotYet(f"nothing reached the server for users {user_ids}: no command was sent")
        if not isinstance(got, dict):
            raise NotYet(f"it returned {type(got).__name__} {got!r:.80}; it should return a dict of user id → profile")
        if sorted(got, key=repr) != sorted(user_ids, key=repr):
            raise NotYet(f"asked for users {user_ids}, it returned profiles for {list(got)}")
        for user_id in user_ids:
            profile = got[user_id]
            if not isinstance(profile, dict) or sorted(profile) != sorted(FIELDS):
                raise NotYet(f"user {user_id}'s profile is {profile!r:.80}; it should be a dict of exactly "
                             f"{', '.join(FIELDS)} (None for a field never saved)")
            for field, value in _expected(user_id).items():
                if profile[field] != value:
                    raise NotYet(f"user {user_id}'s {field} is {profile[field]!r}; it should be {value!r}")
        if t.round_trips != 1:
            shown = ", ".join(t.names[:6]) + (", …" if len(t.names) > 6 else "")
            raise NotYet(f"for {len(user_ids)} users it took {t.round_trips} round trips ({shown}); every read "
                         "must reach the server together, in one round trip, however many users")
        if {name: r.get(name) for name in r.scan_iter("*")} != stored:
            raise NotYet("it changed the stored profiles; it should only read them")
    return f"{len(MANY)} users' profiles in one round trip ({t.names[0]} × {len(t.names)})"


def check(fn: Callable[[Any, list], Any]) -> None:
    """Check ``fn(r, user_ids)`` and print one line: what is wrong first, or that it passes."""
    return report(lambda: _check_body(fn), "start")
