"""# Chapter 04, sessions: solutions

A session id is a bearer secret: whoever holds it is the user. It must be
unguessable (128 bits from the operating system's random source), and the
session must never outlive its timeout, even if the process dies mid-write.
"""
from __future__ import annotations

import json
import secrets

CHAPTER = "04_sessions"


def create_session(r, user_id, data):
    """A 128-bit id from `secrets`, the fields and their TTL written in one MULTI/EXEC.

    `secrets.token_urlsafe(16)` draws 16 bytes from the OS. One transaction
    writes the hash and its TTL together, so a crash cannot leave a session that
    never expires; each field holds JSON, so a value keeps its type.
    """
    session_id = secrets.token_urlsafe(16)
    pipe = r.pipeline(transaction=True)
    pipe.hset(f"session:{session_id}", mapping={k: json.dumps(v) for k, v in {**data, "user": user_id}.items()})
    pipe.expire(f"session:{session_id}", 1800)
    pipe.execute()
    return session_id


CHECKS = [("create_session", "patterns.exercises.session", "check")]
