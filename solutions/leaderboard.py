"""# Chapter 03, leaderboards: solutions

A competition rank ("1, 2, 2, 4") counts the players who are strictly better,
which Redis can do without sending a single member back.
"""
from __future__ import annotations

CHAPTER = "03_leaderboards"


def rank_of(r, key, member):
    """1 + the number of members with a strictly higher score, or None for a member who is not there.

    `ZREVRANK` gives a position, and two players on the same score get different
    positions. `ZCOUNT` with an exclusive lower bound (the `(` prefix) counts the
    better players in O(log N) and sends back one number, however big the board.
    """
    score = r.zscore(key, member)
    if score is None:
        return None
    return r.zcount(key, f"({score}", "+inf") + 1


CHECKS = [("rank_of", "patterns.exercises.leaderboard", "check")]
