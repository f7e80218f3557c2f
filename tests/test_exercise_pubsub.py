"""Chapter checker tests (pubsub): the reference passes; each wrong answer gets one line naming its problem."""
from __future__ import annotations


import pytest

# -- notebook 05: idempotent handling ---------------------------------------------------------

from patterns.exercises import pubsub as pubsub_exercise


def reference_handle_once(r, message_id, apply):
    if r.set(f"handled:{message_id}", 1, nx=True, ex=86400):
        apply()
        return True
    return False


def check_then_mark(r, message_id, apply):  # a race between workers
    import time

    if r.exists(f"handled:{message_id}"):
        return False
    time.sleep(0.01)
    r.set(f"handled:{message_id}", 1, ex=86400)
    apply()
    return True


def in_memory(r, message_id, apply, _seen=set()):
    if message_id in _seen:
        return False
    _seen.add(message_id)
    apply()
    return True


@pytest.mark.parametrize(
    ("solution", "says"),
    [
        (lambda r, m, apply: apply() or True, "handled 2 times"),
        (lambda r, m, apply: False, "never called"),
        (check_then_mark, "check and mark in one atomic step"),
        (in_memory, "nothing was stored in Redis"),
        (lambda r, m, apply: bool(r.setnx(f"h:{m}", 1)) and (apply() or True), "has no TTL"),
    ],
)
def test_pubsub_checker_names_the_problem(capsys, solution, says):
    pubsub_exercise.check(solution)
    out = capsys.readouterr().out
    assert out.startswith("not yet: ") and says in out


def test_pubsub_reference_passes(capsys):
    pubsub_exercise.check(reference_handle_once)
    assert capsys.readouterr().out.startswith("✓ each message id handled exactly once")


