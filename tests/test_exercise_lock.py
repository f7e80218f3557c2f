"""Chapter checker tests (lock): the reference passes; each wrong answer gets one line naming its problem.

Notebook 06's exercise is a counting semaphore: ``acquire(r, name, limit, lease_ms)`` returns a
token or None, ``release(r, name, token)`` returns True or False, and the learner passes both.
"""
from __future__ import annotations

import secrets
import time

import pytest

from helpers import messages_of
from patterns.exercises import lock as lock_exercise
from patterns.lock import Lock, with_lock
from solutions.lock import SEMAPHORE_ACQUIRE, acquire as reference_acquire, release as reference_release

KEY = "semaphore:{}"
RELEASE_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


# -- the seed's withLock, ported, used as a semaphore (it has no notion of a limit) ------------------

def seed_acquire(r, name, limit, lease_ms):
    token = secrets.token_hex(16)
    return token if r.set(f"lock:{name}", token, px=lease_ms, nx=True) else None


def seed_release(r, name, token):
    return r.eval(RELEASE_SCRIPT, 1, f"lock:{name}", token) == 1


# -- patterns' Lock and with_lock as a semaphore of one ------------------------------------------------

held: dict[str, Lock] = {}


def lock_acquire(r, name, limit, lease_ms):
    lock = Lock(r, name, ttl=lease_ms / 1000, timeout=0)
    if not lock.acquire():
        return None
    held[lock.token] = lock
    return lock.token


def lock_release(r, name, token):
    lock = held.pop(token, None)
    if lock is None:
        return False
    lock.release()
    return True


def with_lock_acquire(r, name, limit, lease_ms):
    return with_lock(r, name, lambda: secrets.token_hex(16), ttl_ms=lease_ms)


# -- the classic mistakes -----------------------------------------------------------------------------

def check_then_add(r, name, limit, lease_ms):
    now = int(time.time() * 1000)
    r.zremrangebyscore(KEY.format(name), "-inf", now)
    if r.zcard(KEY.format(name)) >= limit:
        return None
    token = secrets.token_hex(16)
    r.zadd(KEY.format(name), {token: now + lease_ms})
    if r.pttl(KEY.format(name)) < lease_ms:
        r.pexpire(KEY.format(name), lease_ms)
    return token


def scripted(acquire_script):
    def acquire(r, name, limit, lease_ms):
        token = secrets.token_hex(16)
        return token if r.eval(acquire_script, 1, KEY.format(name), limit, lease_ms, token) else None
    return acquire


NEVER_RECLAIMED = SEMAPHORE_ACQUIRE.replace("redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)", "")
NO_TTL = SEMAPHORE_ACQUIRE.replace("redis.call('PEXPIRE', KEYS[1], ARGV[2])", "")
EXPIRY_OF_THE_LATEST = SEMAPHORE_ACQUIRE.replace(
    "if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then", "if true then")
assert len({SEMAPHORE_ACQUIRE, NEVER_RECLAIMED, NO_TTL, EXPIRY_OF_THE_LATEST}) == 4  # each edit took


def pop_anyone(r, name, token):  # gives back the oldest slot, whoever holds it
    return bool(r.zpopmin(KEY.format(name)))


def counter_acquire(r, name, limit, lease_ms):
    token = str(r.incr(f"next-token:{name}"))
    r.expire(f"next-token:{name}", 60)
    return token if scripted(SEMAPHORE_ACQUIRE)(r, name, limit, lease_ms) else None


def sliding_log_acquire(r, name, limit, lease_ms):  # chapter 02's limiter: admits limit per lease, cannot give back
    from patterns.ratelimit import SlidingLog

    allowed = SlidingLog(r, limit, lease_ms / 1000, name=name).hit("semaphore").allowed
    return secrets.token_hex(16) if allowed else None


def reference_with_count(r, name, token):
    return r.zrem(KEY.format(name), token)  # 1 or 0, not True or False


