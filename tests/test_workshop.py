"""Workshop mode on a real server: attendees fenced in by ACL, and the host's provision/status/teardown.

Every test here talks to throwaway servers started for this module (never to another
Redis). The host's server has a password on its default user, as a workshop server should.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import patterns
from patterns import keys, workshop
from patterns.audit import audit
from patterns.cache import Cache
from patterns.errors import PatternError
from patterns.leaderboard import Leaderboard
from patterns.lock import Lock
from patterns.pubsub import EventStream, Subscriber, publish_event
from patterns.ratelimit import TokenBucket
from patterns.sandbox import LocalServer, free_ports, redis_server_binary
from patterns.session import SessionStore
from conftest import _started, _unavailable
from helpers import wait_for

HOST_PASSWORD = "host-secret-for-tests"


@pytest.fixture(scope="module")
def server():
    server = _started(lambda: LocalServer("--enable-debug-command", "yes"))  # refused by ACL, not by config
    with redis.Redis(port=server.port) as first:
        first.acl_setuser("default", enabled=True, passwords=[f"+{HOST_PASSWORD}"], reset_passwords=True)
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def admin_url(server) -> str:
    return f"redis://default:{HOST_PASSWORD}@127.0.0.1:{server.port}/0"


@pytest.fixture
def host(admin_url):
    """The host's admin client on an empty server with no users but the default one."""
    r = workshop.admin_client(admin_url)
    r.flushall()
    yield r
    for name in r.acl_users():
        if name != "default":
            r.acl_deluser(name)
    r.flushall()


@pytest.fixture
def room(host, admin_url):
    """Two provisioned attendees, A and B, each with a client of its own."""
    made = workshop.provision(host, 2)
    clients = [patterns.connect(workshop.attendee_url(admin_url, a.name, a.password), namespace=a.name) for a in made]
    yield made, clients
    for client in clients:
        client.connection_pool.disconnect()


def refused(call) -> bool:
    """True when Redis refused the call for the user's permissions (NOPERM, or its form inside a script)."""
    try:
        call()
    except redis.exceptions.NoPermissionError:
        return True
    except redis.ResponseError as error:
        return "The user executing the script can't" in str(error)
    return False


def subscribe(pubsub, how: str, name: str) -> None:
    """Subscribe and read the answer: a refusal arrives as the reply, not when the command is sent."""
    getattr(pubsub, how)(name)
    read = pubsub.get_sharded_message if how == "ssubscribe" else pubsub.get_message
    assert read(timeout=2)["type"] == how


# -- what provision makes ----------------------------------------------------------------------------

def test_provision_makes_one_user_per_attendee_with_a_strong_unique_password(host, admin_url):
    made = workshop.provision(host, 3)
    assert [a.name for a in made] == ["attendee-01", "attendee-02", "attendee-03"]
    assert len({a.password for a in made}) == 3
    assert all(len(a.password) >= 43 for a in made)  # 32 random bytes, URL-safe base64
    assert set(host.acl_users()) == {"default", "attendee-01", "attendee-02", "attendee-03"}
    line = made[0].line(admin_url)
    assert line == (f"REDIS_URL=redis://attendee-01:{made[0].password}@127.0.0.1:{admin_url.split(':')[-1]} "
                    "WORKBOOK_NAMESPACE=attendee-01")
    r = patterns.connect(line.split()[0].split("=", 1)[1], namespace="attendee-01")
    assert r.acl_whoami() == "attendee-01"
    assert "namespace 'attendee-01'" in patterns.describe(r)  # the banner, without INFO (refused)


def test_every_pattern_works_as_an_attendee_and_writes_only_under_its_namespace(host, room):
    (a, _), (r, _) = room
    Cache(r, "users").get_or_set("1", lambda: {"name": "Ada"})
    assert TokenBucket(r, 10, 60).hit("ada").allowed
    Leaderboard(r, "game").submit("ada", 10)
    assert Leaderboard(r, "game").rank("ada").rank == 1
    sid = SessionStore(r).create("ada", {"theme": "dark"})
    assert SessionStore(r).get(sid) == {"theme": "dark"}
    EventStream(r, "orders").append({"id": 1})
    with Lock(r, "report", ttl=5) as lock:
        assert lock.owned()
    inbox = []
    with Subscriber(r, ["news"], lambda channel, event: inbox.append(event)):
        assert publish_event(r, "news", "hi") == 1
        assert wait_for(lambda: inbox == ["hi"])
    names = list(host.scan_iter())
    assert len(names) >= 6 and all(name.startswith(f"{a.name}:") for name in names)


