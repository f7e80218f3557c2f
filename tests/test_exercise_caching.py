"""Chapter checker tests (caching): the reference passes; each wrong answer gets one line naming its problem.

The exercise: ``cached_many(r, ids, fetch_many)``, cache-aside for a batch of product ids.
"""
from __future__ import annotations

import json
import pickle
import random

import pytest

import patterns
from helpers import messages_of
from patterns.exercises import caching
from solutions.caching import cached_many as reference

KEY = "product:{}"


def get_or_set_seed(r, key, fetcher, ttl_seconds=3600):  # the notebook's port of the seed, cell for cell
    cached = r.get(key)
    if cached:
        return json.loads(cached)
    fresh = fetcher()
    r.set(key, json.dumps(fresh), ex=ttl_seconds)
    return fresh


# -- wrong answers, each the way a learner would write it -------------------------------------------

def stub(r, ids, fetch_many):
    raise NotImplementedError


def seed_per_id(r, ids, fetch_many):
    return {i: get_or_set_seed(r, KEY.format(i), lambda: fetch_many([i]).get(i), 120) for i in ids}


def patterns_per_id(r, ids, fetch_many):
    return {i: patterns.get_or_set(r, KEY.format(i), lambda: fetch_many([i]).get(i), 120) for i in ids}


def seed_per_id_after_one_fetch(r, ids, fetch_many):  # one query, but still one GET and one SET per id
    found = fetch_many(ids)
    values = {i: get_or_set_seed(r, KEY.format(i), lambda: found.get(i, "?"), random.randint(240, 300)) for i in ids}
    return {i: v for i, v in values.items() if v != "?"}


def _write(r, pipe, i, fetched):
    if i in fetched:
        pipe.set(KEY.format(i), json.dumps(fetched[i]), ex=random.randint(240, 300))
    else:
        pipe.set(KEY.format(i), "", ex=random.randint(20, 30))


def _read(ids, raws):
    found, misses = {}, []
    for i, raw in zip(ids, raws):
        if raw is None:
            misses.append(i)
        elif raw != "":
            found[i] = json.loads(raw)
    return found, misses


def loop_of_gets(r, ids, fetch_many):
    found, misses = _read(ids, [r.get(KEY.format(i)) for i in ids])
    if misses:
        fetched = fetch_many(misses)
        pipe = r.pipeline(transaction=False)
        for i in misses:
            _write(r, pipe, i, fetched)
            if i in fetched:
                found[i] = fetched[i]
        pipe.execute()
    return found


def loop_of_sets(r, ids, fetch_many):
    found, misses = _read(ids, r.mget([KEY.format(i) for i in ids]))
    if misses:
        fetched = fetch_many(misses)
        for i in misses:
            _write(r, r, i, fetched)
            if i in fetched:
                found[i] = fetched[i]
    return found


def set_then_expire(r, ids, fetch_many):
    found, misses = _read(ids, r.mget([KEY.format(i) for i in ids]))
    if misses:
        fetched = fetch_many(misses)
        pipe = r.pipeline(transaction=False)
        for i in misses:
            pipe.set(KEY.format(i), json.dumps(fetched[i]) if i in fetched else "")
            pipe.expire(KEY.format(i), random.randint(240, 300) if i in fetched else 25)
            if i in fetched:
                found[i] = fetched[i]
        pipe.execute()
    return found


def sliding_reader(r, ids, fetch_many):  # reads with a TTL reset: every hit restarts the entry's life
    pipe = r.pipeline(transaction=False)
    for i in ids:
        pipe.getex(KEY.format(i), ex=random.randint(240, 300))
    found, misses = _read(ids, pipe.execute())
    if misses:
        fetched = fetch_many(misses)
        pipe = r.pipeline(transaction=False)
        for i in misses:
            _write(r, pipe, i, fetched)
            if i in fetched:
                found[i] = fetched[i]
        pipe.execute()
    return found


def rewrite_the_hits(r, ids, fetch_many):  # on any miss, writes the whole batch back, hits too
    found, misses = _read(ids, r.mget([KEY.format(i) for i in ids]))
    if misses:
        fetched = fetch_many(misses)
        found.update(fetched)
        pipe = r.pipeline(transaction=False)
        for i in ids:
            _write(r, pipe, i, found)
        pipe.execute()
    return found


