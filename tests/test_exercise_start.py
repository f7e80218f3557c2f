"""Chapter checker tests (start): the reference passes; each wrong answer gets one line naming its problem."""
from __future__ import annotations


import pytest

# -- notebook 00: one round trip --------------------------------------------------------------

from patterns.exercises import start
from solutions.start import save_profile as reference_save_profile


def stub(*args):
    raise NotImplementedError


def three_round_trips(r, user_id, profile):  # the stub the notebook ships
    for field in ("name", "email", "plan"):
        r.set(f"user:{user_id}:{field}", profile[field])



def with_mset(r, user_id, profile):
    r.mset({f"user:{user_id}:{field}": profile[field] for field in ("name", "email", "plan")})


def forgets_plan(r, user_id, profile):
    r.mset({f"user:{user_id}:{field}": profile[field] for field in ("name", "email")})


@pytest.mark.parametrize("solution", [reference_save_profile, with_mset])
def test_one_round_trip_solutions_pass(capsys, solution):
    start.check(solution)
    assert capsys.readouterr().out.startswith("✓ three fields in one round trip")


@pytest.mark.parametrize(
    ("solution", "says"),
    [
        (three_round_trips, "it took 3 round trips (SET, SET, SET)"),
        (forgets_plan, "user:7:plan holds None"),
        (stub, "still raises NotImplementedError"),
    ],
)
def test_start_checker_names_the_problem(capsys, solution, says):
    start.check(solution)
    assert says in capsys.readouterr().out