# -- isolation: A cannot touch B ------------------------------------------------------------------------

@pytest.mark.parametrize("command", [
    ("GET", "{b}:user:1"), ("SET", "{b}:user:1", "mine"), ("DEL", "{b}:user:1"), ("UNLINK", "{b}:user:1"),
    ("EXISTS", "{b}:user:1"), ("TTL", "{b}:user:1"), ("TYPE", "{b}:user:1"), ("EXPIRE", "{b}:user:1", "1"),
    ("RENAME", "{b}:user:1", "{a}:stolen"), ("DUMP", "{b}:user:1"), ("MEMORY", "USAGE", "{b}:user:1"),
    ("OBJECT", "ENCODING", "{b}:user:1"), ("XRANGE", "{b}:orders", "-", "+"),
    ("XREAD", "STREAMS", "{b}:orders", "0"), ("XADD", "{b}:orders", "*", "forged", "1"),
    ("XREADGROUP", "GROUP", "workers", "a", "STREAMS", "{b}:orders", ">"),
    ("EVAL", "return redis.call('GET', KEYS[1])", "1", "{b}:user:1"),
    ("EVAL", "return redis.call('GET', ARGV[1])", "0", "{b}:user:1"),  # undeclared: checked inside too
    ("EVAL", "return redis.call('DEL', KEYS[1])", "1", "{b}:user:1"),
], ids=lambda c: " ".join(c[:2]) if c[0] in ("EVAL", "MEMORY", "OBJECT") else c[0])
def test_an_attendee_cannot_read_write_or_delete_another_attendees_keys(room, host, command):
    (a, b), (ra, rb) = room
    rb.set(keys.plain(rb, "user:1"), "B's data")
    rb.xadd(keys.plain(rb, "orders"), {"id": "1"})
    rb.xgroup_create(keys.plain(rb, "orders"), "workers", id="0")
    args = [part.replace("{b}", b.name).replace("{a}", a.name) for part in command]
    assert refused(lambda: ra.execute_command(*args))
    assert host.get(f"{b.name}:user:1") == "B's data" and host.xlen(f"{b.name}:orders") == 1


def test_an_attendee_cannot_subscribe_to_or_publish_on_another_attendees_channels(room):
    (a, b), (ra, rb) = room
    for how in ("subscribe", "ssubscribe", "psubscribe"):
        pubsub = ra.pubsub()
        assert refused(lambda: subscribe(pubsub, how, f"{b.name}:news")), how
        pubsub.close()
    for pattern in ("*", f"{b.name}:*", "attendee-*"):
        pubsub = ra.pubsub()
        assert refused(lambda: subscribe(pubsub, "psubscribe", pattern)), pattern
        pubsub.close()
    assert refused(lambda: ra.publish(f"{b.name}:news", "forged"))
    assert refused(lambda: ra.spublish(f"{b.name}:news", "forged"))
    inbox = []
    with Subscriber(rb, ["news"], lambda channel, event: inbox.append(event)):
        publish_event(ra, "news", "A's own news")  # same name, A's namespace: never reaches B
        publish_event(rb, "news", "B's news")
        assert wait_for(lambda: inbox == ["B's news"])
        time.sleep(0.1)
    assert inbox == ["B's news"]


def test_a_pattern_subscription_is_refused_with_an_error_that_says_why(room):
    _, (ra, _) = room
    with pytest.raises(PatternError, match="compared as text, not as a glob"):
        Subscriber(ra, handler=print, patterns=["orders.*"]).start()
    pubsub = ra.pubsub()
    subscribe(pubsub, "psubscribe", keys.channel(ra, "*"))  # the one pattern its ACL lists: allowed
    pubsub.close()


