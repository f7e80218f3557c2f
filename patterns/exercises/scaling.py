"""Exercise of notebook 08: name a user's keys for a cluster, for any user id a sign-up form lets in.

    def keys_for(user_id):   # (profile key, sessions key): one slot per user, users spread out
        ...
    check(keys_for)

The chapter's labs tag keys with ids they chose. Here the ids come from users, so they may
hold braces, and the names must still share a slot per user, spread users over the cluster,
never give two users the same key, and give one user the same names on every call.
"""
from __future__ import annotations

import builtins
import itertools
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from redis.cluster import key_slot

from .. import keys
from . import NotYet, report

SPREAD = [f"user-{i}" for i in range(200)]
# Ids a sign-up form lets through: braces where the cluster looks for a tag, and ids that a lossy
# way of removing braces turns into one another.
AWKWARD = ["}x", "{admin}", "a{b", "a}b", "{", "}", "{}", "a_b", "ab", "a-b", "a%7Bb", "a%257Bb",
           "a%7B%7Db", "a%7bb", "a", "{a}", "a{}b", "ä{ö}", "x" * 300, "x" * 300 + "y"]
# `a?b` for every ASCII character ? and a few brace look-alikes, so that no one-character
# stand-in for a brace goes unnoticed.
STAND_INS = [f"a{chr(c)}b" for c in [*range(1, 0x80), 0xA0, 0xAB, 0xBB, 0x2774, 0x2775, 0xFF5B, 0xFF5D]
             if chr(c) not in "{}_-%"]
# Many more users, to catch a shortened digest: two of 20,000 ids share 24 bits of one all but surely.
CROWD = [f"member-{i}" for i in range(20_000)]
USERS = list(dict.fromkeys(SPREAD + AWKWARD + STAND_INS + CROWD))
BUILDER = ("_check_part", "_escape_braces")  # what every key of patterns.keys goes through


def _slot(name: str) -> int:
    return key_slot(name.encode())


@contextmanager
def _watching_the_workbooks_builder() -> Iterator[list[str]]:
    """Record whether the learner's function builds its names with patterns.keys (the workbook's answer),
    or with Python's built-in hash(), which is seeded afresh in every process.

    It watches the functions' code, not the module's names, so a function imported under
    another name (`from patterns.keys import ...`) is seen too.
    """
    used: list[str] = []
    watched = {getattr(keys, name).__code__: name for name in BUILDER}
    previous = sys.getprofile()

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code in watched:
            used.append(watched[frame.f_code])
        elif event == "c_call" and arg is builtins.hash:
            used.append("hash")

    sys.setprofile(profile)
    try:
        yield used
    finally:
        sys.setprofile(previous)


def _names_of(fn: Callable[[Any], tuple[str, str]], user: str) -> tuple[str, str]:
    names = fn(user)
    if not (isinstance(names, tuple) and len(names) == 2 and all(isinstance(n, str) for n in names)):
        raise NotYet(f"keys_for({user!r}) returned {names!r}; return a tuple of two key names")
    profile, sessions = names
    if profile == sessions:
        raise NotYet(f"for the user id {user!r} both keys are {profile!r}: the profile and the sessions need different names")
    if _slot(profile) != _slot(sessions):
        raise NotYet(
            f"for the user id {user!r}, {profile!r} and {sessions!r} are in slots {_slot(profile)} and "
            f"{_slot(sessions)}: a script touching both would fail with CROSSSLOT"
        )
    return names


def _check_body(fn: Callable[[Any], tuple[str, str]]) -> str:
    with _watching_the_workbooks_builder() as used:
        named = {user: _names_of(fn, user) for user in USERS}
        again = {user: fn(user) for user in SPREAD[:20]}  # a second request of the same users
    if "hash" in used:
        raise NotYet("the names depend on Python's built-in hash(), which is seeded afresh in every process: "
                     "another app server (another process) would compute other names for the same user")
    if used:
        raise NotYet("the names came from the workbook's own key builder (patterns.keys); "
                     "the exercise is to work out the naming yourself")
    for user, names in again.items():
        if names != named[user]:
            raise NotYet(f"keys_for({user!r}) returned {named[user]!r}, then {names!r}: every request of "
                         "a user must find the same keys, on every app server")
    owners: dict[str, str] = {}
    for user, name in itertools.chain.from_iterable(((u, n) for n in pair) for u, pair in named.items()):
        if name in owners and owners[name] != user:
            raise NotYet(f"the users {owners[name]!r} and {user!r} both get the key {name!r}: "
                         "one would read and overwrite the other's data")
        owners[name] = user
    slots = {_slot(profile) for profile, _ in (named[user] for user in SPREAD)}
    if len(slots) < 100:
        raise NotYet(f"{len(SPREAD)} users use only {len(slots)} slot(s): they would all live on "
                     f"{'one master' if len(slots) == 1 else 'a few masters'} while the others sit idle")
    return (f"each user's two keys share a slot, no two of {len(USERS):,} users (braces and all) share a name, "
            f"and {len(SPREAD)} users spread over {len(slots)} slots")


def check(fn: Callable[[Any], tuple[str, str]]) -> None:
    """Check ``fn(user_id)`` and print one line: what is wrong first, or that it passes."""
    report(lambda: _check_body(fn), "scaling")