def set_then_expire_atomically(r, ids, fetch_many):  # the same two commands, inside MULTI/EXEC
    found, misses = _read(ids, r.mget([KEY.format(i) for i in ids]))
    if misses:
        fetched = fetch_many(misses)
        pipe = r.pipeline(transaction=True)
        for i in misses:
            pipe.set(KEY.format(i), json.dumps(fetched[i]) if i in fetched else "")
            pipe.expire(KEY.format(i), random.randint(240, 300) if i in fetched else 25)
            found.update({i: fetched[i]} if i in fetched else {})
        pipe.execute()
    return found


def with_an_index(r, ids, fetch_many):  # also keeps a set of the cached ids, which nothing ever expires
    found, misses = _read(ids, r.mget([KEY.format(i) for i in ids]))
    if misses:
        fetched = fetch_many(misses)
        pipe = r.pipeline(transaction=False)
        for i in misses:
            _write(r, pipe, i, fetched)
            found.update({i: fetched[i]} if i in fetched else {})
        pipe.sadd("products:cached", *misses)
        pipe.execute()
    return found


def reference_with(*, found_ttl=lambda: random.randint(240, 300), missing_ttl=lambda: random.randint(20, 30),
                   encode=json.dumps, decode=json.loads, missing="", is_miss=lambda raw: raw is None,
                   ask=lambda ids, misses: misses, cache_missing=True, query_on_hits=False):
    """The reference with one thing changed: how a learner's answer differs from it."""

    def cached_many(r, ids, fetch_many):
        found, misses = {}, []
        for i, raw in zip(ids, r.mget([KEY.format(i) for i in ids])):
            if is_miss(raw):
                misses.append(i)
            elif raw != missing:
                found[i] = decode(raw)
        if not misses and not query_on_hits:
            return found
        fetched = fetch_many(ask(ids, misses))
        pipe = r.pipeline(transaction=False)
        for i in misses:
            if i in fetched:
                found[i] = fetched[i]
                pipe.set(KEY.format(i), encode(fetched[i]), ex=found_ttl())
            elif cache_missing:
                pipe.set(KEY.format(i), missing, ex=missing_ttl())
        pipe.execute()
        return found

    return cached_many


def truthiness(raw):  # the classic: decode, then `if value:`
    return raw is None or (raw != "" and not json.loads(raw))


WRONG = [
    (stub, "still raises NotImplementedError"),
    (seed_per_id, "fetch_many ran 7 times in one call for 7 ids"),
    (patterns_per_id, "fetch_many ran 7 times in one call for 7 ids"),
    (seed_per_id_after_one_fetch, "fetch_many was called before the cache was read"),
    (loop_of_gets, "reading the cache for 7 ids took 7 round trips"),
    (loop_of_sets, "writing 7 new entries took 7 round trips"),
    (set_then_expire, "written by separate commands (SET, then EXPIRE)"),
    (with_an_index, "'products:cached', which never expires"),
    (set_then_expire_atomically, "written by separate commands (SET, then EXPIRE): twice the commands"),
    (sliding_reader, "the second call pushed back the expiry of 'product:p1'"),
    (rewrite_the_hits, "the second call wrote 'product:p1' again"),
    (reference_with(found_ttl=lambda: 120), "expire within 0 s of each other"),
    (reference_with(found_ttl=lambda: random.randint(118, 120)), "expire within 2 s of each other"),
    (reference_with(found_ttl=lambda: None), "'product:p1' has no TTL"),
    (reference_with(found_ttl=lambda: 86400), "'product:p1' lives 86400 s; a product should be cached for 60-300 s"),
    (reference_with(found_ttl=lambda: 300 + random.randint(0, 30)), "a product should be cached for 60-300 s"),
    (reference_with(cache_missing=False), "nothing was cached for 'p8', which is not in the database"),
    (reference_with(missing_ttl=lambda: 120), "'product:p8' (not in the database) lives 120 s"),
    (reference_with(missing_ttl=lambda: None), "'product:p8' (not in the database) has no TTL"),
    (reference_with(is_miss=truthiness), "asked the database again for 'p2', whose value 0 was cached"),
    (reference_with(is_miss=lambda raw: raw is None or raw == ""), "asked the database again for 'p8'"),
    (reference_with(ask=lambda ids, misses: ids), "asked the database again for 'p1'"),
    (reference_with(missing="null"), "'p5' is in the database (with the value None) but the second result leaves it out"),
    (reference_with(encode=lambda v: str(pickle.dumps(v))), "which is not the JSON text of the value"),
    (reference_with(encode=str), "which is not the JSON text of the value"),
    (reference_with(decode=lambda raw: raw), "for 'p1' the second call returned"),
    (lambda r, ids, f: {i: v for i, v in reference(r, ids, f).items()} | {"p8": None}, "'p8' is not in the database"),
    (lambda r, ids, f: list(reference(r, ids, f).values()), "it returned a list"),
    (reference_with(query_on_hits=True), "every id was cached, yet fetch_many was called (with [])"),
    (lambda r, ids, f: {}[ids[0]], "your function raised KeyError"),
]


