"""Workshop mode: many attendees on one Redis server, each fenced into a namespace by ACL.

    python -m patterns.workshop provision ADMIN_URL --attendees 30 [--out attendees.txt] [--host HOST]
    python -m patterns.workshop status    ADMIN_URL
    python -m patterns.workshop progress  ADMIN_URL [--once] [--every 5] [--idle 10]
    python -m patterns.workshop reset     ADMIN_URL attendee-07
    python -m patterns.workshop teardown  ADMIN_URL

``provision`` creates one ACL user per attendee. User ``attendee-07`` may touch only keys
``attendee-07:*`` and channels ``attendee-07:*``, which is exactly where
``connect(namespace="attendee-07")`` puts every key and channel of the patterns and the
notebooks (``patterns/keys.py``). It may run the data commands the workbook needs and
nothing that reaches past its own keys: no FLUSHALL, KEYS, CONFIG, INFO, DEBUG, MONITOR,
SHUTDOWN, ACL changes, CLIENT KILL, SCRIPT FLUSH, FUNCTION, SELECT ... (ATTENDEE_COMMANDS).

Key patterns guard commands that name keys; keyless commands see the whole server. SCAN
would list every attendee's key names (and a session id in a key name is a credential), so
attendees get no SCAN unless the host passes ``--allow-scan``; RANDOMKEY and PUBSUB CHANNELS
are refused for the same reason, and PUBSUB NUMSUB/SHARDNUMSUB, which would tell whether
another attendee listens on a channel it names. What an attendee can still learn about
others: DBSIZE and PUBSUB NUMPAT (server-wide counts that name nobody), and the server's
shared memory and speed.

The fences hold only if nobody can walk round them: ``provision`` refuses a server where
an enabled user (``default`` above all) needs no password, and every attendee may run EVAL,
so the server must carry the October 2025 Lua fixes (CVE-2025-49844 and its siblings).

``progress`` is the host's board: attendees × exercises, from what each exercise's
``check()`` recorded in the attendee's own namespace (``patterns.progress``), refreshed
live on a terminal. ``reset`` clears one attendee's keys (their progress records kept),
for a key space left in a state the attendee cannot recover from.

Only users this module made are touched by ``status``, ``progress``, ``reset`` and ``teardown``: a name
``<prefix>-<number>`` whose key pattern is exactly ``~<name>:*``. Everything else on the
server (the host's own users and keys) is left alone.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

import redis

from . import _cli, keys, progress as _progress
from .scan import scan_batches
from .connection import connect, is_cluster, is_fake, mask_password, server_version, tolerant
from .namespace import reset
from .errors import PatternError

DEFAULT_PREFIX = "attendee"
PASSWORD_BYTES = 32  # 256 bits, URL-safe: a guess has no chance, and it needs no quoting in a URL
MINIMUM_VERSION = (6, 2)  # channel patterns (&) in ACL rules arrived in Redis 6.2
# The first upstream releases of each line with the fixes for CVE-2025-49844, -46817, -46818 and
# -46819 (Lua: remote code execution, running as another user, out-of-bounds reads), released
# 2025-10-03. Distributions backport them without changing the version (Debian 12's
# 7.0.15-1~deb12u6 carries them), so an older-looking version is a warning, not a refusal.
LUA_FIXED_IN = {(6, 2): (6, 2, 20), (7, 2): (7, 2, 11), (7, 4): (7, 4, 6), (8, 0): (8, 0, 4), (8, 2): (8, 2, 2)}
OPEN_USERS_FLAG = "--insecure-allow-passwordless-users"

# Applied in order after "-@all": everything, minus what reaches past the attendee's own keys.
ATTENDEE_COMMANDS: tuple[str, ...] = (
    "+@all",
    # FLUSHALL/FLUSHDB, KEYS, CONFIG, INFO, DEBUG, MONITOR, SHUTDOWN, SAVE, ACL SETUSER/LIST...,
    # CLIENT KILL/LIST/PAUSE, SLOWLOG, LATENCY, MODULE, SWAPDB, MIGRATE, SORT (BY/GET read any key)
    "-@dangerous",
    "-@admin",
    # Another database holds keys that the teardown (database 0) would never find.
    "-select", "-move", "-copy",
    # Keyless and server-wide: they would show other attendees' key and channel names.
    "-scan", "-randomkey", "-pubsub|channels", "-pubsub|shardchannels", "-client|tracking",
    # Keyless too: whether anyone listens on a named channel (another attendee's, say).
    "-pubsub|numsub", "-pubsub|shardnumsub",
    "-cluster|getkeysinslot", "-cluster|countkeysinslot",
    # Shared by everyone: one attendee must not flush or kill what the others rely on.
    "-script|flush", "-script|kill", "-script|debug", "-function", "-fcall", "-fcall_ro",
    # Whether anyone loaded a given script: which lab another attendee has reached.
    "-script|exists",
    "-memory", "+memory|usage",
)

ALLOW_SCAN = "+scan"


@dataclass
class Attendee:
    """One attendee: its user (which is also its namespace) and, when known, its password."""

    name: str
    password: str | None
    created: bool = False

    def line(self, public_url: str) -> str:
        """What the attendee runs ``make lab`` with: ``REDIS_URL=... WORKBOOK_NAMESPACE=...``."""
        if self.password is None:
            return f"# {self.name}: exists, password not known to this run (use --reissue to give it a new one)"
        return f"REDIS_URL={attendee_url(public_url, self.name, self.password)} WORKBOOK_NAMESPACE={self.name}"


@dataclass
class AttendeeStatus:
    name: str
    enabled: bool
    keys: int = 0
    memory: int = 0  # bytes, by MEMORY USAGE
    connections: int = 0


@dataclass
class Status:
    version: str
    attendees: list[AttendeeStatus] = field(default_factory=list)
    used_memory: int = 0

    def table(self) -> str:
        lines = [f"{len(self.attendees)} attendees on Redis {self.version}, server memory {_size(self.used_memory)}"]
        lines.append(f"{'attendee':20} {'keys':>8} {'memory':>10} {'connected':>10}")
        for a in self.attendees:
            state = "" if a.enabled else "  (disabled)"
            lines.append(f"{a.name:20} {a.keys:>8,} {_size(a.memory):>10} {a.connections:>10}{state}")
        total_keys = sum(a.keys for a in self.attendees)
        total_memory = sum(a.memory for a in self.attendees)
        lines.append(f"{'total':20} {total_keys:>8,} {_size(total_memory):>10} "
                     f"{sum(a.connections for a in self.attendees):>10}")
        return "\n".join(lines)


def attendee_rules(name: str, *, allow_scan: bool = False) -> list[str]:
    """The ACL rules (after the password) that fence user ``name`` into namespace ``name``."""
    return ["on", "resetkeys", f"~{name}:*", "resetchannels", f"&{name}:*", "-@all", *ATTENDEE_COMMANDS,
            *([ALLOW_SCAN] if allow_scan else [])]


CREDENTIAL_PARAMETERS = ("username", "password", "db")  # redis-py reads these from a URL's query too


def attendee_url(public_url: str, name: str, password: str) -> str:
    """``public_url`` with the attendee's user and password, database 0 (teardown scans only 0).

    Any credentials in the admin URL's query (``?username=...&password=...``, which redis-py
    honours) are dropped: the rest of the query (a TLS CA file, say) is kept.
    """
    parts = urlsplit(public_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    query = "&".join(part for part in parts.query.split("&")
                     if part and part.split("=", 1)[0].lower() not in CREDENTIAL_PARAMETERS)  # as written
    return urlunsplit(parts._replace(netloc=f"{name}:{password}@{host}", path="/0", query=query))


def admin_client(url: str) -> Any:
    """A client for the admin URL, after checking the server can host a workshop at all.

    It reads what attendees wrote (key names, progress records), which need not be UTF-8: bytes
    that are not come back as surrogates (``surrogateescape``) and go out again as the same bytes,
    so a key named ``attendee-07:\xff`` is counted, reset and torn down like any other, instead
    of stopping the host's command with a UnicodeDecodeError.
    """
    r = tolerant(connect(url, namespace=""))
    if is_fake(r):
        raise PatternError("a workshop needs a real Redis server: give its URL, e.g. redis://default:PW@host:6379/0")
    if is_cluster(r):
        raise PatternError(f"{mask_password(url)} is a Redis Cluster, whose ACL users live on each node "
                           "separately; run the workshop on one server")
    if int(r.connection_pool.connection_kwargs.get("db") or 0) != 0:
        raise PatternError(f"{mask_password(url)} selects a database other than 0: attendees work in database 0, "
                           "and status and teardown must look there; end the admin URL with /0")
    version = server_version(r)
    if tuple(int(p) for p in re.findall(r"\d+", version)[:2]) < MINIMUM_VERSION:
        raise PatternError(f"Redis {version} at {mask_password(url)} is too old for workshop mode: its ACL has "
                           "no channel patterns (needs Redis 6.2 or newer)")
    try:
        r.acl_users()
    except redis.exceptions.NoPermissionError:
        raise PatternError(f"the user in {mask_password(url)} may not manage ACL users; use an admin user "
                           "(for example redis://default:PASSWORD@host:6379/0)") from None
    except redis.ResponseError as error:
        if "unknown command" in str(error).lower():
            raise PatternError(f"Redis at {mask_password(url)} has no ACL command (renamed or disabled, or a "
                               "server older than 6.0); workshop mode needs ACL users") from None
        raise
    return r


def find_attendees(r: Any, prefix: str = DEFAULT_PREFIX) -> dict[str, bool]:
    """Name -> enabled, for every user that this module created with ``prefix``.

    Ours: named ``<prefix>-<number>`` with ``~<name>:*`` among its key patterns (drift may add
    patterns, such as ``%R~*``; provision removes them again).
    """
    found = {}
    for name, user in _lookalikes(r, prefix).items():
        if f"~{name}:*" in _flat(user.get("keys")).split():
            found[name] = "on" in user.get("flags", [])
    return found


def strangers(r: Any, prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Users named like attendees that this module cannot tell are its own (left alone, and reported)."""
    ours = find_attendees(r, prefix)
    return [name for name in _lookalikes(r, prefix) if name not in ours]


