"""Chapter checker tests (start): the reference passes; each wrong answer gets one line naming its problem."""
from __future__ import annotations


import pytest

from helpers import messages_of

# -- notebook 00: one round trip --------------------------------------------------------------

from patterns.exercises import start
from solutions.start import load_profiles as reference_load_profiles

FIELDS = ("name", "email", "plan")


def stub(*args):
    raise NotImplementedError


# (a) The version as commonly written, which the notebook traces before the exercise: one read after
# another. (b) No `patterns` function reads a profile, so there is no library call to wrap here.
def one_by_one(r, user_ids):
    return {u: {f: r.get(f"user:{u}:{f}") for f in FIELDS} for u in user_ids}


# The notebook's section 5 pipeline, copied with the keys changed: one round trip per user.
def one_round_trip_per_user(r, user_ids):
    profiles = {}
    for u in user_ids:
        pipe = r.pipeline(transaction=False)
        for f in FIELDS:
            pipe.get(f"user:{u}:{f}")
        profiles[u] = dict(zip(FIELDS, pipe.execute()))
    return profiles


def one_multi_get_per_user(r, user_ids):
    return {u: dict(zip(FIELDS, r.mget([f"user:{u}:{f}" for f in FIELDS]))) for u in user_ids}


# (c) The classic mistakes.
def answers_in_the_wrong_places(r, user_ids):  # the replies walked field-major, the keys queued user-major
    pipe = r.pipeline(transaction=False)
    for u in user_ids:
        for f in FIELDS:
            pipe.get(f"user:{u}:{f}")
    replies = iter(pipe.execute())
    profiles = {u: {} for u in user_ids}
    for f in FIELDS:
        for u in user_ids:
            profiles[u][f] = next(replies)
    return profiles


def skips_the_fields_never_saved(r, user_ids):
    values = r.mget([f"user:{u}:{f}" for u in user_ids for f in FIELDS])
    it = iter(values)
    return {u: {f: v for f in FIELDS if (v := next(it)) is not None} for u in user_ids}


def never_sends_the_batch(r, user_ids):
    pipe = r.pipeline(transaction=False)
    for u in user_ids:
        for f in FIELDS:
            pipe.get(f"user:{u}:{f}")
    return {}


def returns_the_list_of_replies(r, user_ids):
    return r.mget([f"user:{u}:{f}" for u in user_ids for f in FIELDS])


def only_the_first_two_users(r, user_ids):
    return reference_load_profiles(r, user_ids[:2])


def with_a_transaction(r, user_ids):
    pipe = r.pipeline()  # MULTI/EXEC: atomic too, and still one round trip
    for u in user_ids:
        for f in FIELDS:
            pipe.get(f"user:{u}:{f}")
    it = iter(pipe.execute())
    return {u: {f: next(it) for f in FIELDS} for u in user_ids}


def with_one_multi_get(r, user_ids):
    it = iter(r.mget([f"user:{u}:{f}" for u in user_ids for f in FIELDS]))
    return {u: {f: next(it) for f in FIELDS} for u in user_ids}


@pytest.mark.parametrize("solution", [reference_load_profiles, with_a_transaction, with_one_multi_get])
def test_one_round_trip_solutions_pass(capsys, solution):
    start.check(solution)
    assert capsys.readouterr().out.startswith("✓ 20 users' profiles in one round trip (")


@pytest.mark.parametrize(
    ("solution", "line"),
    [
        (one_by_one, "not yet: for 2 users it took 6 round trips (GET, GET, GET, GET, GET, GET); every read must "
                     "reach the server together, in one round trip, however many users"),
        (one_round_trip_per_user, "not yet: for 2 users it took 2 round trips (GET, GET, GET, GET, GET, GET); "
                                  "every read must reach the server together, in one round trip, however many "
                                  "users"),
        (one_multi_get_per_user, "not yet: for 2 users it took 2 round trips (MGET, MGET); every read must reach "
                                 "the server together, in one round trip, however many users"),
        (answers_in_the_wrong_places, "not yet: user 7's email is 'pro'; it should be 'ada@example.com'"),
        (skips_the_fields_never_saved, "not yet: user 99's profile is {'name': 'Cy', 'email': 'cy@example.com'}; "
                                       "it should be a dict of exactly name, email, plan (None for a field never "
                                       "saved)"),
        (never_sends_the_batch, "not yet: nothing reached the server for users [7, 42]: no command was sent"),
        (returns_the_list_of_replies, "not yet: it returned list ['Ada', 'ada@example.com', 'pro', 'Bo', "
                                      "'bo@example.com', 'free']; it should return a dict of user id → profile"),
        (only_the_first_two_users, "not yet: asked for users [42, 99, 7, 5], it returned profiles for [42, 99]"),
        (stub, "not yet: the function still raises NotImplementedError; replace the stub with your code"),
    ],
)
def test_start_checker_names_the_problem(capsys, solution, line):
    start.check(solution)
    assert capsys.readouterr().out == line + "\n"


def test_a_function_that_writes_while_it_reads_is_caught(capsys):
    def overwrites(r, user_ids):
        pipe = r.pipeline(transaction=False)
        for u in user_ids:
            for f in FIELDS:
                pipe.get(f"user:{u}:{f}")
        pipe.set("user:7:plan", "free")  # in the same round trip, after the reads: the answers are right
        it = iter(pipe.execute())
        return {u: {f: next(it) for f in FIELDS} for u in user_ids}

    start.check(overwrites)
    assert capsys.readouterr().out == "not yet: it changed the stored profiles; it should only read them\n"


# Words that would hand over the answer: a checker's message says what is wrong, not what to type.
GIVEAWAYS = ["pipeline", "mget", "execute", "transaction", "multi", "batch", "zip", "queue"]


def test_the_start_checker_never_names_the_answer(capsys):
    wrong = [one_by_one, one_round_trip_per_user, answers_in_the_wrong_places, skips_the_fields_never_saved,
             never_sends_the_batch, returns_the_list_of_replies, only_the_first_two_users, stub]
    out = messages_of(start.check, wrong, capsys)
    assert [word for word in GIVEAWAYS if word in out] == []
