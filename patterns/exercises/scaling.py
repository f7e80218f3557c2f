"""Exercise of notebook 08: name a user's keys for a cluster.

    def keys_for(user_id):   # (profile key, sessions key): one slot per user, users spread out
        ...
    check(keys_for)
"""
from __future__ import annotations

from typing import Any, Callable

from redis.cluster import key_slot

from . import NotYet, report

USERS = [f"user-{i}" for i in range(200)]


def _slot(name: str) -> int:
    return key_slot(name.encode())


def _check_body(fn: Callable[[Any], tuple[str, str]]) -> str:
    slots = set()
    for user in USERS:
        names = fn(user)
        if not (isinstance(names, tuple) and len(names) == 2 and all(isinstance(n, str) for n in names)):
            raise NotYet(f"keys_for({user!r}) returned {names!r}; return a tuple of two key names")
        profile, sessions = names
        if profile == sessions:
            raise NotYet(f"both keys are {profile!r}: the profile and the sessions need different names")
        if _slot(profile) != _slot(sessions):
            raise NotYet(
                f"{profile!r} and {sessions!r} are in slots {_slot(profile)} and {_slot(sessions)}: a script "
                "touching both would fail with CROSSSLOT; give them the same {hash tag}"
            )
        if str(user) not in profile or str(user) not in sessions:
            raise NotYet(f"the keys {names!r} do not contain the user id {user!r}, so users would collide")
        slots.add(_slot(profile))
    if len(slots) < 100:
        raise NotYet(
            f"{len(USERS)} users use only {len(slots)} slot(s): a constant tag puts every user on one master; "
            "tag with the user id"
        )
    return f"each user's two keys share a slot, and {len(USERS)} users spread over {len(slots)} slots"


def check(fn: Callable[[Any], tuple[str, str]]) -> None:
    """Check ``fn(user_id)`` and print one line: what is wrong first, or that it passes."""
    report(lambda: _check_body(fn))