def _lookalikes(r: Any, prefix: str) -> dict[str, dict]:
    shape = re.compile(rf"^{re.escape(prefix)}-\d+$")
    return {name: (r.acl_getuser(name) or {}) for name in sorted(r.acl_users()) if shape.match(name)}


EMPTY_PASSWORD = hashlib.sha256(b"").hexdigest()


def open_users(r: Any) -> list[str]:
    """The enabled users anyone may connect as: ``nopass``, or an empty password."""
    found = []
    for name in sorted(r.acl_users()):
        user = r.acl_getuser(name) or {}
        flags = user.get("flags", [])
        if "on" in flags and ("nopass" in flags or EMPTY_PASSWORD in user.get("passwords", [])):
            found.append(name)
    return found


def provision(
    r: Any,
    attendees: int,
    *,
    prefix: str = DEFAULT_PREFIX,
    known: dict[str, str] | None = None,
    allow_scan: bool = False,
    reissue: bool = False,
    allow_open_users: bool = False,
) -> list[Attendee]:
    """Make sure users ``<prefix>-01`` ... exist with exactly the attendee rules.

    ``known`` holds passwords from an earlier run (its output file): a user that still has
    that password keeps it, one that vanished (a server restart without an ACL file) is made
    again with it, so attendees' URLs keep working. ``reissue`` gives existing users new ones.
    Every user is reset to the documented rules and one password, so whatever an admin added
    since (``nopass``, another password, a selector, a command) is gone.

    A server where an enabled user needs no password is refused before anything is made:
    anyone could connect as that user (``default``, on a server out of the box) and walk
    round every fence. ``allow_open_users`` overrides it, for a host who knows.
    """
    if isinstance(attendees, bool) or not isinstance(attendees, int):
        raise TypeError(f"--attendees must be a whole number, got {attendees!r}")
    if attendees < 1 or attendees > 999:
        raise ValueError(f"--attendees must be between 1 and 999, got {attendees}")
    _check_prefix(prefix)
    known = known or {}
    existing, ours = set(r.acl_users()), find_attendees(r, prefix)
    names = sorted({f"{prefix}-{number:02d}" for number in range(1, attendees + 1)} | set(ours),
                   key=lambda n: int(n.rsplit("-", 1)[1]))  # 01..99, then 100..999; and every earlier one
    unguarded = [name for name in open_users(r) if name not in names]  # ours are reset below
    if unguarded and not allow_open_users:
        raise PatternError(
            f"user {unguarded[0]!r} needs no password, so anyone can connect as {unguarded[0]!r} and every attendee's "
            f"fence is pointless: give it a password (ACL SETUSER {unguarded[0]} resetpass >PASSWORD, or requirepass "
            f"for 'default') and use it in the admin URL, or pass {OPEN_USERS_FLAG} if you accept that risk")
    taken = [name for name in names if name in existing and name not in ours]
    if taken:
        raise PatternError(f"user {taken[0]!r} already exists and is not a workshop attendee (its key patterns "
                           f"do not include ~{taken[0]}:*); leave it alone and choose another --prefix")
    made = []
    for name in names:
        is_new = name not in existing
        password, kept_hash = known.get(name), None
        if not is_new and not reissue:
            hashes = (r.acl_getuser(name) or {}).get("passwords", [])
            if password and hashes and _digest(password) not in hashes:
                password = None  # changed since the file was written: the file's password is not this user's
            # (no hashes at all: it drifted to nopass or lost its password; the file's password comes back)
            if password is None and len(hashes) == 1:
                kept_hash = hashes[0]  # keep the one password it has, without knowing it
        if password is None and kept_hash is None:
            password = secrets.token_urlsafe(PASSWORD_BYTES)  # new, reissued, or drifted beyond telling
        secret = f">{password}" if password is not None else f"#{kept_hash}"
        # One command, applied at once: reset (no password, no selectors, no rules), then exactly ours.
        r.execute_command("ACL", "SETUSER", name, "reset", secret, *attendee_rules(name, allow_scan=allow_scan))
        made.append(Attendee(name, password, created=is_new))  # password None: kept, not known to this run
    return made


