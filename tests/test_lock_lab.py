"""Chapter 06's Redlock labs, as tests: a server that restarts empty gives two holders; fsync'd AOF does not.

They use ``patterns.lock_lab`` (throwaway redis-servers) and the patterns ``Redlock``, so the
notebook's Lab 5 shows a failure the library really has, not one staged for the page.
"""
from __future__ import annotations

import pytest

from patterns.lock import Redlock
from patterns.lock_lab import Servers


def partition_then_crash(*server_args):
    """A takes the lock while server 3 is cut off; server 2 crashes and restarts; then B asks."""
    with Servers(3, *server_args) as three:
        three.stop(3)
        a = Redlock(three.clients(), "lab5", ttl=30, retries=0)
        a_holds = a.acquire()
        three.start(3)
        three.crash(2)
        b = Redlock(three.clients(), "lab5", ttl=30, retries=0)
        b_holds = b.acquire()
        return a_holds, b_holds, three.holders(a, {a.token: "A", b.token: "B"})


def test_a_server_that_restarts_empty_lets_a_second_client_take_the_redlock(redis_server):
    assert partition_then_crash() == (True, True, "1: A · 2: B · 3: B")


def test_with_an_fsync_on_every_write_the_restarted_server_remembers_the_grant(redis_server):
    assert partition_then_crash("--appendonly", "yes", "--appendfsync", "always") == (True, False, "1: A · 2: A · 3: -")


def test_a_server_that_is_down_shows_as_nobody_holding_it(redis_server):
    with Servers(3) as three:
        lock = Redlock(three.clients(), "down", ttl=30, retries=0)
        assert lock.acquire()
        three.stop(1)
        assert three.holders(lock, {lock.token: "A"}) == "1: - · 2: A · 3: A"
        three.start(1)
        assert three.holders(lock, {lock.token: "A"}) == "1: - · 2: A · 3: A"  # back, and empty


def test_servers_started_are_stopped_when_the_block_ends(redis_server):
    with Servers(2) as two:
        processes = [s.process for s in two.servers]
    assert all(p.poll() is not None for p in processes)


@pytest.mark.parametrize("fsync", ["everysec", "no"])
def test_a_killed_process_keeps_what_it_logged_whatever_the_fsync_setting(redis_server, fsync):
    """Lab 5's crash is a SIGKILL: the log reached the operating system, so fsync is not what saves the grant."""
    assert partition_then_crash("--appendonly", "yes", "--appendfsync", fsync) == (True, False, "1: A · 2: A · 3: -")
