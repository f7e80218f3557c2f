"""Locks: mutual exclusion under threads, owner-only release, LockLost, fencing (Redlock: tests/test_redlock.py)."""
from __future__ import annotations

import math
import threading
import time

import fakeredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import patterns
from patterns import keys, validate
from patterns.errors import LockLost, LockNotAcquired
from patterns.lock import Lock, with_lock
from patterns.trace import trace


def test_mutual_exclusion_keeps_a_read_modify_write_counter_exact(r):
    counter = keys.plain(r, "counter")
    r.set(counter, 0)
    errors = []

    def worker():
        for _ in range(25):
            try:
                with Lock(r, "counter", ttl=5, timeout=10):
                    value = int(r.get(counter))
                    time.sleep(0.0005)  # widen the window a lost update would need
                    r.set(counter, value + 1)
            except Exception as error:  # pragma: no cover - reported below
                errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and int(r.get(counter)) == 200


def test_without_the_lock_the_same_counter_loses_updates(real):
    real.set("counter", 0)

    def worker():
        for _ in range(25):
            value = int(real.get("counter"))
            time.sleep(0.0005)
            real.set("counter", value + 1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert int(real.get("counter")) < 200  # the test above is not passing by luck


def test_with_lock_returns_the_result_and_releases(r):
    assert with_lock(r, "job", lambda: {"done": True}) == {"done": True}
    assert r.exists(keys.key(r, "lock", "job")) == 0


def test_with_lock_refuses_at_once_when_the_lock_is_taken(r):
    holder = Lock(r, "job", ttl=5)
    holder.acquire()
    started = time.monotonic()
    with pytest.raises(LockNotAcquired, match="held by someone else"):
        with_lock(r, "job", lambda: "never runs")
    assert time.monotonic() - started < 1


def test_the_lock_key_has_a_random_token_and_a_ttl(r):
    lock = Lock(r, "job", ttl=5)
    lock.acquire()
    assert len(lock.token) == 32 and r.get(lock.key) == lock.token
    assert 0 < r.pttl(lock.key) <= 5000 and r.pttl(lock.fence_key) > 0


def test_only_the_owner_can_release_or_extend(r):
    first = Lock(r, "job", ttl=0.1)
    first.acquire()
    time.sleep(0.15)  # the lease runs out
    second = Lock(r, "job", ttl=5, timeout=0)
    assert second.acquire()
    with pytest.raises(LockLost, match="expired before release"):
        first.release()
    assert second.owned()  # the late release did not delete the new owner's lock
    first.token = "forged"
    with pytest.raises(LockLost, match="cannot extend"):
        first.extend()
    second.extend(30)
    assert r.pttl(second.key) > 5000


def test_acquire_and_release_are_one_round_trip_each(r):
    lock = Lock(r, "job", ttl=5)
    lock.acquire()
    lock.release()
    with trace(r) as t:
        lock.acquire()
        lock.release()
    assert t.round_trips == 2 and t.names == ["EVALSHA", "EVALSHA"]


def test_fencing_tokens_strictly_increase(r):
    tokens = []
    for _ in range(20):
        with Lock(r, "job", ttl=5) as lock:
            tokens.append(lock.fencing_token)
    assert all(later > earlier for earlier, later in zip(tokens, tokens[1:]))


def test_fencing_tokens_still_increase_after_the_counter_expires(r):
    with Lock(r, "job", ttl=5) as lock:
        before = lock.fencing_token
    time.sleep(0.01)
    r.delete(keys.key(r, "lock", "job", "fence"))  # as if the counter had expired
    with Lock(r, "job", ttl=5) as lock:
        assert lock.fencing_token > before


def test_blocking_acquire_waits_with_backoff_and_gives_up_at_the_timeout(r):
    Lock(r, "job", ttl=5).acquire()
    waiter = Lock(r, "job", ttl=5, timeout=0.3)
    started = time.monotonic()
    assert waiter.acquire() is False
    assert 0.3 <= time.monotonic() - started < 1.0
    assert 2 <= waiter.attempts < 30  # backoff: tens of attempts, not thousands of polls


def test_a_waiter_gets_the_lock_when_it_is_released(r):
    holder = Lock(r, "job", ttl=5)
    holder.acquire()
    threading.Timer(0.1, holder.release).start()
    assert Lock(r, "job", ttl=5, timeout=2).acquire()


def test_locked_and_owned(r):
    lock = Lock(r, "job", ttl=5)
    assert not lock.locked() and not lock.owned()
    lock.acquire()
    assert lock.locked() and lock.owned() and not Lock(r, "job").owned()


def test_releasing_twice_is_an_error(r):
    lock = Lock(r, "job", ttl=5)
    lock.acquire()
    lock.release()
    with pytest.raises(LockLost, match="not held"):
        lock.release()


@pytest.mark.parametrize(("make", "message"), [
    (lambda r: Lock(r, "job", ttl=0), "ttl must be a positive"),
    (lambda r: Lock(r, "", ttl=5), "must not be empty"),
    (lambda r: Lock(r, "job", timeout=-1), "timeout must be"),
])
def test_bad_arguments_are_refused(make, message):
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    with pytest.raises(ValueError, match=message):
        make(client)


def test_keys_live_under_the_namespace_and_share_a_tag(r):
    keys.set_namespace(r, "alice")
    lock = Lock(r, "job", ttl=5)
    lock.acquire()
    assert (lock.key, lock.fence_key) == ("alice:lock:{job}", "alice:lock:{job}:fence")


# -- hardening: durations Redis cannot express -------------------------------------------------------


@pytest.mark.parametrize("ttl_ms", [0.5, 0, -1, math.inf, math.nan])
def test_with_lock_refuses_a_lease_below_one_millisecond_naming_ttl_ms_in_milliseconds(r, ttl_ms):
    with pytest.raises(ValueError, match="ttl_ms must be .*millisecond"):
        with_lock(r, "job", lambda: "never runs", ttl_ms=ttl_ms)
    assert r.exists(keys.key(r, "lock", "job")) == 0


@pytest.mark.parametrize("ttl", [0.0004, 0.0009, math.inf, math.nan])
def test_a_lock_lease_below_one_millisecond_or_not_finite_is_refused(r, ttl):
    with pytest.raises(ValueError, match="ttl must be .*seconds"):
        Lock(r, "job", ttl=ttl)


@pytest.mark.parametrize(("option", "value"), [("timeout", math.nan), ("timeout", math.inf), ("backoff", 0),
                                               ("backoff", math.nan), ("max_backoff", -1), ("timeout", "1")])
def test_lock_waiting_options_that_could_hang_or_spin_are_refused(r, option, value):
    with pytest.raises((TypeError, ValueError), match=option):
        Lock(r, "job", **{option: value})


def test_extend_refuses_a_lease_below_one_millisecond_and_keeps_the_lock(r):
    lock = Lock(r, "job", ttl=5)
    lock.acquire()
    with pytest.raises(ValueError, match="ttl"):
        lock.extend(0.0004)
    assert lock.owned() and r.pttl(lock.key) > 1000


def test_an_acquire_sent_again_after_a_lost_reply_is_granted_with_the_same_fencing_token(r):
    # A retried command may have run already: its reply was lost with the connection. The
    # acquire must then answer "yours", not "taken", or the caller waits out its own lease.
    from patterns import lock as lock_module

    lock = Lock(r, "job", ttl=5)
    arguments = ["my-token", 5000]
    first = lock_module._ACQUIRE(r, [lock.key, lock.fence_key], arguments)
    again = lock_module._ACQUIRE(r, [lock.key, lock.fence_key], arguments)
    assert first is not None and again == first
    assert lock_module._ACQUIRE(r, [lock.key, lock.fence_key], ["someone-else", 5000]) is None


# -- hardening, second review -------------------------------------------------------------------------


def test_owned_works_with_a_client_that_answers_with_bytes():
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    lock = Lock(client, "job", ttl=5)
    assert lock.acquire() and lock.owned()


def test_fencing_tokens_stay_ahead_after_the_counter_is_lost_even_when_taken_thousands_of_times_a_second(real):
    from patterns import lock as lock_module

    lock = Lock(real, "job", ttl=5)
    with lock:  # loads the script: a pipeline cannot fall back to EVAL
        pass
    pipe = real.pipeline(transaction=False)
    for i in range(5000):  # as fast as the server can: thousands of acquisitions per millisecond's worth
        lock_module._ACQUIRE(pipe, [lock.key, lock.fence_key], [f"t{i}", 5000])
        pipe.delete(lock.key)
    last = max(int(x) for x in pipe.execute()[::2] if x is not None)
    real.delete(lock.fence_key)  # the counter is lost: a restart without persistence, a failover
    with Lock(real, "job", ttl=5) as again:
        assert again.fencing_token > last


def test_quick_clients_share_one_pool_per_millisecond_of_timeout(real, redis_server):
    from patterns import connection

    before = len(connection._quick_pools.get(real.connection_pool, {}))
    for ttl in [0.5 + i / 1000 for i in range(300)]:
        connection.with_timeout(real, ttl / 10)
    assert len(connection._quick_pools[real.connection_pool]) - before <= 31


# -- the cheaper acquisition, and what proves it gave up nothing ---------------------------------------
# lock_acquire.lua takes the fence TTL as a constant instead of an argument, writes the counter and reads
# its previous value in one SET ... GET, and answers one integer; Lock checks its durations on a quick path.


def test_the_fencing_counter_lives_the_documented_thirty_days(r):
    # The TTL is a constant inside the script now, no longer an argument the client sends: it must still be
    # FENCE_TTL_MS, set on every acquisition (a counter in use never expires).
    from patterns import lock as lock_module

    with Lock(r, "job", ttl=5) as lock:
        pass
    r.pexpire(lock.fence_key, 60_000)  # as if the counter were about to expire
    with lock:
        pass
    assert lock_module.FENCE_TTL_MS - 60_000 < r.pttl(lock.fence_key) <= lock_module.FENCE_TTL_MS


def test_a_counter_ahead_of_the_servers_clock_still_hands_out_one_more_exactly(r):
    # The one SET ... GET writes the clock's value first; when the counter was already ahead of the clock (a
    # clock stepped back after it was written), the answer must be previous + 1, stored, with its TTL, and exact
    # to the unit although it is a 17-digit number of microseconds.
    lock = Lock(r, "job", ttl=5)
    seconds, micros = r.time()
    ahead = (int(seconds) + 36_000) * 1_000_000 + int(micros) + 1  # ten hours ahead, and odd: no rounding hides
    r.set(lock.fence_key, ahead, px=60_000)
    with lock:
        assert lock.fencing_token == ahead + 1
    assert int(r.get(lock.fence_key)) == ahead + 1 and r.pttl(lock.fence_key) > 60_000


def test_fencing_tokens_stay_ahead_when_the_counter_is_rolled_back(r):
    # A restore from an older snapshot, or a failover to a replica that lagged, gives the counter an older value.
    # The next token must still be above every token handed out since: why the script reads the server's clock
    # on every acquisition instead of counting with a cheaper INCR.
    with Lock(r, "job", ttl=5) as lock:
        pass
    older = r.get(lock.fence_key)
    handed_out = []
    for _ in range(5):
        with lock:
            handed_out.append(lock.fencing_token)
    r.set(lock.fence_key, older, px=60_000)
    with lock:
        assert lock.fencing_token > max(handed_out)


def test_the_acquire_script_answers_the_fencing_token_as_one_integer(r):
    from patterns import lock as lock_module

    lock = Lock(r, "job", ttl=5)
    reply = lock_module._ACQUIRE(r, [lock.key, lock.fence_key], ["my-token", 5000])
    assert type(reply) is int and reply == int(r.get(lock.fence_key))
    assert r.pttl(lock.key) > 4000 and r.get(lock.key) == "my-token"


class _Seconds(float):
    """A float subclass (numpy's float64 is one): must be checked as validate checks it."""


class _Whole(int):
    """An int subclass (an IntEnum member is one)."""


_DURATIONS = st.one_of(
    st.floats(),  # NaN, infinities, negatives, zero, below 1 ms, past a century
    st.integers(min_value=-10**20, max_value=10**20),
    st.booleans(),
    st.sampled_from([0, 0.0, -0.0, 0.001, 0.000999999, 1, validate.MAX_SECONDS, validate.MAX_SECONDS + 1,
                     int(validate.MAX_SECONDS) + 1, "1", b"1", None, [1], _Seconds(5.0), _Seconds(0.0001),
                     _Whole(5), _Whole(0)]),
)


def _outcome(check, value):
    try:
        result = check(value)
    except (TypeError, ValueError) as error:
        return ("refused", type(error), str(error))
    return ("accepted", type(result), result)


@settings(max_examples=400, deadline=None)
@given(value=_DURATIONS)
def test_the_quick_duration_checks_accept_and_refuse_exactly_what_validate_does(value):
    from patterns import lock as lock_module

    pairs = [
        (lock_module._check_lease, lambda v: validate.seconds(v, "ttl")),
        (lambda v: lock_module._seconds(v, "backoff"), lambda v: validate.seconds(v, "backoff")),
        (lock_module._check_wait, lambda v: validate.seconds(v, "timeout", zero=True)),
    ]
    for quick, full in pairs:
        assert _outcome(quick, value) == _outcome(full, value), value