def status(r: Any, prefix: str = DEFAULT_PREFIX, *, count: int = 1000) -> Status:
    """Every attendee with its key count, memory (MEMORY USAGE) and open connections."""
    users = find_attendees(r, prefix)
    rows = {name: AttendeeStatus(name, enabled) for name, enabled in users.items()}
    for names in _attendee_key_batches(r, prefix, count):
        owners = [_owner(name, rows) for name in names]
        pipe = r.pipeline(transaction=False)
        for name in names:
            pipe.memory_usage(name)
        for owner, memory in zip(owners, pipe.execute(raise_on_error=False)):
            if owner:
                owner.keys += 1
                owner.memory += memory if isinstance(memory, int) else 0
    for client in r.client_list():
        if client.get("user") in rows:
            rows[client["user"]].connections += 1
    used = int(r.info("memory").get("used_memory", 0))
    return Status(server_version(r), list(rows.values()), used)


def teardown(r: Any, prefix: str = DEFAULT_PREFIX, *, count: int = 500,
             progress: Callable[[int, int], None] | None = None) -> tuple[list[str], int]:
    """Remove every attendee's keys (SCAN + UNLINK, ``count`` at a time) and then the users.

    Users are switched off and disconnected first, so nobody writes while their keys go;
    they are deleted last, so a teardown cut short finds them again and finishes the job.
    ``progress(removed, total)`` is called after each batch (a first SCAN pass counts the
    total). Returns the users removed and the number of keys unlinked.
    """
    users = list(find_attendees(r, prefix))
    for name in users:
        r.execute_command("ACL", "SETUSER", name, "off")  # no new logins...
        r.client_kill_filter(user=name)  # ...and none of the open connections
    owners = set(users)

    def theirs(names: list[str]) -> list[str]:  # "attendee-01:..." only: a bare "attendee-01" is the host's
        return [name for name in names if ":" in name and name.split(":", 1)[0] in owners]

    total = sum(len(theirs(names)) for names in _attendee_key_batches(r, prefix, count)) if progress else 0
    removed = 0
    for names in _attendee_key_batches(r, prefix, count):
        batch = theirs(names)
        if batch:
            removed += r.unlink(*batch)
        if progress:
            progress(removed, total)
    for name in users:
        r.acl_deluser(name)
    return users, removed


