"""# Chapter 08, scaling out: solutions

On a cluster, keys that one script or transaction touches must live in one
slot. A hash tag (the part of a key between `{` and `}`) is all the cluster
hashes, so keys that share it share a slot.
"""
from __future__ import annotations

CHAPTER = "08_scaling_out"


def keys_for(user_id):
    """The user's id as the hash tag: one slot per user, and the users spread over every slot.

    A tag shared by everyone (`{users}`) would put every user on one node.
    """
    return f"profile:{{{user_id}}}", f"sessions:{{{user_id}}}"


CHECKS = [("keys_for", "patterns.exercises.scaling", "check")]