FORBIDDEN = [
    ("FLUSHALL",), ("FLUSHDB",), ("FLUSHALL", "ASYNC"), ("KEYS", "*"), ("SCAN", "0"), ("RANDOMKEY",),
    ("CONFIG", "GET", "*"), ("CONFIG", "SET", "maxmemory", "1"), ("CONFIG", "RESETSTAT"), ("INFO",),
    ("ACL", "SETUSER", "attendee-01", "+@all", "~*"), ("ACL", "LIST"), ("ACL", "USERS"),
    ("ACL", "GETUSER", "default"), ("ACL", "DELUSER", "attendee-02"), ("ACL", "LOG"), ("ACL", "SAVE"),
    ("SHUTDOWN", "NOSAVE"), ("DEBUG", "SLEEP", "0"), ("DEBUG", "OBJECT", "x"), ("MONITOR",),
    ("SCRIPT", "FLUSH"), ("SCRIPT", "KILL"), ("FUNCTION", "FLUSH"), ("FUNCTION", "LIST"),
    ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f', function() return 1 end)"),
    ("FCALL", "f", "0"), ("CLIENT", "LIST"), ("CLIENT", "KILL", "TYPE", "normal"), ("CLIENT", "PAUSE", "1"),
    ("CLIENT", "TRACKING", "ON", "BCAST"), ("SLOWLOG", "GET"), ("LATENCY", "LATEST"), ("MEMORY", "STATS"),
    ("MEMORY", "DOCTOR"), ("MEMORY", "PURGE"), ("MODULE", "LIST"), ("SAVE",), ("BGSAVE",), ("BGREWRITEAOF",),
    ("LASTSAVE",), ("ROLE",), ("REPLICAOF", "NO", "ONE"), ("FAILOVER",), ("SWAPDB", "0", "1"), ("SELECT", "1"),
    ("MOVE", "attendee-01:x", "1"), ("COPY", "attendee-01:x", "attendee-01:y", "DB", "1"),
    ("MIGRATE", "127.0.0.1", "1", "attendee-01:x", "0", "10"), ("SORT", "attendee-01:list"),
    ("PUBSUB", "CHANNELS"), ("PUBSUB", "SHARDCHANNELS"), ("CLUSTER", "GETKEYSINSLOT", "0", "10"),
    ("PUBSUB", "NUMSUB", "attendee-02:news"), ("PUBSUB", "SHARDNUMSUB", "attendee-02:news"),
    ("SCRIPT", "EXISTS", "0" * 40),
    ("EVAL", "return redis.call('FLUSHALL')", "0"), ("EVAL", "return redis.call('KEYS', '*')", "0"),
    ("EVAL", "return redis.call('FLUSHDB')", "0"), ("EVAL", "return redis.call('RANDOMKEY')", "0"),
    ("EVAL", "return redis.call('DEL', 'attendee-02:user:1')", "0"),
]


@pytest.mark.parametrize("command", FORBIDDEN, ids=lambda c: " ".join(c[:2]) if len(c) > 1 else c[0])
def test_every_forbidden_command_is_refused_with_noperm(room, host, command):
    (_, b), (ra, rb) = room
    rb.set(keys.plain(rb, "user:1"), "B's data")
    assert refused(lambda: ra.execute_command(*command))
    assert host.get(f"{b.name}:user:1") == "B's data"
    assert host.config_get("maxmemory")["maxmemory"] == "0"


def test_a_password_guess_fails(room, server):
    (a, b), _ = room
    once = Retry(NoBackoff(), 0)  # one try each: a refused password is not worth retrying
    for user, password in ((a.name, "guess"), (a.name, b.password), (b.name, a.password), (a.name, "")):
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=server.port, username=user, password=password, retry=once).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=server.port, password="guess", retry=once).ping()  # nor the host's default user


# -- what an attendee can still see: keyless commands -------------------------------------------------

def test_without_scan_an_attendee_sees_only_counts_not_names(room, host):
    (a, b), (ra, rb) = room
    rb.set(keys.plain(rb, "session:{secret-id}"), "B's session", ex=60)
    assert ra.dbsize() == 1  # a count of everyone's keys: the one thing it learns
    report = audit(ra)
    assert report.refused and "may not run SCAN" in report.refused and not report.clean
    assert "workshop" in report.table()
    assert refused(lambda: ra.execute_command("PUBSUB", "CHANNELS"))


