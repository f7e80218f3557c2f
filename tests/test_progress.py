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
from pathlib import Path

import pytest
import redis

import patterns
from patterns import connection, progress, trace, workshop
from patterns.errors import PatternError
from patterns.exercises import leaderboard as leaderboard_exercise
from patterns.exercises import start as start_exercise
from solutions.leaderboard import rank_of
from solutions.start import load_profiles
from test_workshop import admin_url, host, refused, server  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


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


def test_a_rehearsal_in_the_host_notebook_never_writes_to_the_server_in_redis_url(tmp_path):
    """A host who started the lab with REDIS_URL set to the workshop server, and opened the notebook
    without HOST_URL, once had its pretend attendees write records for the real attendee-01..03 and
    reset attendee-02's keys there."""
    import nbformat

    from patterns.sandbox import LocalServer
    from run_notebooks import execute

    with LocalServer() as real:
        bystander = redis.Redis(port=real.port)
        bystander.set("attendee-02:cache:{product-1}", "a real attendee's key")
        path = ROOT / "notebooks" / "host_board.ipynb"
        execute(nbformat.read(path, as_version=4), path, REDIS_URL=real.url)
        assert bystander.keys("*") == [b"attendee-02:cache:{product-1}"]
        bystander.close()


def test_bytes_that_are_not_utf8_in_a_record_or_a_key_name_stop_no_host_command(room, host, admin_url):  # noqa: F811
    made, _ = room
    raw = redis.Redis.from_url(admin_url)
    raw.hset("attendee-01:progress:{start}", mapping={"outcome": b"not yet", "message": b"bad \xff byte",
                                                      "tries": 1, "first": 1, "last": 1})
    raw.set(b"attendee-02:\xff", b"a key whose name is not UTF-8")
    table = workshop.board(host).table()
    assert "bad \ufffd byte" in table
    assert workshop.status(host).attendees[1].keys == 1
    assert workshop.reset_attendee(host, "attendee-02") == 1
    raw.set(b"attendee-03:\xff", b"again")
    users, removed = workshop.teardown(host)
    assert (len(users), removed) == (3, 2)  # the record of attendee-01 and 03's key
    assert raw.exists(b"attendee-03:\xff") == 0
    raw.close()


def test_what_an_attendee_writes_cannot_reach_the_hosts_terminal_or_hide_them_from_the_idle_list(room, host):  # noqa: F811
    made, _ = room
    host.hset("attendee-01:progress:{start}", mapping={
        "outcome": "not yet", "message": "\x1b[2J\x07oops\nattendee-09 ✓ ✓ ✓", "tries": 1, "first": 1,
        "last": 99_999_999_999})
    board = workshop.board(host)
    table = board.table()
    assert not any(ord(c) < 32 and c != "\n" or 127 <= ord(c) < 160 for c in table)
    assert not any(line.startswith("attendee-09") for line in table.splitlines())
    assert board.progress("attendee-01", "start").last == board.now  # a "future" try is now at the latest
    assert "attendee-01" in board.idle(seconds=0)


def test_a_huge_record_costs_the_board_no_more_than_a_normal_one(room, host):  # noqa: F811
    made, _ = room
    host.hset("attendee-01:progress:{start}", mapping={"outcome": "not yet", "message": "x" * 5_000_000, "tries": 1,
                                                       **{f"extra{n}": n for n in range(20_000)}})
    with trace(host) as sent:
        board = workshop.board(host)
    assert len(board.progress("attendee-01", "start").message) == progress.MESSAGE_MAX
    assert len(board.table()) < 10_000
    assert sent.names.count("EVALSHA") == 1


