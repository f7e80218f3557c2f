"""Chapter 06's Redlock labs, as tests: a server that restarts empty gives two holders; fsync'd AOF does not.

They use ``patterns.labs.lock`` (throwaway redis-servers) and the patterns ``Redlock``, so the
notebook's Lab 5 shows a failure the library really has, not one staged for the page.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from patterns.labs import lock as lock_lab
from patterns.lock import Redlock
from patterns.labs.lock import Servers

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "06_locking.ipynb"


def partition_then_crash(*server_args):
    """The lab's run (the same function the notebook calls), as the three things a test compares."""
    seen = lock_lab.partition_then_crash(*server_args, ttl=30)
    return seen.a_holds, seen.b_holds, seen.after_b


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


def test_the_lab_reports_what_a_saw_and_how_long_a_still_held_when_b_asked(redis_server):
    seen = lock_lab.partition_then_crash(ttl=30)
    assert seen.after_a == "1: A · 2: A · 3: -"
    assert 0 < seen.a_valid_left < 30
    assert str(seen).splitlines()[0] == "A takes the lock: True | servers holding it: 1: A · 2: A · 3: -"


def test_a_killed_server_stays_down_until_it_is_started_and_comes_back_empty(redis_server):
    with Servers(3) as three:
        lock = Redlock(three.clients(), "killed", ttl=30, retries=0)
        assert lock.acquire()
        three.kill(2)
        assert three.holders(lock, {lock.token: "A"}) == "1: A · 2: - · 3: A"
        three.start(2)
        assert three.holders(lock, {lock.token: "A"}) == "1: A · 2: - · 3: A"  # back, and empty
        assert three.clients()[1].ping()


def test_the_notebook_calls_the_lab_s_one_implementation_instead_of_a_copy():
    sources = ["".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code"]
    assert not any("def partition_then_crash" in s for s in sources)
    assert any("from patterns.labs.lock import" in s and "partition_then_crash" in s for s in sources)