def board(r: Any, prefix: str = DEFAULT_PREFIX) -> _progress.Board:
    """The progress board of every attendee this module made, read as the admin user."""
    return _progress.read_board(r, list(find_attendees(r, prefix)))


def board_reader(r: Any, prefix: str = DEFAULT_PREFIX, *, users_every: float = 60.0) -> Callable[[], _progress.Board]:
    """``board(r)`` for a live view: the attendee list (an ACL GETUSER per user, the costliest part of
    a read) is asked again only every ``users_every`` seconds; the records at every call."""
    known: dict[str, Any] = {"at": -users_every, "names": []}

    def read() -> _progress.Board:
        if time.monotonic() - known["at"] >= users_every:
            known["names"], known["at"] = list(find_attendees(r, prefix)), time.monotonic()
        return _progress.read_board(r, known["names"])

    return read


def reset_attendee(r: Any, name: str, prefix: str = DEFAULT_PREFIX, *, count: int = 500) -> int:
    """Remove attendee ``name``'s keys (not their progress records); how many. Their user stays."""
    if name not in find_attendees(r, prefix):
        raise PatternError(f"{name!r} is not an attendee of this workshop (users {prefix}-NN that provision made)")
    view = connect_view(r, name)
    return reset(view, count=count)


def connect_view(r: Any, namespace: str) -> Any:
    """``r``'s connections, with every key built under ``namespace`` (the admin acting for one attendee)."""
    view = r.__class__(connection_pool=r.connection_pool)
    keys.set_namespace(view, namespace)
    return view