@pytest.mark.parametrize(
    ("acquire", "release", "says"),
    [
        pytest.param(seed_acquire, seed_release, "acquire number 2 on a semaphore of 3 got None", id="seed-port"),
        pytest.param(lock_acquire, lock_release, "acquire number 2 on a semaphore of 3 got None", id="patterns-Lock"),
        pytest.param(with_lock_acquire, lambda r, n, t: True, "a 4th client got a slot", id="patterns-with_lock"),
        pytest.param(check_then_add, reference_release, "two clients took the last slot", id="check-then-add"),
        pytest.param(scripted(NEVER_RECLAIMED), reference_release, "whose 50 ms lease ran out still takes a slot",
                     id="leases-never-reclaimed"),
        pytest.param(reference_acquire, pop_anyone, "release returned True for a token nobody holds",
                     id="release-of-anyones-token"),
        pytest.param(scripted(NO_TTL), reference_release, "never expires", id="no-ttl"),
        pytest.param(scripted(EXPIRY_OF_THE_LATEST), reference_release, "the key must live as long as the longest",
                     id="key-expiry-cut-short"),
        pytest.param(counter_acquire, reference_release, "can be guessed", id="guessable-tokens"),
        pytest.param(sliding_log_acquire, lambda r, n, t: False, "release returned False for a holder's own token",
                     id="a-rate-limiter-is-no-semaphore"),
        pytest.param(reference_acquire, reference_with_count, "release returned 0 for a token nobody holds; return True or False",
                     id="release-not-a-bool"),
        pytest.param(lambda r, n, l, ms: True, reference_release, "returned True; return the holder's token",
                     id="acquire-not-a-token"),
    ],
)
def test_lock_checker_names_the_problem(capsys, acquire, release, says):
    lock_exercise.check(acquire, release)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("not yet: ") and says in out, out


def test_the_check_then_add_race_is_found_every_time(capsys):
    for _ in range(5):  # the checker slips the other client in between round trips: no luck involved
        lock_exercise.check(check_then_add, reference_release)
        assert "two clients took the last slot" in capsys.readouterr().out


def test_lock_reference_passes(capsys):
    lock_exercise.check(reference_acquire, reference_release)
    out = capsys.readouterr().out
    assert out.startswith("✓ a semaphore") and out.count("\n") == 1, out


# -- other right answers pass too: the checker asks for the behaviour, not one way to write it ------------

CLIENT_CLOCK = """
local now = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return false end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
"""


def client_clock_acquire(r, name, limit, lease_ms):
    token = secrets.token_hex(16)
    now = int(time.time() * 1000)
    return token if r.eval(CLIENT_CLOCK, 1, KEY.format(name), limit, lease_ms, token, now) else None


def watched_acquire(r, name, limit, lease_ms):
    import redis

    key, token = KEY.format(name), secrets.token_hex(16)
    with r.pipeline() as pipe:
        while True:
            try:
                pipe.watch(key)
                now = int(time.time() * 1000)
                live = [m for m, ends in pipe.zrange(key, 0, -1, withscores=True) if ends > now]
                if len(live) >= limit:
                    return None
                longest = max([pipe.pttl(key), lease_ms])
                pipe.multi()
                pipe.zremrangebyscore(key, "-inf", now)
                pipe.zadd(key, {token: now + lease_ms})
                pipe.pexpire(key, longest)
                pipe.execute()
                return token
            except redis.WatchError:
                continue


@pytest.mark.parametrize("acquire", [client_clock_acquire, watched_acquire], ids=["client-clock", "watch-multi"])
def test_other_right_answers_pass(capsys, acquire):
    lock_exercise.check(acquire, reference_release)
    out = capsys.readouterr().out
    assert out.startswith("✓ "), out


def test_a_stub_gets_the_stub_line(capsys):
    def stub(*args):
        raise NotImplementedError

    lock_exercise.check(stub, stub)
    assert capsys.readouterr().out == ("not yet: the function still raises NotImplementedError; "
                                       "replace the stub with your code\n")


# Words that would hand over the answer: a checker's message says what is wrong, not what to type.
GIVEAWAYS = ["zadd", "zrem", "zcard", "sorted set", "lua", "eval", "script", "multi", "watch", "pexpire", "score",
             "secrets", "token_hex", "uuid"]


def test_the_lock_checker_never_names_the_answer(capsys):
    wrong = [(seed_acquire, seed_release), (check_then_add, reference_release),
             (scripted(NEVER_RECLAIMED), reference_release), (reference_acquire, pop_anyone),
             (scripted(NO_TTL), reference_release), (scripted(EXPIRY_OF_THE_LATEST), reference_release),
             (counter_acquire, reference_release), (reference_acquire, reference_with_count)]
    out = messages_of(lambda pair: lock_exercise.check(*pair), wrong, capsys)
    assert [word for word in GIVEAWAYS if word in out] == []


def test_the_pair_can_come_as_one_object_and_a_missing_release_is_named(capsys):
    from solutions.lock import Semaphore

    lock_exercise.check(Semaphore)
    assert capsys.readouterr().out.startswith("✓ a semaphore")
    lock_exercise.check(reference_acquire)
    assert capsys.readouterr().out == "not yet: pass both functions to check: first acquire, then release\n"


# -- found by review: wrong answers the checker once passed, right ones it must keep passing -----------------

def zrem_release(r, name, token):  # says True even when the token's lease had already run out
    return r.zrem(KEY.format(name), token) == 1


