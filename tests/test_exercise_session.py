"""Chapter checker tests (session): the reference passes; each wrong answer gets one line naming its problem."""
from __future__ import annotations

import itertools
import json

import pytest

from helpers import messages_of

# -- notebook 04: a safe session -----------------------------------------------------------------

from patterns.exercises import session as session_exercise
from solutions.session import create_session as reference_create_session



def counter_ids(r, user_id, data):
    session_id = str(r.incr("next-session-id"))
    r.set(f"session:{session_id}", "x", ex=1800)
    return session_id


def two_steps(r, user_id, data):
    import secrets

    session_id = secrets.token_urlsafe(16)
    r.hset(f"session:{session_id}", "user", user_id)
    r.expire(f"session:{session_id}", 1800)
    return session_id


def forever(r, user_id, data):
    import secrets

    session_id = secrets.token_urlsafe(16)
    r.hset(f"session:{session_id}", "user", user_id)
    return session_id


def day_long(r, user_id, data):
    import secrets

    session_id = secrets.token_urlsafe(16)
    r.set(f"session:{session_id}", user_id, ex=86400)
    return session_id


def pipelined_but_not_atomic(r, user_id, data):
    import secrets

    session_id = secrets.token_urlsafe(16)
    pipe = r.pipeline(transaction=False)
    pipe.hset(f"session:{session_id}", "user", user_id)
    pipe.expire(f"session:{session_id}", 1800)
    pipe.execute()
    return session_id


def user_id_plus_counter(r, user_id, data):
    session_id = f"{user_id}-{r.incr('n'):040d}"
    r.set(f"session:{session_id}", "x", ex=1800)
    return session_id


def uuid4_hex(r, user_id, data):  # 32 hex digits, but only 122 of their 128 bits are random
    import uuid

    session_id = uuid.uuid4().hex
    r.set(f"session:{session_id}", user_id, ex=1800)
    return session_id


def uuid1_time_based(r, user_id, data):  # the clock and the machine's address: guessable
    import uuid

    session_id = str(uuid.uuid1())
    r.set(f"session:{session_id}", user_id, ex=1800)
    return session_id


_issued = itertools.count()


def sha256_of_a_counter(r, user_id, data):  # looks random per position, but anyone can compute it
    import hashlib

    session_id = hashlib.sha256(str(next(_issued)).encode()).hexdigest()
    r.set(f"session:{session_id}", user_id, ex=1800)
    return session_id


def sha256_of_the_time(r, user_id, data):
    import hashlib
    import time

    session_id = hashlib.sha256(str(time.time_ns()).encode()).hexdigest()
    r.set(f"session:{session_id}", user_id, ex=1800)
    return session_id


def random_module_bits(r, user_id, data):  # 128 bits of a Mersenne Twister: predictable from its output
    import random

    session_id = f"{random.getrandbits(128):032x}"
    r.set(f"session:{session_id}", user_id, ex=1800)
    return session_id


def unpadded_hex_of_secret_bits(r, user_id, data):  # correct: the length varies, the bits do not
    import secrets

    session_id = f"{secrets.randbits(128):x}"
    r.set(f"session:{session_id}", json.dumps(data), ex=1800)
    return session_id


def hset_mapping_in_a_transaction(r, user_id, data):  # the hint followed to the letter
    import secrets

    session_id = secrets.token_hex(16)
    pipe = r.pipeline(transaction=True)
    pipe.hset(f"session:{session_id}", mapping=data)
    pipe.expire(f"session:{session_id}", 1800)
    pipe.execute()
    return session_id


def data_thrown_away(r, user_id, data):  # an id and a TTL, but the session holds nothing of the user's
    import secrets

    session_id = secrets.token_urlsafe(16)
    r.set(f"session:{session_id}", "", ex=1800)
    return session_id


def only_the_user(r, user_id, data):
    import secrets

    session_id = secrets.token_urlsafe(16)
    r.set(f"session:{session_id}", user_id, ex=1800)
    return session_id


def json_string_of_the_data(r, user_id, data):  # a blob: the chapter prefers fields, but it holds the data
    import json
    import secrets

    session_id = secrets.token_urlsafe(16)
    r.set(f"session:{session_id}", json.dumps({**data, "user": user_id}), ex=1800)
    return session_id


def same_id(r, user_id, data):
    r.set(f"session:{user_id}-session-0000000000000000", user_id, ex=1800)
    return f"{user_id}-session-0000000000000000"


@pytest.mark.parametrize(
    ("solution", "says"),
    [
        (counter_ids, "about"),
        (data_thrown_away, "does not hold the data it was given"),
        (only_the_user, "does not hold the data it was given"),
        (user_id_plus_counter, "contains the user id"),
        (same_id, "same id"),
        (uuid4_hex, "about 122 random bits, below the 128"),
        (sha256_of_a_counter, "operating system's random source"),
        (sha256_of_the_time, "operating system's random source"),
        (random_module_bits, "operating system's random source"),
        (uuid1_time_based, "may be guessable"),
        (two_steps, "written in 2 round trip(s) (HSET, EXPIRE)"),
        (pipelined_but_not_atomic, "written in 1 round trip(s) (HSET, EXPIRE)"),
        (forever, "no TTL"),
        (day_long, "lives 86400 s"),
        (lambda r, u, d: 42, "return the new session id as a str"),
        (lambda r, u, d: "abc", "nothing was stored"),
    ],
)
def test_session_checker_names_the_problem(capsys, solution, says):
    session_exercise.check(solution)
    out = capsys.readouterr().out
    assert out.startswith("not yet: ") and says in out