def save_acl(r: Any) -> bool:
    """Persist the users with ACL SAVE where the server has an ACL file; False where it has none."""
    try:
        r.acl_save()
        return True
    except redis.ResponseError:  # "This Redis instance is not configured to use an ACL file"
        return False


def read_known(path: Path) -> dict[str, str]:
    """Passwords from an earlier provision's output file: name -> password."""
    if not path.exists():
        return {}
    found = {}
    for match in re.finditer(r"REDIS_URL=(\S+)", path.read_text(encoding="utf-8")):
        parts = urlsplit(match.group(1))
        if parts.username and parts.password:
            found[parts.username] = parts.password
    return found


def _attendee_key_batches(r: Any, prefix: str, count: int) -> Iterable[list[str]]:
    """The keys under ``<prefix>-*``, ``count`` at a time, each once (a total must not count a key twice)."""
    return scan_batches(r, f"{prefix}-*", count, once=True)


def _owner(key: str, rows: dict[str, AttendeeStatus]) -> AttendeeStatus | None:
    return rows.get(key.split(":", 1)[0])


def _digest(password: str) -> str:
    """The SHA-256 hex digest ACL GETUSER shows for a password."""
    return hashlib.sha256(password.encode()).hexdigest()


def _flat(rules: Any) -> str:
    return " ".join(rules) if isinstance(rules, list) else str(rules or "")


def _check_prefix(prefix: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9]{0,30}", prefix):
        raise ValueError(f"--prefix {prefix!r}: use 1-31 lowercase letters and digits, starting with a letter")