@pytest.mark.parametrize("every", ["0", "-1", "nan", "0.5"])
def test_the_live_board_refreshes_at_most_once_a_second(every, host, admin_url):  # noqa: F811
    shown = subprocess.run([sys.executable, "-m", "patterns.workshop", "progress", admin_url, "--every", every],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 2
    assert "--every" in shown.stderr and "once a second" in shown.stderr or "is not a number" in shown.stderr


def test_the_live_board_on_a_terminal_says_when_the_server_stops_answering_and_goes_on(admin_url, host):  # noqa: F811
    """A server frozen for longer than the socket timeout once ended the live board for good."""
    import os
    import pty
    import select
    import signal

    workshop.provision(host, 1)
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the host's command, on a terminal
        # Ctrl-C as on a host's terminal: a process started in the background (``make test &``, a CI
        # runner) may have SIGINT ignored, which exec passes on, and Python then never raises
        # KeyboardInterrupt: the board would run on and this test wait for it for ever.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execv(sys.executable, [sys.executable, "-m", "patterns.workshop", "progress", admin_url, "--every", "1"])
    seen = b""

    def read_until(text: bytes, seconds: float = 60) -> bool:
        nonlocal seen
        import time as clock

        deadline = clock.monotonic() + seconds
        while text not in seen and clock.monotonic() < deadline:
            ready, _, _ = select.select([terminal], [], [], 1)
            if ready:
                try:
                    seen += os.read(terminal, 65536)
                except OSError:
                    break
        return text in seen

    try:
        assert read_until(b"refreshed every 1 s")
        host.execute_command("CLIENT", "PAUSE", 7000, "ALL")  # longer than the 5 s socket timeout
        assert read_until(b"could not read the board")
        host.execute_command("CLIENT", "UNPAUSE")
        seen = b""
        assert read_until(b"attendee-01")  # it went on
    finally:
        os.kill(pid, signal.SIGINT)
        status = _exit_status(pid, within=30)
        os.close(terminal)
    assert status == 0, f"the board did not exit 0 on Ctrl-C: {status!r}"


def _exit_status(pid: int, within: float) -> int | str:
    """The child's exit code once it has ended, or, if it is still running after ``within``
    seconds, "still running" (it is killed): a test never waits for a child for ever."""
    import os
    import signal
    import time as clock

    deadline = clock.monotonic() + within
    while clock.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        clock.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return "still running"


def test_a_frozen_server_holds_up_a_check_for_about_a_second_not_the_socket_timeout(room, host, admin_url):  # noqa: F811
    import time as clock

    made, as_attendee = room
    as_attendee("attendee-01")
    checked(start_exercise.check, stub)  # connected, as in a session
    host.execute_command("CLIENT", "PAUSE", 8000, "WRITE")
    try:
        started = clock.monotonic()
        checked(start_exercise.check, stub)
        took = clock.monotonic() - started
    finally:
        host.execute_command("CLIENT", "UNPAUSE")
    assert took < connection.SOCKET_TIMEOUT - 1, f"the check waited {took:.1f} s for its record"
    assert progress._paused_until > 0


def test_a_nested_namespace_records_under_the_attendee(room, host):  # noqa: F811
    made, as_attendee = room
    as_attendee("attendee-01")
    import os

    os.environ["WORKBOOK_NAMESPACE"] = "attendee-01:proof"
    checked(start_exercise.check, stub)
    assert workshop.board(host).progress("attendee-01", "start").tries == 1


def test_a_learners_own_key_named_like_progress_goes_with_the_reset(embedded):
    r = patterns.connect(namespace="alice")
    progress.record_to(r, "start", True, "✓")
    r.set("alice:progress:notes", "my own key")
    assert patterns.reset(r) == 1
    assert r.exists("alice:progress:{start}") and not r.exists("alice:progress:notes")


def test_a_message_with_a_lone_surrogate_is_still_recorded(embedded):
    r = patterns.connect(namespace="alice")
    assert progress.record_to(r, "start", False, "not yet: \ud800 broke it") == 1
    assert "\ufffd" in r.hget("alice:progress:{start}", "message")


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
        if len(reads) >= 2:
            enough.set()
        return progress.read_board(admin, ["attendee-01", "attendee-02"])

    board = ProgressBoard(read, every=1)
    board.refresh()
    assert "title='not yet: the 6th request in 10 s was allowed'" in board.grid.value
    assert board.grid.value.count("<tr>") == 3  # the heading and two attendees
    assert "most stuck: 02 limit (1 of 2 attendees)" in board.summary.value
    board.live.value = True
    assert enough.wait(30)
    board.live.value = False
    board._thread.join(30)
    assert not board._thread.is_alive()


def test_the_board_asks_for_each_record_by_name_and_never_walks_the_key_space(room, host):  # noqa: F811
    made, as_attendee = room
    as_attendee("attendee-01")
    checked(start_exercise.check, stub)
    host.set("attendee-01:progress:{caching}", "a string where a record would be")
    with trace(host) as sent:
        board = workshop.board(host)
    assert not {"SCAN", "KEYS", "HGETALL"} & set(sent.names)
    assert sent.names.count("EVALSHA") == 1  # every record of the room, in one script call
    assert list(board.records) == [("attendee-01", "start")]  # the string is no record, and no error


def test_switching_live_off_never_waits_for_a_slow_read_and_off_then_on_runs_one_thread(embedded):
    import threading

    from patterns.widgets.progress import ProgressBoard

    admin = patterns.connect(namespace="")
    release, reading, running, most = threading.Event(), threading.Event(), [0], [0]

    def slow_read():
        running[0] += 1
        most[0] = max(most[0], running[0])
        reading.set()
        release.wait(30)
        running[0] -= 1
        return progress.read_board(admin, ["attendee-01"])

    board = ProgressBoard(slow_read, every=1)
    board.live.value = True
    assert reading.wait(30)
    first = board._thread
    board.live.value = False  # returns at once, though a read is in progress
    board.live.value = True
    assert first.is_alive() and board._thread is not first
    release.set()
    first.join(30)
    assert not first.is_alive()  # the old thread ended after its read: no second reader stays
    board.live.value = False
    board._thread.join(30)
    assert most[0] <= 2 and running[0] == 0


def test_a_new_board_switches_the_old_ones_live_refresh_off(embedded):
    from patterns.widgets.progress import ProgressBoard

    admin = patterns.connect(namespace="")
    old = ProgressBoard(lambda: progress.read_board(admin, []), every=1)
    old.live.value = True
    ProgressBoard(lambda: progress.read_board(admin, []), every=1)  # the cell, run again
    assert old.live.value is False
    old._thread.join(30)
    assert not old._thread.is_alive()


CHECKERS = {"start": "start.check", "caching": "caching.check", "ratelimit": "ratelimit.check",
            "ratelimit-stretch": "ratelimit.check_stretch", "leaderboard": "leaderboard.check",
            "session": "session.check", "pubsub": "pubsub.check", "pubsub-stretch": "pubsub.check_stretch",
            "lock": "lock.check", "audit": "audit.check", "transfer-stretch": "transfer.check_stretch",
            "scaling": "scaling.check", "webapp": "webapp.check"}


def test_every_exercise_of_every_chapter_records_under_its_own_name(embedded, monkeypatch):
    """A checker that reported under a name the board does not know would record nothing, silently."""
    import importlib

    assert sorted(CHECKERS) == sorted(e.id for e in progress.EXERCISES)
    monkeypatch.setattr(progress, "_clients", {})
    monkeypatch.setattr(progress, "_paused_until", 0.0)
    monkeypatch.setenv("WORKBOOK_NAMESPACE", "attendee-01")

    async def async_stub(*args):
        raise NotImplementedError

    for exercise, where in CHECKERS.items():
        module, name = where.split(".")
        check = getattr(importlib.import_module(f"patterns.exercises.{module}"), name)
        checked(check, async_stub if exercise == "webapp" else stub)
        assert progress._paused_until == 0.0, f"{where} recorded under a name the board does not know"
    board = progress.read_board(patterns.connect(namespace=""), ["attendee-01"])
    assert sorted(exercise for _, exercise in board.records) == sorted(CHECKERS)
    notebooks = {e.chapter for e in progress.EXERCISES}
    assert notebooks == {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}


def test_every_field_of_a_record_is_cut_on_the_server_not_only_the_message(room, host):  # noqa: F811
    host.hset("attendee-01:progress:{start}", mapping={"outcome": "p" * 1_000_000, "message": "m" * 1_000_000,
                                                       "tries": "9" * 1_000_000, "first": "1" * 1_000_000,
                                                       "last": "2" * 1_000_000, "passed": "3" * 1_000_000})
    (fields,) = progress._READ(host, ["attendee-01:progress:{start}"], [progress.MESSAGE_MAX * 4])
    assert [len(value) for value in fields] == [20, progress.MESSAGE_MAX * 4, 20, 20, 20, 20]


def test_a_cut_never_splits_a_character_and_any_client_reads_what_an_attendee_wrote(room, admin_url):  # noqa: F811
    raw = redis.Redis.from_url(admin_url)
    raw.hset("attendee-01:progress:{start}", mapping={"outcome": "not yet", "tries": 1,
                                                      "message": "x" * 1199 + "é and more"})
    raw.hset("attendee-02:progress:{start}", mapping={"outcome": b"not yet", "tries": 1, "message": b"\xff"})
    plain = patterns.connect(admin_url, namespace="")  # strict decoding, as a notebook's client
    board = progress.read_board(plain, ["attendee-01", "attendee-02"])
    assert board.progress("attendee-01", "start").message == "x" * progress.MESSAGE_MAX
    assert board.progress("attendee-02", "start").message == "\ufffd"
    (fields,) = progress._READ(connection.tolerant(plain), ["attendee-01:progress:{start}"], [1200])
    assert fields[1] == "x" * 1199  # the é the cut went through is left out whole
    raw.close()


def test_the_hosts_tolerant_client_keeps_the_pools_settings_and_is_made_once(server):  # noqa: F811
    from test_workshop import HOST_PASSWORD

    r = patterns.connect(f"redis://default:{HOST_PASSWORD}@127.0.0.1:{server.port}/0?max_connections=2",
                         namespace="")
    first, second = connection.tolerant(r), connection.tolerant(r)
    assert first.connection_pool is second.connection_pool
    pool = first.connection_pool
    assert pool.max_connections == 2
    assert pool.connection_class is r.connection_pool.connection_class
    assert pool.connection_kwargs["password"] == HOST_PASSWORD
    assert connection.tolerant(first) is first


def test_what_is_shown_has_no_invisible_character_that_could_reorder_the_line():
    assert progress.shown("a\u202eb\u200bc\u2028d\x1b[2Je") == "a b c d [2Je"
