"""Chapter checker tests (ratelimit): the reference passes; each wrong answer gets one line naming its problem."""
from __future__ import annotations


import pytest

# -- notebook 02: a limiter of your own ----------------------------------------------------------

from patterns.exercises import ratelimit


def limiter_stub(r, user_id):
    raise NotImplementedError


def reference_is_allowed(r, user_id):
    key = f"limit:{user_id}"
    pipe = r.pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, 10, nx=True)
    count, _ = pipe.execute()
    return count <= 5


def read_then_write(r, user_id):  # the race: two threads read the same count
    import time

    key = f"limit:{user_id}"
    count = int(r.get(key) or 0)
    if count >= 5:
        return False
    time.sleep(0.001)
    r.set(key, count + 1, ex=10)
    return True


def no_expiry(r, user_id):
    return r.incr(f"limit:{user_id}") <= 5


def one_shared_counter(r, user_id):
    pipe = r.pipeline(transaction=True)
    pipe.incr("limit")
    pipe.expire("limit", 10, nx=True)
    return pipe.execute()[0] <= 5


def too_long(r, user_id):
    pipe = r.pipeline(transaction=True)
    pipe.incr(f"limit:{user_id}")
    pipe.expire(f"limit:{user_id}", 60, nx=True)
    return pipe.execute()[0] <= 5


def off_by_one(r, user_id):
    pipe = r.pipeline(transaction=True)
    pipe.incr(f"limit:{user_id}")
    pipe.expire(f"limit:{user_id}", 10, nx=True)
    return pipe.execute()[0] <= 6


@pytest.mark.parametrize(
    ("solution", "says"),
    [
        (limiter_stub, "still raises NotImplementedError"),
        (off_by_one, "the 6th request in 10 s was allowed"),
        (no_expiry, "has no TTL"),
        (one_shared_counter, "another user's first request was denied"),
        (too_long, "lives 60 s"),
        (read_then_write, "with 10 threads at once"),
        (lambda r, u: 1, "return True (allowed) or False"),
    ],
)
def test_ratelimit_checker_names_the_problem(capsys, solution, says):
    ratelimit.check(solution)
    out = capsys.readouterr().out
    assert out.startswith("not yet: ") and says in out


def test_ratelimit_reference_passes(capsys):
    ratelimit.check(reference_is_allowed)
    assert capsys.readouterr().out.startswith("✓ 5 per 10 s per user")