def _size(n: int) -> str:
    return f"{n / 1024:,.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:,.1f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m patterns.workshop", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for command, what in (("provision", "create (or keep) one ACL user per attendee and print their URLs"),
                          ("status", "attendees, their keys and memory, who is connected"),
                          ("progress", "who finished which exercise, who is stuck and on what, who is idle"),
                          ("reset", "remove one attendee's keys (their progress records stay)"),
                          ("teardown", "remove every attendee's keys, then the users")):
        sub = commands.add_parser(command, help=what, description=what)
        sub.add_argument("url", help="the server, as an admin user: redis://default:PASSWORD@host:6379/0")
        sub.add_argument("--prefix", default=DEFAULT_PREFIX, help="attendee names are PREFIX-01, PREFIX-02, ...")
        if command == "provision":
            sub.add_argument("--attendees", type=int, required=True, help="how many attendees")
            sub.add_argument("--out", type=Path, help="also write the lines here (0600); read back on a re-run")
            sub.add_argument("--host", help="host[:port] attendees reach the server at (default: the URL's)")
            sub.add_argument("--allow-scan", action="store_true",
                             help="let attendees SCAN (they would see every attendee's key names)")
            sub.add_argument("--reissue", action="store_true", help="give existing attendees new passwords")
            sub.add_argument(OPEN_USERS_FLAG, dest="allow_open_users", action="store_true",
                             help="provision even though a user (e.g. 'default') needs no password: anyone can "
                                  "then connect as that user and walk round every attendee's fence")
        if command == "progress":
            sub.add_argument("--once", action="store_true", help="print the board once (the default off a terminal)")
            sub.add_argument("--every", type=_at_least_one_second, default=5.0,
                             help="seconds between refreshes on a terminal (1 or more)")
            sub.add_argument("--idle", type=float, default=_progress.IDLE_SECONDS / 60,
                             help="minutes without a check before an attendee is named as idle")
        if command == "reset":
            sub.add_argument("attendee", help="the attendee whose keys go, e.g. attendee-07")
        if command == "teardown":
            sub.add_argument("--count", type=int, default=500, help="keys per SCAN batch and per UNLINK")
    args = parser.parse_args(argv)
    return _cli.run(lambda: _commands[args.command](args))