def test_with_allow_scan_an_attendee_sees_every_attendees_key_names_but_not_their_values(host, admin_url):
    a, b = workshop.provision(host, 2, allow_scan=True)
    ra = patterns.connect(workshop.attendee_url(admin_url, a.name, a.password), namespace=a.name)
    rb = patterns.connect(workshop.attendee_url(admin_url, b.name, b.password), namespace=b.name)
    rb.set(keys.plain(rb, "session:{secret-id}"), "B's session", ex=60)
    ra.set(keys.plain(ra, "mine"), 1, ex=60)
    assert sorted(set(ra.scan_iter())) == [f"{a.name}:mine", f"{b.name}:session:{{secret-id}}"]
    assert refused(lambda: ra.get(f"{b.name}:session:{{secret-id}}"))
    assert audit(ra).scanned == 1  # its own audit stays in its namespace (SCAN MATCH attendee-01:*)


# -- provision is idempotent ---------------------------------------------------------------------------

def test_provision_again_keeps_existing_users_and_their_passwords(host, admin_url):
    first = workshop.provision(host, 2)
    hashes = {a.name: host.acl_getuser(a.name)["passwords"] for a in first}
    again = workshop.provision(host, 3, known={a.name: a.password for a in first})
    assert [(a.name, a.password, a.created) for a in again[:2]] == [(a.name, a.password, False) for a in first]
    assert again[2].created and again[2].password
    assert {a.name: host.acl_getuser(a.name)["passwords"] for a in first} == hashes
    unknown = workshop.provision(host, 2)  # no file from the first run: still kept, password not shown
    assert [a.password for a in unknown] == [None, None, None]  # all three made before are kept and listed
    assert unknown[0].line(admin_url).startswith("# attendee-01: exists")
    patterns.connect(workshop.attendee_url(admin_url, first[0].name, first[0].password)).ping()


def test_provision_never_takes_over_a_user_it_did_not_make(host):
    host.acl_setuser("attendee-02", enabled=True, passwords=["+the-hosts-own"], keys=["~*"], commands=["+@all"])
    with pytest.raises(PatternError, match="'attendee-02' already exists and is not a workshop attendee"):
        workshop.provision(host, 3)
    assert host.acl_getuser("attendee-02")["keys"] in (["~*"], "~*")  # untouched
    assert "attendee-01" not in host.acl_users()  # refused before making anyone


def test_names_keep_two_digits_as_the_room_grows_past_99(host):
    assert [a.name for a in workshop.provision(host, 2)] == ["attendee-01", "attendee-02"]
    grown = workshop.provision(host, 100)
    assert grown[0].name == "attendee-01" and not grown[0].created and grown[99].name == "attendee-100"


def test_reissue_gives_new_passwords_and_the_old_ones_stop_working(host, admin_url):
    first = workshop.provision(host, 1)
    new = workshop.provision(host, 1, reissue=True)
    assert new[0].password != first[0].password
    with pytest.raises(patterns.BackendUnavailable, match="refused the credentials"):
        patterns.connect(workshop.attendee_url(admin_url, "attendee-01", first[0].password))
    patterns.connect(workshop.attendee_url(admin_url, "attendee-01", new[0].password)).ping()


def test_after_a_restart_provision_with_the_file_brings_back_the_same_passwords(tmp_path):
    with LocalServer("--requirepass", HOST_PASSWORD) as plain_server:
        admin = f"redis://default:{HOST_PASSWORD}@127.0.0.1:{plain_server.port}/0"
        out = tmp_path / "attendees.txt"
        assert workshop.main(["provision", admin, "--attendees", "2", "--out", str(out)]) == 0
        before = out.read_text()
        plain_server.restart()  # no ACL file: the users are gone
        assert workshop.find_attendees(workshop.admin_client(admin)) == {}
        assert workshop.main(["provision", admin, "--attendees", "2", "--out", str(out)]) == 0
        assert out.read_text() == before
        url = before.split()[0].split("=", 1)[1]
        assert patterns.connect(url, namespace="attendee-01").acl_whoami() == "attendee-01"


# -- status and teardown -------------------------------------------------------------------------------

