"""Chapter checker tests (lock): the reference passes; each wrong answer gets one line naming its problem."""
from __future__ import annotations


import pytest

# -- notebook 06: owner-only release -------------------------------------------------------------

from patterns.exercises import lock as lock_exercise

RELEASE_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def reference_release(r, key, token):
    return r.eval(RELEASE_SCRIPT, 1, key, token) == 1


def get_then_delete(r, key, token):
    if r.get(key) == token:
        return r.delete(key) == 1
    return False


@pytest.mark.parametrize(
    ("solution", "says"),
    [
        (lambda r, key, token: r.delete(key) == 1, "separate steps"),
        (get_then_delete, "separate steps (GET, DEL)"),
        (lambda r, key, token: r.eval("return redis.call('DEL', KEYS[1])", 1, key) == 1, "someone else's token"),
        (lambda r, key, token: r.eval(RELEASE_SCRIPT, 1, key, token), "return True"),
        (lambda r, key, token: None, "still there"),
    ],
)
def test_lock_checker_names_the_problem(capsys, solution, says):
    lock_exercise.check(solution)
    out = capsys.readouterr().out
    assert out.startswith("not yet: ") and says in out


def test_lock_reference_passes(capsys):
    lock_exercise.check(reference_release)
    assert capsys.readouterr().out.startswith("✓ owner-only release")