def test_the_reference_solution_passes(capsys):
    caching.check(reference)
    assert capsys.readouterr().out.startswith("✓ ")


@pytest.mark.parametrize(("solution", "says"), WRONG, ids=[says[:40] for _, says in WRONG])
def test_each_wrong_answer_gets_one_line_naming_its_problem(capsys, solution, says):
    caching.check(solution)
    out = capsys.readouterr().out
    assert out.startswith("not yet: ") and says in out, out
    assert out.count("\n") == 1


READ_SCRIPT = "return redis.call('MGET', unpack(KEYS))"
WRITE_SCRIPT = "for n, key in ipairs(KEYS) do redis.call('SET', key, ARGV[2 * n - 1], 'EX', ARGV[2 * n]) end"


def lua_scripts(r, ids, fetch_many):  # one script reads every key, another writes every miss with its TTL
    found, misses = _read(ids, r.register_script(READ_SCRIPT)(keys=[KEY.format(i) for i in ids]))
    if misses:
        fetched = fetch_many(misses)
        args = []
        for i in misses:
            found.update({i: fetched[i]} if i in fetched else {})
            args += [json.dumps(fetched[i]), random.randint(240, 300)] if i in fetched else ["", 25]
        r.register_script(WRITE_SCRIPT)(keys=[KEY.format(i) for i in misses], args=args)
    return found


def ten_seconds_apart(longest):  # every product cached for 60 s but one, for 70 s: exactly the 10 s asked for
    def cached_many(r, ids, fetch_many):
        found, misses = _read(ids, r.mget([KEY.format(i) for i in ids]))
        if misses:
            fetched = fetch_many(misses)
            pipe = r.pipeline(transaction=False)
            for i in misses:
                found.update({i: fetched[i]} if i in fetched else {})
                ttl = 70 if i == longest else 60
                pipe.set(KEY.format(i), json.dumps(fetched[i]) if i in fetched else "", ex=ttl if i in fetched else 25)
            pipe.execute()
        return found

    return cached_many


VALID = [
    (lua_scripts, "scripts (the first call of a script also loads it)"),
    (ten_seconds_apart(f"q{caching.BATCH - 1}"), "a 10 s spread, the longest TTL written last"),
    (ten_seconds_apart("q0"), "a 10 s spread, the longest TTL written first"),
    (reference_with(found_ttl=lambda: random.SystemRandom().randint(240, 300)), "jitter from the system's randomness"),
]


@pytest.mark.parametrize("solution", [s for s, _ in VALID], ids=[why for _, why in VALID])
def test_other_right_answers_pass_every_time(capsys, solution):
    for _ in range(10):
        caching.check(solution)
        out = capsys.readouterr().out
        assert out.startswith("✓ "), out


def test_the_reference_asks_nothing_for_an_empty_page_and_each_id_once():
    r, calls = caching.fresh_client(), []

    def fetch_many(ids):
        calls.append(list(ids))
        return {i: i.upper() for i in ids if i != "gone"}

    assert reference(r, [], fetch_many) == {}
    assert reference(r, ["a", "b", "a", "gone"], fetch_many) == {"a": "A", "b": "B"}
    assert calls == [["a", "b", "gone"]]


def test_the_checker_is_deterministic_and_leaves_the_learners_random_alone(capsys):
    random.seed(5)
    expected = [random.random() for _ in range(3)]
    random.seed(5)
    caching.check(reference_with(found_ttl=lambda: random.randint(110, 120)))
    first = capsys.readouterr().out
    assert [random.random() for _ in range(3)] == expected
    for _ in range(3):
        caching.check(reference_with(found_ttl=lambda: random.randint(110, 120)))
        assert capsys.readouterr().out == first


# Words that would hand over the answer: a checker's message says what is wrong, not what to type.
GIVEAWAYS = ["mget", "pipeline", "pipe", "transaction", "multi", "mset", "setex", "ex=", "px=", "randint",
             "uniform", "random.", "json.dumps", "json.loads", "is none", "lua", "script", "empty string", "''"]


def test_the_caching_checker_never_names_the_answer(capsys):
    out = messages_of(caching.check, [solution for solution, _ in WRONG], capsys)
    assert [word for word in GIVEAWAYS if word in out] == []