def test_status_counts_each_attendees_keys_memory_and_connections(host, room):
    (a, b), (ra, rb) = room
    for i in range(5):
        ra.set(keys.plain(ra, f"k{i}"), "x" * 100, ex=60)
    rb.set(keys.plain(rb, "k"), "x", ex=60)
    host.set("the-hosts-own-key", 1)
    report = workshop.status(host)
    rows = {row.name: row for row in report.attendees}
    assert (rows[a.name].keys, rows[b.name].keys) == (5, 1)
    assert rows[a.name].memory > 5 * 100 > rows[b.name].memory > 0
    assert rows[a.name].connections >= 1 and rows[b.name].connections >= 1
    assert "attendee-01" in report.table() and "total" in report.table()


def test_teardown_removes_every_attendee_key_and_user_and_nothing_else(host, admin_url):
    made = workshop.provision(host, 3)
    clients = [patterns.connect(workshop.attendee_url(admin_url, a.name, a.password), namespace=a.name)
               for a in made]
    for client in clients:
        Leaderboard(client, "game").submit("ada", 1)
        SessionStore(client).create("ada")
        for i in range(400):
            client.set(keys.plain(client, f"k{i}"), i, ex=600)
    host.set("the-hosts-own-key", 1)
    host.set("attendee-07:not-a-user-of-ours", 1)  # no such attendee: not ours to delete
    host.acl_setuser("attendee-99", enabled=True, nopass=True, keys=["~*"], commands=["+get"])  # not our rules
    seen = []
    users, removed = workshop.teardown(host, count=100, progress=lambda n, total: seen.append((n, total)))
    assert users == ["attendee-01", "attendee-02", "attendee-03"]
    assert removed >= 3 * 402 and len(seen) > 3 and seen[-1] == (removed, removed)
    assert sorted(set(host.scan_iter())) == ["attendee-07:not-a-user-of-ours", "the-hosts-own-key"]  # SCAN may repeat
    assert sorted(host.acl_users()) == ["attendee-99", "default"]
    with pytest.raises(redis.ConnectionError):  # an attendee still connected was disconnected
        clients[0].set(keys.plain(clients[0], "late"), 1)


# -- the command line ---------------------------------------------------------------------------------

def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "patterns.workshop", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


def test_the_command_line_provisions_reports_and_tears_down(host, admin_url, tmp_path):
    out = tmp_path / "attendees.txt"
    made = run_cli("provision", admin_url, "--attendees", "3", "--out", str(out), "--host", "workshop.example:7000")
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("REDIS_URL=redis://attendee-0") for line in lines)
    assert "@workshop.example:7000/0 WORKBOOK_NAMESPACE=attendee-01" in lines[0]
    assert out.read_text().splitlines() == lines and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "3 attendees (3 new, 0 kept)" in made.stderr and "in memory only" in made.stderr
    again = run_cli("provision", admin_url, "--attendees", "3", "--out", str(out))
    assert again.returncode == 0 and "(0 new, 3 kept)" in again.stderr
    assert [line.split("@")[0] for line in again.stdout.splitlines()] == [line.split("@")[0] for line in lines]
    shown = run_cli("status", admin_url)
    assert shown.returncode == 0 and "3 attendees on Redis" in shown.stdout and "attendee-03" in shown.stdout
    gone = run_cli("teardown", admin_url)
    assert gone.returncode == 0 and gone.stdout.strip() == "removed 3 attendees and 0 keys"
    assert host.acl_users() == ["default"]


def test_the_teardown_progress_line_shows_on_a_terminal(capsys):
    show = workshop._cli.progress("unlinked {:,} keys…", enabled=True)
    show(500, 1000)
    show(1000, 1000)
    show.done()
    assert capsys.readouterr().err == (f"\r[{'#' * 15}{'.' * 15}]  50% unlinked 500 keys…"
                                       f"\r[{'#' * 30}] 100% unlinked 1,000 keys…\n")


@pytest.mark.parametrize(("url", "message"), [
    ("redis://127.0.0.1:1/0", "Cannot reach Redis at redis://127.0.0.1:1/0"),
    ("http://127.0.0.1:6379", "is not a Redis URL"),
    ("redis://default:wrong@127.0.0.1:{port}/0", "refused the credentials"),
])
def test_a_wrong_url_is_one_clear_line(server, url, message):
    result = run_cli("status", url.format(port=server.port))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ") and message in result.stderr and result.stderr.count("\n") == 1
    assert "wrong" not in result.stderr  # the password is masked


