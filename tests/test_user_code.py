"""Wherever the package calls user code, an exception there leaves the package's own state consistent.

User code here: cache fetchers and cached functions, the function ``with_lock`` runs, the
body of a ``with Lock(...)`` block, subscriber handlers and callbacks (tests/test_pubsub.py),
and injected clocks. After each one raises: no lock or fill token is left held, nothing is
half-written, background threads are still alive, and the caller sees the user's own
exception, not one of ours that hides it.
"""
from __future__ import annotations

import logging
import time

import pytest

from patterns import Cache, keys
from patterns.errors import LockLost
from patterns.leaderboard import Leaderboard
from patterns.lock import Lock, with_lock
from patterns.pubsub import Subscriber, publish_event
from patterns.ratelimit import ALGORITHMS
from patterns.session import SessionStore
from helpers import all_keys, wait_for


class Boom(Exception):
    """The user's own error."""


def explode(*args, **kwargs):
    raise Boom("user code failed")


def test_a_failing_cached_function_leaves_no_fill_token_and_is_not_cached(r):
    cache = Cache(r, "t")
    calls = []

    @cache.cached(ttl=60, name="load")
    def load(user_id):
        calls.append(user_id)
        if len(calls) == 1:
            raise Boom("database down")
        return {"id": user_id}

    with pytest.raises(Boom):
        load(1)
    assert all_keys(r) == []  # no entry, no fill token: the next caller is not made to wait
    assert load(1) == {"id": 1} and calls == [1, 1]


def test_with_lock_releases_when_the_function_raises_and_the_caller_sees_its_error(r):
    with pytest.raises(Boom):
        with_lock(r, "job", explode)
    assert r.exists(keys.key(r, "lock", "job")) == 0
    assert with_lock(r, "job", lambda: "free again") == "free again"


def test_a_body_that_raises_after_its_lease_ran_out_surfaces_its_own_error(r, caplog):
    # redis-py #3532: the lease-lost error on exit hid the body's exception. Here the body's
    # exception is what the caller sees, and the lost lease is logged beside it.
    with caplog.at_level(logging.WARNING, logger="patterns.lock"):
        with pytest.raises(Boom):
            with Lock(r, "job", ttl=0.05):
                time.sleep(0.1)  # the lease runs out
                explode()
    assert "expired before release" in caplog.text


def test_with_lock_surfaces_the_functions_error_even_when_the_lease_ran_out(r):
    def slow_then_fail():
        time.sleep(0.1)
        explode()

    with pytest.raises(Boom):
        with_lock(r, "job", slow_then_fail, ttl_ms=50)


def test_a_lost_lease_without_an_error_in_the_body_is_still_reported(r):
    with pytest.raises(LockLost, match="expired before release"):
        with Lock(r, "job", ttl=0.05):
            time.sleep(0.1)


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_a_failing_injected_clock_counts_nothing(r, algorithm):
    limiter = ALGORITHMS[algorithm](r, 5, 60, clock=explode)
    with pytest.raises(Boom):
        limiter.hit("client")
    assert all_keys(r) == []


def test_a_failing_injected_clock_writes_no_session_and_no_score(r):
    with pytest.raises(Boom):
        SessionStore(r, clock=explode).create("ada", {"cart": [1]})
    with pytest.raises(Boom):
        Leaderboard(r, "game", clock=explode).submit("ada", 10)
    assert all_keys(r) == []


def test_a_handler_that_raises_on_every_event_leaves_the_subscriber_alive(r):
    with Subscriber(r, ["orders"], explode) as sub:
        for i in range(5):
            publish_event(r, "orders", i)
        assert wait_for(lambda: sub.stats.handler_errors == 5)
        assert sub.running
