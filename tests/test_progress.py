"""The workshop's progress board and an attendee's reset, end to end on a throwaway server.

Each exercise's check() notes its outcome in the attendee's own namespace; the host reads every
attendee's records as the admin user; attendees cannot read or write each other's; a reset clears
one attendee's keys and nothing else. The server and its admin come from test_workshop.py's
fixtures (a password on the default user, as on a real workshop server).
"""
from __future__ import annotations

import io
import subprocess
import sys
from contextlib import redirect_stdout

import pytest

import patterns
from patterns import connection, progress, workshop
from patterns.errors import PatternError
from patterns.exercises import leaderboard as leaderboard_exercise
from patterns.exercises import start as start_exercise
from solutions.leaderboard import rank_of
from solutions.start import load_profiles
from test_workshop import admin_url, host, refused, server  # noqa: F401  (fixtures)


def stub(*args):
    raise NotImplementedError


def one_by_one(r, user_ids):  # the version as commonly written: a round trip per field
    return {u: {f: r.get(f"user:{u}:{f}") for f in ("name", "email", "plan")} for u in user_ids}


@pytest.fixture
def room(host, admin_url, monkeypatch):  # noqa: F811
    """Three provisioned attendees; ``as_attendee(name)`` makes the checkers record as that attendee."""
    made = {a.name: a for a in workshop.provision(host, 3)}
    monkeypatch.setattr(progress, "_clients", {})
    monkeypatch.setattr(progress, "_paused_until", 0.0)

    def as_attendee(name: str) -> None:
        monkeypatch.setenv("REDIS_URL", workshop.attendee_url(admin_url, name, made[name].password))
        monkeypatch.setenv("WORKBOOK_NAMESPACE", name)

    yield made, as_attendee
    for client in progress._clients.values():
        client.connection_pool.disconnect()


def checked(check, fn) -> str:
    """What ``check(fn)`` printed (one line)."""
    out = io.StringIO()
    with redirect_stdout(out):
        check(fn)
    return out.getvalue().strip()


def test_checks_run_as_three_attendees_show_on_the_hosts_board_and_a_reset_clears_one(room, host):  # noqa: F811
    made, as_attendee = room
    as_attendee("attendee-01")
    assert checked(start_exercise.check, load_profiles).startswith("✓")
    assert checked(leaderboard_exercise.check, rank_of).startswith("✓")
    as_attendee("attendee-02")
    wrong = checked(start_exercise.check, one_by_one)
    assert wrong.startswith("not yet:")
    checked(start_exercise.check, stub)
    as_attendee("attendee-03")
    assert checked(start_exercise.check, one_by_one) == wrong
    host.set("attendee-02:cache:{x}", "left over by a lab")
    host.set("attendee-03:cache:{x}", "left over too")

    board = workshop.board(host)
    assert board.attendees == ["attendee-01", "attendee-02", "attendee-03"]
    assert board.finished("attendee-01") == ["start", "leaderboard"]
    assert board.finished("attendee-02") == board.finished("attendee-03") == []
    assert board.progress("attendee-02", "start").tries == 2
    assert board.progress("attendee-02", "start").message.startswith("not yet: the function still raises")
    top = board.stuck()[0]
    assert (top.exercise.id, top.attendees) == ("start", ["attendee-02", "attendee-03"])
    assert top.sharing == 1  # 02's last try was the stub; 03 sees the one-by-one line
    assert board.idle(seconds=600) == []
    table = board.table()
    assert "most stuck: 00 start (2 of 3 attendees); 1 of them sees: not yet:" in table
    assert table.splitlines()[1].split()[:3] == ["attendee-01", "✓", "·"]
    assert table.splitlines()[0].split()[1:5] == ["00", "01", "02", "02+"]

    assert workshop.reset_attendee(host, "attendee-02") == 1
    assert host.get("attendee-02:cache:{x}") is None
    assert host.get("attendee-03:cache:{x}") == "left over too"
    again = workshop.board(host)
    assert again.progress("attendee-02", "start").tries == 2  # the host's view of what 02 did stays


