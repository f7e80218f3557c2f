"""# Chapter 00, start here: solutions

Every command is a round trip: the request travels to the server and the
answer back. Three writes sent one by one wait three times; sent together they
wait once.
"""
from __future__ import annotations

CHAPTER = "00_start_here"


def save_profile(r, user_id, profile):
    """Three SETs queued on a pipeline and sent in one round trip.

    `transaction=False`: the three writes need to travel together, not to be
    atomic. One `MSET` does the same in one command.
    """
    pipe = r.pipeline(transaction=False)
    for field in ("name", "email", "plan"):
        pipe.set(f"user:{user_id}:{field}", profile[field])
    pipe.execute()


CHECKS = [("save_profile", "patterns.exercises.start", "check")]
