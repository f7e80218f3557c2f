"""Every decision that depends on time is made on the server's clock, whatever the app servers' clocks say.

Two app servers whose clocks disagree by minutes (``time.time`` patched, as NTP drift would
move it) must still agree on every decision: the server's clock decides. On fakeredis the
"server" clock is this process's own, so these run on real servers only (``on_server``).
Sessions (tests/test_session.py) and leaderboards (tests/test_leaderboard.py) have theirs
beside their other tests.
"""
from __future__ import annotations

import pytest

from patterns import Cache
from patterns.lock import Lock
from patterns.ratelimit import ALGORITHMS

SKEWS = [-300.0, 240.0, 0.0]  # three app servers: five minutes slow, four fast, on time


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_app_servers_with_skewed_clocks_share_one_limit(on_server, skewed_clock, algorithm):
    allowed = 0
    for hit in range(12):
        skewed_clock(SKEWS[hit % 3])  # the next request lands on another app server
        allowed += ALGORITHMS[algorithm](on_server, 4, 600).hit("shared-user").allowed
    assert allowed == 4  # with their own clocks they would count in different windows


def test_fencing_tokens_grow_across_app_servers_with_skewed_clocks(on_server, skewed_clock):
    tokens = []
    for turn in range(9):
        skewed_clock(SKEWS[turn % 3])
        with Lock(on_server, "job", ttl=5) as lock:
            tokens.append(lock.fencing_token)
    assert all(later > earlier for earlier, later in zip(tokens, tokens[1:]))


def test_a_cache_entry_lives_its_ttl_whatever_the_writers_clock(on_server, skewed_clock):
    skewed_clock(3600.0)  # an app server an hour fast
    cache = Cache(on_server, "t", ttl=60, jitter=0)
    cache.get_or_set("k", lambda: "v")
    assert 59_000 < on_server.pttl(cache.key_for("k")) <= 60_000


def test_a_lease_lasts_its_ttl_on_the_server_whatever_the_holders_clock(on_server, skewed_clock):
    skewed_clock(-3600.0)
    lock = Lock(on_server, "job", ttl=5)
    assert lock.acquire()
    assert 4000 < on_server.pttl(lock.key) <= 5000