def test_session_reference_passes(capsys):
    session_exercise.check(reference_create_session)
    assert capsys.readouterr().out.startswith("✓ 201 unique ids")


def test_an_id_of_128_secret_bits_printed_without_padding_passes(capsys):
    session_exercise.check(unpadded_hex_of_secret_bits)
    assert capsys.readouterr().out.startswith("✓ 201 unique ids")


def test_a_session_written_with_hset_mapping_of_the_data_passes(capsys):
    """The checker hands over real data: HSET with an empty mapping is an error in redis-py."""
    session_exercise.check(hset_mapping_in_a_transaction)
    assert capsys.readouterr().out.startswith("✓ 201 unique ids of ~128 random bits")


GIVEAWAYS = ["token_urlsafe", "secrets."]


def test_the_session_checker_never_names_the_answer(capsys):
    out = messages_of(session_exercise.check, [counter_ids, same_id, uuid4_hex, random_module_bits,
                                             sha256_of_a_counter, user_id_plus_counter, sixty_four_bits,
                                             the_library_call, the_store_create], capsys)
    assert [word for word in GIVEAWAYS if word in out] == []


def test_the_stand_in_random_source_serves_only_the_checked_function_not_other_threads(capsys):
    """While the checker feeds the learner's function repeating bytes, the rest of the kernel (a dashboard's
    thread making lock tokens, say) must still get the operating system's real randomness."""
    import os
    import threading

    from patterns.exercises.session import _FixedBytes, _made_from_os_randomness

    drawn_elsewhere = []
    inside, done = threading.Event(), threading.Event()

    def other_thread():
        inside.wait(5)
        drawn_elsewhere.extend([os.urandom(16), os.urandom(16)])
        done.set()

    def learner(r, user_id, data):
        inside.set()
        done.wait(5)
        import secrets
        return secrets.token_urlsafe(16)

    worker = threading.Thread(target=other_thread)
    worker.start()
    same, _ = _made_from_os_randomness(learner)
    worker.join()
    assert same  # the checked function itself still sees the repeating source
    fixed = _FixedBytes()
    assert set(drawn_elsewhere) & {fixed(16) for _ in range(4)} == set()


@pytest.mark.parametrize("solution", [json_string_of_the_data, hset_mapping_in_a_transaction])
def test_a_session_that_holds_the_data_as_fields_or_as_json_passes(capsys, solution):
    session_exercise.check(solution)
    assert capsys.readouterr().out.startswith("✓ ")


# -- the key the chapter itself writes, a learner's own script, the library call, 64-bit ids ---------


def hash_tagged_key_in_a_transaction(r, user_id, data):  # right: the chapter's own key shape, session:{id}
    import secrets

    session_id = secrets.token_urlsafe(16)
    key = f"session:{{{session_id}}}"
    pipe = r.pipeline(transaction=True)
    pipe.hset(key, mapping={name: json.dumps(value) for name, value in data.items()})
    pipe.expire(key, 1800)
    pipe.execute()
    return session_id


def own_script_on_a_hash_tagged_key(r, user_id, data):  # right: one script; a fresh server first says NOSCRIPT
    import secrets

    session_id = secrets.token_urlsafe(16)
    write = r.register_script("redis.call('SET', KEYS[1], ARGV[1]) return redis.call('EXPIRE', KEYS[1], ARGV[2])")
    write(keys=[f"session:{{{session_id}}}"], args=[json.dumps(data), 1800])
    return session_id


def the_library_call(r, user_id, data):  # (b) one call into patterns: the chapter's set_session
    from patterns.session import new_session_id, set_session

    session_id = new_session_id()
    set_session(r, session_id, data, ttl=1800)
    return session_id


def the_store_create(r, user_id, data):  # (b) the chapter's SessionStore, which also indexes the user
    from patterns.session import SessionStore

    return SessionStore(r, idle_ttl=1800).create(user_id, data)


def sixty_four_bits(r, user_id, data):  # OWASP's minimum: enough by its arithmetic, half of what is asked
    import secrets

    session_id = secrets.token_hex(8)
    r.set(f"session:{session_id}", json.dumps(data), ex=1800)
    return session_id


@pytest.mark.parametrize("solution", [hash_tagged_key_in_a_transaction, own_script_on_a_hash_tagged_key])
def test_a_session_under_the_chapters_hash_tagged_key_passes(capsys, solution):
    session_exercise.check(solution)
    assert capsys.readouterr().out.startswith("✓ 201 unique ids of ~128 random bits")


@pytest.mark.parametrize("solution", [the_library_call, the_store_create])
def test_a_direct_call_of_the_chapters_session_code_is_rejected(capsys, solution):
    session_exercise.check(solution)
    assert capsys.readouterr().out == (
        "not yet: it stores the session with the chapter's own session scripts; the exercise asks you to "
        "make the id and write the data and its expiry yourself\n")


def test_sixty_four_bits_are_asked_to_double_not_called_guessable(capsys):
    session_exercise.check(sixty_four_bits)
    out = capsys.readouterr().out
    assert out.startswith("not yet: ids like ") and "carry about 64 random bits, below the 128 this exercise asks " \
        "for (twice OWASP's minimum of 64)" in out and "guessable" not in out