def test_an_admin_without_acl_rights_gets_one_clear_line(host, room, admin_url):
    (a, _), _ = room
    result = run_cli("provision", workshop.attendee_url(admin_url, a.name, a.password), "--attendees", "2")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "may not manage ACL users; use an admin user" in result.stderr and a.password not in result.stderr


def test_a_server_without_acl_gets_one_clear_line():
    with LocalServer("--rename-command", "ACL", "") as no_acl:
        result = run_cli("provision", no_acl.url, "--attendees", "2")
    assert result.returncode == 2 and "has no ACL command" in result.stderr and result.stderr.count("\n") == 1


def test_the_embedded_backend_cannot_host_a_workshop():
    with pytest.raises(PatternError, match="needs a real Redis server"):
        workshop.admin_client("")  # no URL: fakeredis


def test_attendee_counts_and_prefixes_are_checked(host):
    with pytest.raises(ValueError, match="--attendees must be between 1 and 999"):
        workshop.provision(host, 0)
    with pytest.raises(ValueError, match="--prefix"):
        workshop.provision(host, 1, prefix="Bad*")


# -- TLS: rediss:// end to end ------------------------------------------------------------------------

def make_certificates(directory) -> dict[str, str]:
    """A throwaway CA and a server certificate for 127.0.0.1, made with the openssl command."""
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1",
            "-subj", "/CN=workshop test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "1", "-extfile", "san.ext")
    return {name: str(directory / f"{name}") for name in ("ca.crt", "server.crt", "server.key")}


def test_over_tls_the_attendees_urls_are_rediss_and_plain_text_is_refused(server, tmp_path):
    if shutil.which("openssl") is None:
        _unavailable("the openssl command (it makes the test certificates) is not installed")
    files = make_certificates(tmp_path)
    port = free_ports()[0]
    process = subprocess.Popen(
        [redis_server_binary(), "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--requirepass", HOST_PASSWORD,
         "--tls-cert-file", files["server.crt"], "--tls-key-file", files["server.key"],
         "--tls-ca-cert-file", files["ca.crt"], "--tls-auth-clients", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        admin_url = f"rediss://default:{HOST_PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={files['ca.crt']}"
        assert wait_for(lambda: _answers(admin_url))
        out = tmp_path / "attendees.txt"
        assert workshop.main(["provision", admin_url, "--attendees", "1", "--out", str(out)]) == 0
        url = out.read_text().split()[0].split("=", 1)[1]
        assert url.startswith("rediss://attendee-01:") and f"ssl_ca_certs={files['ca.crt']}" in url
        r = patterns.connect(url, namespace="attendee-01")
        assert r.acl_whoami() == "attendee-01" and issubclass(r.connection_pool.connection_class, redis.SSLConnection)
        r.set(keys.plain(r, "over-tls"), 1, ex=60)
        with pytest.raises(redis.ConnectionError):  # the same port without TLS: no answer
            redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1).ping()
    finally:
        process.terminate()
        process.wait(10)


def _answers(url: str) -> bool:
    try:
        return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False


# -- hardening: the host's own server ------------------------------------------------------------------

@pytest.fixture
def open_server():
    """A throwaway server as it comes out of the box: its default user needs no password."""
    with LocalServer() as local:
        yield local


def test_provision_refuses_a_server_whose_default_user_needs_no_password(open_server):
    r = workshop.admin_client(open_server.url)
    with pytest.raises(PatternError, match="'default' needs no password"):
        workshop.provision(r, 2)
    assert r.acl_users() == ["default"]  # nothing made
    result = run_cli("provision", open_server.url, "--attendees", "2")
    assert result.returncode == 2 and result.stdout == "" and result.stderr.count("\n") == 1
    assert "--insecure-allow-passwordless-users" in result.stderr and r.acl_users() == ["default"]


def test_the_host_may_override_the_refusal_with_a_flag_that_says_what_it_risks(open_server):
    result = run_cli("provision", open_server.url, "--attendees", "1", "--insecure-allow-passwordless-users")
    assert result.returncode == 0 and result.stdout.startswith("REDIS_URL=redis://attendee-01:")
    assert "anyone can connect as 'default'" in result.stderr


def test_another_enabled_user_without_a_password_is_refused_too(host):
    host.acl_setuser("monitoring", enabled=True, nopass=True, commands=["+ping"])
    with pytest.raises(PatternError, match="'monitoring' needs no password"):
        workshop.provision(host, 1)
    assert "attendee-01" not in host.acl_users()


def test_an_existing_out_file_is_made_private_before_any_password_is_written(host, admin_url, tmp_path):
    out = tmp_path / "attendees.txt"
    out.write_text("old notes\n")
    out.chmod(0o644)
    assert run_cli("provision", admin_url, "--attendees", "2", "--out", str(out)).returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and "REDIS_URL=" in out.read_text()


@pytest.mark.parametrize("drift", [("nopass",), (">extra-password", "(~* +get)")], ids=["nopass", "password+selector"])
def test_reprovisioning_removes_drift_an_admin_added(host, admin_url, server, drift):
    (a,) = workshop.provision(host, 1)
    host.set("secret-of-the-host", "x")
    host.execute_command("ACL", "SETUSER", a.name, *drift)
    intruder = "anything" if drift == ("nopass",) else "extra-password"
    sneaky = redis.Redis(port=server.port, username=a.name, password=intruder, decode_responses=True)
    assert sneaky.ping()  # the drift lets someone else in
    (again,) = workshop.provision(host, 1, known={a.name: a.password})
    assert again.password == a.password
    once = Retry(NoBackoff(), 0)
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=server.port, username=a.name, password=intruder, retry=once).ping()
    ra = redis.Redis(port=server.port, username=a.name, password=a.password, decode_responses=True)
    assert refused(lambda: ra.get("secret-of-the-host"))
    user = host.acl_getuser(a.name)
    assert not user.get("selectors") and "nopass" not in user["flags"] and len(user["passwords"]) == 1