def _provision_command(args: argparse.Namespace) -> int:
    out = open_private(args.out) if args.out else None  # refused now, before any user is made
    try:
        r = admin_client(args.url)
        known = read_known(args.out) if args.out else {}
        made = provision(r, args.attendees, prefix=args.prefix, known=known, allow_scan=args.allow_scan,
                         reissue=args.reissue, allow_open_users=args.allow_open_users)
        public = _public_url(args.url, args.host)
        lines = [attendee.line(public) for attendee in made]
        print("\n".join(lines))
        if out is not None:
            os.ftruncate(out, 0)
            os.write(out, ("\n".join(lines) + "\n").encode("utf-8"))
    finally:
        if out is not None:
            os.close(out)
    new = sum(a.created for a in made)
    saved = "saved to the ACL file" if save_acl(r) else (
        "in memory only (no ACL file): after a server restart run provision again with the same --out file")
    print(f"{len(made)} attendees ({new} new, {len(made) - new} kept); users {saved}", file=sys.stderr)
    for warning in server_warnings(r, allow_open_users=args.allow_open_users):
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def open_private(path: Path) -> int:
    """Open ``path`` for writing secrets: readable by its owner only (0600), even if it existed.

    The mode is set on the open file before the first byte is written, so a file that was
    0644 (an old list, a copy) never holds a password while others may read it. Refused: a
    symbolic link (not followed), a file with other hard links, and one owned by another user
    (chmod would leave them its owner). Returns the open file descriptor.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        found = os.fstat(fd)
        if found.st_uid != os.getuid():
            raise PatternError(f"--out {path} belongs to another user: it would keep reading the passwords; "
                               "remove it or choose another file")
        if found.st_nlink > 1:
            raise PatternError(f"--out {path} has other hard links, which would show the passwords: choose another file")
        os.fchmod(fd, 0o600)
        return fd
    except BaseException:
        os.close(fd)
        raise


def server_warnings(r: Any, *, allow_open_users: bool = False) -> list[str]:
    """What the host must know about the server before attendees connect."""
    version = server_version(r)
    numbers = tuple(int(p) for p in re.findall(r"\d+", version)[:3])
    fixed = LUA_FIXED_IN.get(numbers[:2])
    if fixed is None and numbers[:2] > max(LUA_FIXED_IN):
        state = f"Redis {version} is from a line released after them, so it carries them upstream"
    elif fixed and numbers >= fixed:
        state = f"Redis {version} carries them upstream"
    elif fixed:
        state = f"Redis {version} is older than {'.'.join(map(str, fixed))}, the first upstream release of its line with them"
    else:
        state = (f"Redis {version} is from a line that got no upstream fix (it is past its end of life): only a "
                 "distribution's patched package has them (Debian 12: 7.0.15-1~deb12u6 or later)")
    found = [f"every attendee may run EVAL: the server must carry the October 2025 Lua fixes (CVE-2025-49844, "
             f"CVE-2025-46817, CVE-2025-46818, CVE-2025-46819) or a Lua script can take over the server; {state}. "
             "Run the newest patch release of your line, or your distribution's latest security update"]
    if allow_open_users:
        found += [f"anyone can connect as {name!r}: it needs no password" for name in open_users(r)]
    return found


def _status_command(args: argparse.Namespace) -> int:
    print(status(admin_client(args.url), args.prefix).table())
    return 0


def _progress_command(args: argparse.Namespace) -> int:
    r = admin_client(args.url)
    if not sys.stdout.isatty() or args.once:  # a log or a pipe: one board, no screen control codes
        print(board(r, args.prefix).table(idle_seconds=args.idle * 60))
        return 0
    read = board_reader(r, args.prefix)
    try:
        while True:
            try:
                shown = read().table(idle_seconds=args.idle * 60)
            except (redis.RedisError, OSError) as error:  # a server restarting or frozen: say so, try again
                shown = f"could not read the board ({error}); trying again in {args.every:g} s"
            print("\x1b[H\x1b[2J" + shown + f"\n\nrefreshed every {args.every:g} s; Ctrl-C to stop", flush=True)
            time.sleep(args.every)
    except KeyboardInterrupt:
        return 0


def _reset_command(args: argparse.Namespace) -> int:
    removed = reset_attendee(admin_client(args.url), args.attendee, args.prefix)
    print(f"removed {removed:,} keys of {args.attendee}; their user, password and progress records stay")
    return 0


def _teardown_command(args: argparse.Namespace) -> int:
    r = admin_client(args.url)
    show = _cli.progress("unlinked {:,} keys…")
    users, removed = teardown(r, args.prefix, count=args.count, progress=show)
    show.done()
    save_acl(r)
    print(f"removed {len(users)} attendees and {removed:,} keys")
    for name in strangers(r, args.prefix):
        print(f"warning: user {name!r} is named like an attendee but its key patterns were changed, so it was "
              f"left alone; if it is one, remove it yourself: ACL DELUSER {name}", file=sys.stderr)
    return 0


def _at_least_one_second(text: str) -> float:
    """--every: a refresh reads every record, so not more often than once a second."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not seconds >= 1:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} s: refresh at most once a second (1 or more)")
    return seconds


def _public_url(url: str, host: str | None) -> str:
    if not host:
        return url
    parts = urlsplit(url)
    port = parts.port or 6379
    target = host if ":" in host else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=target))


_commands: dict[str, Callable[[argparse.Namespace], int]] = {
    "provision": _provision_command,
    "status": _status_command,
    "progress": _progress_command,
    "reset": _reset_command,
    "teardown": _teardown_command,
}

if __name__ == "__main__":
    sys.exit(main())