def rank_release(r, name, token):  # finds the token's place, then removes whatever is at that place
    rank = r.zrank(KEY.format(name), token)
    if rank is None:
        return False
    r.zremrangebyrank(KEY.format(name), rank, rank)
    return True


def tokens_from(make):
    def acquire(r, name, limit, lease_ms):
        token = make(r, name)
        return token if r.eval(SEMAPHORE_ACQUIRE, 1, KEY.format(name), limit, lease_ms, token) else None
    return acquire


def numbered(r, name):  # long, not all digits, and still the next one is known
    return f"holder-of-{name}-{r.incr(f'tokens:{name}'):012d}"


def rank_acquire(r, name, limit, lease_ms):  # add, then keep the slot if ranked among the first `limit`
    key, token, now = KEY.format(name), secrets.token_hex(16), int(time.time() * 1000)
    with r.pipeline() as pipe:  # MULTI/EXEC: atomic, and still wrong: a shorter lease ranks first
        pipe.zremrangebyscore(key, "-inf", now).zadd(key, {token: now + lease_ms}).zrank(key, token).pttl(key)
        _, _, rank, ttl = pipe.execute()
    if ttl < lease_ms:
        r.pexpire(key, lease_ms)
    if rank < limit:
        return token
    r.zrem(key, token)
    return None


def test_the_rank_mistake_is_refused_every_time(capsys):
    """Its scores tie within a millisecond, so where it first goes wrong varies; that it goes wrong does not."""
    for _ in range(10):
        lock_exercise.check(rank_acquire, reference_release)
        out = capsys.readouterr().out
        assert out.startswith("not yet: ") and any(line in out for line in [
            "a client asking for a shorter lease (10 s) got a slot", "a 4th client got a slot",
            "after one release, two new clients got the one freed slot"]), out


SECONDS_EXPIRY = SEMAPHORE_ACQUIRE.replace(
    "redis.call('PEXPIRE', KEYS[1], ARGV[2])", "redis.call('EXPIRE', KEYS[1], math.floor(tonumber(ARGV[2]) / 1000))")
assert SECONDS_EXPIRY != SEMAPHORE_ACQUIRE


@pytest.mark.parametrize(
    ("acquire", "release", "says"),
    [
        pytest.param(reference_acquire, rank_release, "gave back another holder's slot", id="release-by-rank"),
        pytest.param(tokens_from(lambda r, n: f"{time.time():.6f}"), reference_release, "can be guessed",
                     id="tokens-from-the-clock"),
        pytest.param(tokens_from(lambda r, n: str(__import__("uuid").uuid1())), reference_release, "can be guessed",
                     id="time-based-uuid"),
        pytest.param(tokens_from(numbered), reference_release, "can be guessed", id="numbered-tokens"),
        pytest.param(scripted(SECONDS_EXPIRY), reference_release, "while a 50 ms lease was still running",
                     id="expiry-in-whole-seconds"),
        pytest.param(reference_acquire, zrem_release, "for a token whose lease had run out",
                     id="release-after-the-lease-ran-out"),
    ],
)
def test_lock_checker_names_what_review_found(capsys, acquire, release, says):
    lock_exercise.check(acquire, release)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("not yet: ") and says in out, out


COMPARE_AND_DELETE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def slot_acquire(r, name, limit, lease_ms):  # `limit` lock keys, one per slot: also a semaphore
    token = secrets.token_hex(16)
    for slot in range(limit):
        if r.set(f"sem:{name}:slot:{slot}", token, px=lease_ms, nx=True):
            return f"{slot}:{token}"
    return None


def slot_release(r, name, token):
    slot, _, secret = str(token).partition(":")
    return slot.isdigit() and r.eval(COMPARE_AND_DELETE, 1, f"sem:{name}:slot:{slot}", secret) == 1


HASH_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all, live = redis.call('HGETALL', KEYS[1]), 0
for i = 1, #all, 2 do
  if tonumber(all[i + 1]) <= now then redis.call('HDEL', KEYS[1], all[i]) else live = live + 1 end
end
if live >= tonumber(ARGV[1]) then return false end
redis.call('HSET', KEYS[1], ARGV[3], now + tonumber(ARGV[2]))
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
"""
HASH_RELEASE = """
local t = redis.call('TIME')
local ends = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
redis.call('HDEL', KEYS[1], ARGV[1])
return ends ~= nil and ends > tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""


def hash_acquire(r, name, limit, lease_ms):  # a hash-tagged key, token -> when its lease ends
    token = secrets.token_hex(16)
    return token if r.eval(HASH_ACQUIRE, 1, f"ws:{{sem:{name}}}", limit, lease_ms, token) else None