def test_reprovisioning_without_the_file_keeps_a_single_password_but_removes_the_rest_of_the_drift(host, server):
    (a,) = workshop.provision(host, 1)
    host.execute_command("ACL", "SETUSER", a.name, "(~* +get)", "+flushall")
    (again,) = workshop.provision(host, 1)  # no --out file: the password is kept, not shown
    assert again.password is None
    ra = redis.Redis(port=server.port, username=a.name, password=a.password, decode_responses=True)
    assert ra.ping() and refused(lambda: ra.execute_command("FLUSHALL"))
    assert not host.acl_getuser(a.name).get("selectors")


def test_what_an_attendee_can_observe_about_the_others_is_only_server_wide_counts(room):
    (a, b), (ra, rb) = room
    rb.set(keys.plain(rb, "user:1"), "B's data", ex=60)
    pubsub = rb.pubsub()
    subscribe(pubsub, "subscribe", keys.channel(rb, "news"))
    # Allowed, and what they tell: how many keys the whole server holds, how many pattern
    # subscriptions it has. Neither names anyone or anything (docs/workshop.md).
    assert ra.dbsize() == 1 and isinstance(ra.execute_command("PUBSUB", "NUMPAT"), int)
    # Refused: anything that would say whether B is listening, or what B's keys are called.
    for command in (("PUBSUB", "NUMSUB", f"{b.name}:news"), ("PUBSUB", "SHARDNUMSUB", f"{b.name}:news"),
                    ("PUBSUB", "CHANNELS"), ("EXISTS", f"{b.name}:user:1"), ("SCAN", "0"), ("RANDOMKEY",),
                    ("CLIENT", "LIST"), ("INFO", "keyspace")):
        assert refused(lambda: ra.execute_command(*command)), command
    pubsub.close()


def test_provision_says_the_server_must_carry_the_2025_lua_fixes(host, admin_url):
    result = run_cli("provision", admin_url, "--attendees", "1")
    assert result.returncode == 0
    assert "CVE-2025-49844" in result.stderr and "EVAL" in result.stderr
    version = host.info("server")["redis_version"]
    assert f"Redis {version}" in result.stderr


# -- hardening, second review -----------------------------------------------------------------------------