def test_a_record_keeps_the_first_pass_when_a_later_try_fails_and_expires(room, host):  # noqa: F811
    made, as_attendee = room
    as_attendee("attendee-01")
    checked(start_exercise.check, stub)
    checked(start_exercise.check, load_profiles)
    checked(start_exercise.check, stub)
    record = workshop.board(host).progress("attendee-01", "start")
    assert (record.tries, record.outcome, record.finished) == (3, progress.NOT_YET, True)
    assert record.first <= record.passed <= record.last
    assert 0 < host.ttl("attendee-01:progress:{start}") <= progress.RECORD_SECONDS


def test_the_line_recorded_is_the_line_the_attendee_saw(room, host):  # noqa: F811
    made, as_attendee = room
    as_attendee("attendee-01")
    seen = checked(start_exercise.check, one_by_one)
    assert workshop.board(host).progress("attendee-01", "start").message == seen


def test_an_attendee_cannot_read_or_write_another_attendees_progress(room, host, admin_url):  # noqa: F811
    made, _ = room
    mine = patterns.connect(workshop.attendee_url(admin_url, "attendee-01", made["attendee-01"].password),
                            namespace="attendee-01")
    try:
        progress.record_to(mine, "start", True, "✓ mine")
        theirs = "attendee-02:progress:{start}"
        assert refused(lambda: mine.hgetall(theirs))
        assert refused(lambda: mine.hset(theirs, "outcome", progress.PASSED))
        assert refused(lambda: progress.read_board(mine, ["attendee-01", "attendee-02"]))  # the admin's view
    finally:
        mine.connection_pool.disconnect()
    assert host.exists("attendee-02:progress:{start}") == 0
    assert workshop.board(host).finished("attendee-01") == ["start"]


@pytest.fixture
def embedded(monkeypatch):
    """A new embedded server for this test: patterns.connect() without a URL talks to it."""
    monkeypatch.setattr(connection, "_fake_server", connection.fake_server())
    monkeypatch.delenv("REDIS_URL", raising=False)


def test_outside_a_workshop_nothing_is_recorded(monkeypatch, embedded):
    r = patterns.connect()
    monkeypatch.delenv("WORKBOOK_NAMESPACE", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    before = set(r.scan_iter(match="*progress*"))
    checked(start_exercise.check, stub)
    assert set(r.scan_iter(match="*progress*")) == before


def test_an_unreachable_server_never_reaches_the_learner_and_pauses_recording(monkeypatch):
    from patterns.sandbox import free_ports

    monkeypatch.setattr(progress, "_clients", {})
    monkeypatch.setattr(progress, "_paused_until", 0.0)
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_ports()[0]}/0")  # nothing listens there
    monkeypatch.setenv("WORKBOOK_NAMESPACE", "attendee-01")
    assert checked(start_exercise.check, stub).startswith("not yet: the function still raises")
    assert progress._paused_until > 0


def test_the_board_ignores_records_of_names_that_are_not_the_workshops(room, host):  # noqa: F811
    made, as_attendee = room
    host.hset("attendee-77:progress:{start}", mapping={"outcome": "passed", "tries": 1, "last": 1, "passed": 1})
    host.hset("attendee-01:proof:progress:{start}", mapping={"outcome": "passed", "tries": 1})
    board = workshop.board(host)
    assert "attendee-77" not in board.attendees
    assert board.records == {}
    assert board.idle() == ["attendee-01", "attendee-02", "attendee-03"]  # none has run a check


def test_an_attendee_without_scan_is_told_to_ask_the_host(room, admin_url):  # noqa: F811
    made, _ = room
    mine = patterns.connect(workshop.attendee_url(admin_url, "attendee-01", made["attendee-01"].password),
                            namespace="attendee-01")
    try:
        with pytest.raises(PatternError, match="python -m patterns.workshop reset ADMIN_URL attendee-01"):
            patterns.reset(mine)
    finally:
        mine.connection_pool.disconnect()


