"""Exercise of notebook 06: release a lock only if you still own it.

    def release(r, key, token):   # delete key only if it holds token; True when deleted
        ...
    check(release)
"""
from __future__ import annotations

from typing import Any, Callable

from ..trace import trace
from . import NotYet, fresh_client, report


def _check_body(fn: Callable[[Any, str, str], bool]) -> str:
    r = fresh_client()
    r.set("lock:job", "my-token", px=10_000)
    with trace(r) as t:
        released = fn(r, "lock:job", "my-token")
    if r.exists("lock:job"):
        raise NotYet("your own lock is still there after release: delete the key when it holds your token")
    if released is not True:
        raise NotYet(f"it returned {released!r} after deleting your own lock; return True")
    scripted = any(name in ("EVAL", "EVALSHA", "FCALL") for name in t.names)
    watched = "WATCH" in t.names and "MULTI" in t.names
    if not (scripted or watched):
        raise NotYet(
            f"it checks and deletes in separate steps ({', '.join(t.names)}): between them the lease can expire "
            "and another client take the lock, and you would delete theirs; do both in one Lua script"
        )
    r.set("lock:job", "someone-else", px=10_000)
    if fn(r, "lock:job", "my-token") is not False:
        raise NotYet("it should return False when the lock holds someone else's token")
    if r.get("lock:job") != "someone-else":
        raise NotYet("it deleted a lock that holds someone else's token: compare the token first")
    r.delete("lock:job")
    if fn(r, "lock:job", "my-token") is not False:
        raise NotYet("it should return False when there is no lock at all (the lease ran out)")
    return "owner-only release, checked and deleted in one atomic step"


def check(fn: Callable[[Any, str, str], bool]) -> None:
    """Check ``fn(r, key, token)`` and print one line: what is wrong first, or that it passes."""
    report(lambda: _check_body(fn))
