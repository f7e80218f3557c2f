"""Chapter checker tests (caching): the reference passes; each wrong answer gets one line naming its problem."""
from __future__ import annotations

import json
import pickle

import pytest

from patterns.exercises import caching


def reference_cached_fetch(r, key, fetch):
    raw = r.get(key)
    if raw is not None:
        return json.loads(raw)
    value = fetch()
    r.set(key, json.dumps(value), ex=120)
    return value


def stub(r, key, fetch):
    raise NotImplementedError


def truthiness_check(r, key, fetch):  # the classic: `if cached:` after decoding
    raw = r.get(key)
    value = json.loads(raw) if raw is not None else None
    if value:
        return value
    value = fetch()
    r.set(key, json.dumps(value), ex=120)
    return value


def no_ttl(r, key, fetch):
    raw = r.get(key)
    if raw is not None:
        return json.loads(raw)
    value = fetch()
    r.set(key, json.dumps(value))
    return value


def set_then_expire(r, key, fetch):
    raw = r.get(key)
    if raw is not None:
        return json.loads(raw)
    value = fetch()
    r.set(key, json.dumps(value))
    r.expire(key, 120)
    return value


def with_pickle(r, key, fetch):
    raw = r.get(key)
    if raw is not None:
        return raw
    value = fetch()
    r.set(key, str(pickle.dumps(value)), ex=120)
    return value


def returns_raw_json(r, key, fetch):
    raw = r.get(key)
    if raw is not None:
        return raw
    value = fetch()
    r.set(key, json.dumps(value), ex=120)
    return value


def two_round_trip_hit(r, key, fetch):
    if r.exists(key):
        return json.loads(r.get(key))
    value = fetch()
    r.set(key, json.dumps(value), ex=120)
    return value


def ttl_too_long(r, key, fetch):
    raw = r.get(key)
    if raw is not None:
        return json.loads(raw)
    value = fetch()
    r.set(key, json.dumps(value), ex=86400)
    return value


def crashes(r, key, fetch):
    return {}[key]


def test_the_reference_solution_passes(capsys):
    caching.check(reference_cached_fetch)
    assert capsys.readouterr().out.startswith("✓ cache-aside works")


@pytest.mark.parametrize(
    ("solution", "says"),
    [
        (stub, "still raises NotImplementedError"),
        (truthiness_check, "falsy values and None must be cached"),
        (no_ttl, "has no TTL"),
        (set_then_expire, "written by separate commands (GET, SET, EXPIRE)"),
        (with_pickle, "is not the JSON"),
        (returns_raw_json, "decode the JSON"),
        (two_round_trip_hit, "a hit took 2 round trips (EXISTS, GET)"),
        (ttl_too_long, "the TTL is 86400 s"),
        (crashes, "your function raised KeyError"),
    ],
)
def test_wrong_solutions_get_one_line_naming_the_problem(capsys, solution, says):
    caching.check(solution)
    out = capsys.readouterr().out
    assert out.startswith("not yet: ") and says in out
    assert out.count("\n") == 1