def test_with_scan_an_attendee_resets_their_own_keys_only(host, admin_url):  # noqa: F811
    made = {a.name: a for a in workshop.provision(host, 2, allow_scan=True)}
    mine = patterns.connect(workshop.attendee_url(admin_url, "attendee-01", made["attendee-01"].password),
                            namespace="attendee-01")
    try:
        for n in range(1200):  # more than one SCAN batch
            mine.set(f"attendee-01:k{n}", n)
        progress.record_to(mine, "start", False, "not yet: x")
        host.set("attendee-02:k", "theirs")
        host.set("attendee-01", "the host's own key, named like the attendee")
        assert patterns.reset(mine) == 1200
        assert host.get("attendee-02:k") == "theirs"
        assert host.get("attendee-01") is not None
        assert host.exists("attendee-01:progress:{start}")
        assert patterns.reset(mine, keep_progress=False) == 1
    finally:
        mine.connection_pool.disconnect()


def test_reset_refuses_a_real_server_without_a_namespace(host):  # noqa: F811
    with pytest.raises(PatternError, match="needs a namespace on a real server"):
        patterns.reset(host)


def test_reset_on_the_embedded_server_clears_a_namespace_or_everything(embedded):
    r = patterns.connect(namespace="alice")
    other = patterns.connect(namespace="bob")
    r.set("alice:a", 1)
    other.set("bob:b", 1)
    assert patterns.reset(r) == 1
    assert other.get("bob:b") == "1"
    assert patterns.reset(patterns.connect(namespace="")) >= 1
    assert other.get("bob:b") is None


def test_the_host_may_reset_only_a_workshop_attendee(room, host):  # noqa: F811
    host.set("someone:k", 1)
    with pytest.raises(PatternError, match="is not an attendee"):
        workshop.reset_attendee(host, "someone")
    assert host.get("someone:k") == "1"


def test_the_command_line_prints_the_board_and_resets_an_attendee(room, host, admin_url):  # noqa: F811
    made, as_attendee = room
    as_attendee("attendee-02")
    checked(start_exercise.check, one_by_one)
    host.set("attendee-02:k", 1)
    run = [sys.executable, "-m", "patterns.workshop"]
    shown = subprocess.run([*run, "progress", admin_url], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "most stuck: 00 start (1 of 3 attendees)" in shown.stdout
    assert "\x1b[" not in shown.stdout  # not a terminal: no screen control codes
    done = subprocess.run([*run, "reset", admin_url, "attendee-02"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "removed 1 keys of attendee-02" in done.stdout
    assert host.get("attendee-02:k") is None


def test_the_board_shows_no_password(room, host, admin_url):  # noqa: F811
    made, _ = room
    table = workshop.board(host).table()
    assert not any(a.password in table for a in made.values())


def test_the_board_widget_shows_each_cell_with_its_message_and_refreshes_live_until_stopped(embedded):
    import threading

    from patterns.widgets.progress import ProgressBoard

    r = patterns.connect(namespace="attendee-01")
    progress.record_to(r, "ratelimit", False, "not yet: the 6th request in 10 s was allowed")
    admin = patterns.connect(namespace="")
    reads, enough = [], threading.Event()

    def read():
        reads.append(1)
        if len(reads) >= 3:
            enough.set()
        return progress.read_board(admin, ["attendee-01", "attendee-02"])

    board = ProgressBoard(read, every=0.05)
    board.refresh()
    assert "title='not yet: the 6th request in 10 s was allowed'" in board.grid.value
    assert board.grid.value.count("<tr>") == 3  # the heading and two attendees
    assert "most stuck: 02 limit (1 of 2 attendees)" in board.summary.value
    board.live.value = True
    assert enough.wait(30)
    board.live.value = False
    assert not board._thread.is_alive()  # joined: no read can follow the stop


def test_the_board_asks_for_each_record_by_name_and_never_walks_the_key_space(room, host):  # noqa: F811
    from patterns import trace

    made, as_attendee = room
    as_attendee("attendee-01")
    checked(start_exercise.check, stub)
    host.set("attendee-01:progress:{caching}", "a string where a record would be")
    with trace(host) as sent:
        board = workshop.board(host)
    assert not {"SCAN", "KEYS"} & set(sent.names)
    assert sent.names.count("HGETALL") == 3 * len(progress.EXERCISES)
    assert list(board.records) == [("attendee-01", "start")]  # the string is no record, and no error
