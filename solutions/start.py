"""# Chapter 00, start here: solutions

Every command is a round trip: the request travels to the server and the
answer back. Reads that wait for each other's answers wait once per read; sent
together they wait once, however many there are.
"""
from __future__ import annotations

CHAPTER = "00_start_here"

FIELDS = ("name", "email", "plan")


def load_profiles(r, user_ids):
    """Every GET of every user queued on one pipeline, sent in one round trip, the replies put back in order.

    No read needs another's answer, so nothing has to wait: the client writes all
    the commands to the socket at once, then reads all the replies. The replies
    come back in the order the commands were queued, so walking them in that same
    order (user by user, field by field) puts each value under its user and field;
    a key never saved answers None, which is what the profile should say.

    One pipeline for the whole list, not one per user: a pipeline per user is one
    round trip per user again. `transaction=False`: the reads need to travel
    together, not to be atomic (MULTI/EXEC is one round trip too, and also passes).
    One `MGET` of all the keys does the same in one command.
    """
    pipe = r.pipeline(transaction=False)
    for user_id in user_ids:
        for field in FIELDS:
            pipe.get(f"user:{user_id}:{field}")
    replies = iter(pipe.execute())
    return {user_id: {field: next(replies) for field in FIELDS} for user_id in user_ids}


CHECKS = [("load_profiles", "patterns.exercises.start", "check")]