def hash_release(r, name, token):
    return r.eval(HASH_RELEASE, 1, f"ws:{{sem:{name}}}", token) == 1


GT_EXPIRY = SEMAPHORE_ACQUIRE.replace(
    "if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then\n  redis.call('PEXPIRE', KEYS[1], ARGV[2])\nend",
    "if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
    "else redis.call('PEXPIRE', KEYS[1], ARGV[2], 'GT') end")
assert GT_EXPIRY != SEMAPHORE_ACQUIRE


def two_step_release(r, name, token):  # two round trips, no script: fine, it only ever removes its own token
    ends = r.zscore(KEY.format(name), token)
    seconds, micros = r.time()
    removed = r.zrem(KEY.format(name), token)
    return removed == 1 and ends is not None and ends > seconds * 1000 + micros // 1000


@pytest.mark.parametrize(("acquire", "release"), [(slot_acquire, slot_release), (hash_acquire, hash_release),
                                                  (scripted(GT_EXPIRY), reference_release),
                                                  (reference_acquire, two_step_release)],
                         ids=["one-lock-key-per-slot", "hash-tagged-hash-of-lease-ends", "expire-gt",
                              "release-in-two-round-trips"])
def test_more_right_answers_pass(capsys, acquire, release):
    lock_exercise.check(acquire, release)
    out = capsys.readouterr().out
    assert out.startswith("✓ "), out


plock_held: dict[str, Lock] = {}


def patterns_lock_per_slot(r, name, limit, lease_ms):
    for slot in range(limit):
        lock = Lock(r, f"{name}:slot:{slot}", ttl=lease_ms / 1000, timeout=0)
        if lock.acquire():
            plock_held[lock.token] = lock
            return lock.token
    return None


def test_patterns_lock_per_slot_leaves_its_fencing_counters_behind(capsys):
    """A semaphore of N of the chapter's Locks works, but each slot's fencing counter lives for 30 days."""
    lock_exercise.check(patterns_lock_per_slot, lambda r, n, t: bool(plock_held.pop(t, None)))
    out = capsys.readouterr().out
    assert out.startswith("not yet: key 'lock:{jobs:slot:0}:fence' lives 2592000 s"), out


def test_the_checks_review_added_never_name_the_answer(capsys):
    wrong = [(reference_acquire, rank_release), (tokens_from(numbered), reference_release),
             (tokens_from(lambda r, n: f"{time.time():.6f}"), reference_release),
             (scripted(SECONDS_EXPIRY), reference_release), (reference_acquire, zrem_release),
             (rank_acquire, reference_release)]
    out = messages_of(lambda pair: lock_exercise.check(*pair), wrong, capsys)
    assert [word for word in GIVEAWAYS + ["time", "monotonic"] if word in out.replace("one after the other", "")] == [], out


def test_a_slow_right_answer_still_passes(capsys):
    """A stalled machine, staged: an acquire is slow to reach the server, a release slow to come back from it."""
    def slow_acquire(r, name, limit, lease_ms):
        time.sleep(0.02)
        return reference_acquire(r, name, limit, lease_ms)

    def slow_release(r, name, token):
        released = reference_release(r, name, token)
        time.sleep(0.02)
        return released

    lock_exercise.check(slow_acquire, slow_release)
    out = capsys.readouterr().out
    assert out.startswith("✓ "), out


MONOTONIC_ACQUIRE = SEMAPHORE_ACQUIRE.replace(
    "local t = redis.call('TIME')\nlocal now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)",
    "local now = tonumber(ARGV[4])")
MONOTONIC_RELEASE = ("local ends = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1])) redis.call('ZREM', KEYS[1], ARGV[1]) "
                     "return ends ~= nil and ends > tonumber(ARGV[2])")
assert MONOTONIC_ACQUIRE != SEMAPHORE_ACQUIRE


def monotonic_acquire(r, name, limit, lease_ms):  # each machine's monotonic clock starts at its own boot
    token = secrets.token_hex(16)
    now = int(time.monotonic() * 1000)
    return token if r.eval(MONOTONIC_ACQUIRE, 1, KEY.format(name), limit, lease_ms, token, now) else None


def monotonic_release(r, name, token):
    return r.eval(MONOTONIC_RELEASE, 1, KEY.format(name), token, int(time.monotonic() * 1000)) == 1


def test_leases_on_one_machines_own_clock_are_named(capsys):
    lock_exercise.check(monotonic_acquire, monotonic_release)
    out = capsys.readouterr().out
    assert out.startswith("not yet: ") and "counts from when this machine started" in out, out
    assert [word for word in GIVEAWAYS + ["time", "monotonic"] if word in out] == [], out