def test_an_earlier_attendee_outside_the_new_count_is_reset_too(host, server):
    first = workshop.provision(host, 3)
    host.execute_command("ACL", "SETUSER", "attendee-03", "nopass", "(~* +@all)")
    again = workshop.provision(host, 2, known={a.name: a.password for a in first})
    assert [a.name for a in again] == ["attendee-01", "attendee-02", "attendee-03"]
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=server.port, username="attendee-03", password="anything", retry=Retry(NoBackoff(), 0)).ping()
    assert not host.acl_getuser("attendee-03").get("selectors")


def test_credentials_in_the_admin_urls_query_never_reach_an_attendee(server, tmp_path):
    out = tmp_path / "attendees.txt"
    url = f"redis://127.0.0.1:{server.port}/0?username=default&password={HOST_PASSWORD}"
    result = run_cli("provision", url, "--attendees", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert HOST_PASSWORD not in result.stdout + result.stderr + out.read_text()
    assert "username=" not in out.read_text()
    run_cli("teardown", url)


@pytest.mark.parametrize("password", ["Adm1n#Pass", "a/b?c", "p@ss:word"])
def test_an_error_never_prints_the_password_whatever_it_contains(password):
    result = run_cli("status", f"redis://default:{password}@127.0.0.1:1/0")
    assert result.returncode == 2 and password not in result.stderr and result.stderr.count("\n") == 1


def test_a_key_pattern_an_admin_added_is_removed_again(host, server):
    (a, b) = workshop.provision(host, 2)
    host.set("host:secret", "v")
    host.execute_command("ACL", "SETUSER", b.name, "%R~*")
    workshop.provision(host, 2, known={a.name: a.password, b.name: b.password})
    rb = redis.Redis(port=server.port, username=b.name, password=b.password, decode_responses=True)
    assert refused(lambda: rb.get("host:secret"))


def test_teardown_names_a_lookalike_it_leaves_alone(host, admin_url):
    (a, b) = workshop.provision(host, 2)
    host.execute_command("ACL", "SETUSER", b.name, "allkeys")  # its own pattern is gone: no longer provably ours
    result = run_cli("teardown", admin_url)
    assert result.returncode == 0 and f"user '{b.name}' is named like an attendee" in result.stderr
    assert f"ACL DELUSER {b.name}" in result.stderr


def test_an_admin_url_for_another_database_is_refused(server):
    for url in (f"redis://default:{HOST_PASSWORD}@127.0.0.1:{server.port}/3",
                f"redis://default:{HOST_PASSWORD}@127.0.0.1:{server.port}/0?db=3"):
        result = run_cli("teardown", url)
        assert result.returncode == 2 and "database other than 0" in result.stderr


def test_teardown_leaves_a_host_key_named_like_an_attendee(host):
    workshop.provision(host, 1)
    host.set("attendee-01", "the host's own")
    workshop.teardown(host)
    assert host.get("attendee-01") == "the host's own"


@pytest.mark.parametrize("make", ["symlink", "hardlink"])
def test_an_out_file_that_could_show_the_passwords_is_refused_before_any_user_is_made(host, admin_url, tmp_path,
                                                                                       make):
    target, out = tmp_path / "elsewhere.txt", tmp_path / "attendees.txt"
    target.write_text("")
    (out.symlink_to if make == "symlink" else out.hardlink_to)(target)
    result = run_cli("provision", admin_url, "--attendees", "2", "--out", str(out))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert host.acl_users() == ["default"] and target.read_text() == ""


def test_a_user_with_an_empty_password_is_refused_like_one_with_none(host):
    host.execute_command("ACL", "SETUSER", "guest", "on", ">", "~*", "+@all")
    with pytest.raises(PatternError, match="'guest' needs no password"):
        workshop.provision(host, 1)


@pytest.mark.parametrize(("version", "says"), [("8.4.0", "released after them"), ("7.2.10", "older than 7.2.11"),
                                                ("7.2.11", "carries them upstream"), ("7.0.15", "no upstream fix")])
def test_the_lua_warning_knows_each_line(host, monkeypatch, version, says):
    monkeypatch.setattr(workshop, "server_version", lambda r: version)
    assert says in workshop.server_warnings(host)[0]
