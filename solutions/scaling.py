"""# Chapter 08, scaling out: solutions

On a cluster, keys that one script or transaction touches must live in one
slot. A hash tag (the part of a key between the first `{` and the next `}`) is
all the cluster hashes, so keys that share it share a slot. A user id from a
sign-up form may hold braces itself, so it goes into the tag in a form that
cannot contain one.
"""
from __future__ import annotations

CHAPTER = "08_scaling_out"


def keys_for(user_id):
    """The user's id, percent-encoded, as the hash tag of both keys.

    The tag is the same for a user's two keys, so they share a slot, and it is the
    user's own, so users spread over every slot (a tag shared by everyone, `{users}`,
    would put every user on one node). An id like `}x` would end the tag at once
    (an empty tag hashes the whole key, and the two keys part); encoding `{` and `}`
    keeps them out of the tag. `%` is encoded first, so the encoding is one to one:
    no two ids (`a{b` and `a%7Bb`, say) turn into the same tag. Dropping or replacing
    the braces would not be: `{a}` and `a` would share a key. The exercise's ids are never
    empty: an empty id would give the empty tag `{}`, which hashes the whole name.
    """
    tag = user_id.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")
    return f"profile:{{{tag}}}", f"sessions:{{{tag}}}"


CHECKS = [("keys_for", "patterns.exercises.scaling", "check")]
