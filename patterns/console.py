"""A console for typed Redis commands that stays inside the learner's namespace (notebook 00's explorer).

``Console(r).run("SET greeting hello EX 60")`` runs what a learner types, as
``redis-cli`` would, and says what it did: the reply, and which keys it added,
changed or removed. Every key the command names is put under
``<namespace>:<prefix>:`` (``explore:`` by default), so a ``DEL`` typed here cannot
reach a chapter's keys, even on a server without a namespace. It runs only the
commands whose key arguments it knows (COMMANDS), and refuses the ones that reach
past the learner's keys (REFUSED: FLUSHALL, KEYS, CONFIG, SHUTDOWN, scripts ...) with
the reason, sending nothing. The keys are listed with SCAN, a few at a time, never
KEYS; a workshop account, which may not SCAN, sees the keys its commands named.
A key is measured (STRLEN, LLEN ...) and read whole only when it is small, so a
redraw never makes the server walk a big key; a typed command over COMMAND_CHARS
is refused unread.
"""
from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import redis
from redis.exceptions import RedisClusterException

from . import keys, validate

# What each command it runs does with its arguments: which are key names, and whether it writes.
# "first": the first argument is the key; "all": every argument is; "pairs": key value key value ...;
# "two": the first two are (RENAME source destination); "none": no key at all.
_READS, _WRITES = False, True
COMMANDS: dict[str, tuple[str, bool]] = {
    # strings (a counter is a string too)
    **{name: ("first", _READS) for name in ["GET", "GETRANGE", "STRLEN"]},
    **{name: ("first", _WRITES) for name in ["SET", "SETNX", "SETEX", "PSETEX", "GETSET", "GETDEL", "GETEX",
                                              "APPEND", "INCR", "INCRBY", "INCRBYFLOAT", "DECR",
                                              "DECRBY"]},
    "MGET": ("all", _READS), "MSET": ("pairs", _WRITES), "MSETNX": ("pairs", _WRITES),
    # any key: existence, type, expiry
    **{name: ("all", _READS) for name in ["EXISTS", "TOUCH"]},
    **{name: ("all", _WRITES) for name in ["DEL", "UNLINK"]},
    **{name: ("first", _READS) for name in ["TYPE", "TTL", "PTTL"]},
    **{name: ("first", _WRITES) for name in ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT", "PERSIST"]},
    "RENAME": ("two", _WRITES), "RENAMENX": ("two", _WRITES),
    # hashes
    **{name: ("first", _READS) for name in ["HGET", "HMGET", "HGETALL", "HEXISTS", "HLEN", "HKEYS", "HVALS",
                                             "HSTRLEN"]},
    **{name: ("first", _WRITES) for name in ["HSET", "HSETNX", "HMSET", "HDEL", "HINCRBY", "HINCRBYFLOAT"]},
    # sorted sets
    **{name: ("first", _READS) for name in ["ZSCORE", "ZMSCORE", "ZRANK", "ZREVRANK", "ZRANGE", "ZREVRANGE",
                                             "ZRANGEBYSCORE", "ZREVRANGEBYSCORE", "ZCARD", "ZCOUNT"]},
    **{name: ("first", _WRITES) for name in ["ZADD", "ZINCRBY", "ZREM", "ZPOPMIN", "ZPOPMAX",
                                              "ZREMRANGEBYSCORE", "ZREMRANGEBYRANK"]},
    # streams
    **{name: ("first", _READS) for name in ["XLEN", "XRANGE", "XREVRANGE"]},
    **{name: ("first", _WRITES) for name in ["XADD", "XDEL", "XTRIM"]},
    # lists and sets
    **{name: ("first", _READS) for name in ["LRANGE", "LLEN", "LINDEX", "SMEMBERS", "SISMEMBER", "SCARD"]},
    **{name: ("first", _WRITES) for name in ["LPUSH", "RPUSH", "LPOP", "RPOP", "LREM", "LTRIM", "SADD", "SREM"]},
    # no key at all, and no arguments: redis-py answers PING's message form with False (its reply is read as
    # "was it PONG?"), and a cluster client cannot route ECHO, which has no key
    **{name: ("none", _READS) for name in ["PING", "TIME"]},
}

_EVERYONES = "everyone's, not only yours"
_SCRIPT = "runs a script, and a script can touch any key, not only the ones it names"
_OTHER_DATABASE = "reaches into another database, outside your namespace"
_DISK = "writes the whole dataset to disk, which is the operator's call"
# Commands that reach past the learner's own keys, and why each is refused.
REFUSED: dict[str, str] = {
    "FLUSHALL": f"deletes every key in every database, {_EVERYONES}",
    "FLUSHDB": f"deletes every key in the database, {_EVERYONES}",
    "KEYS": "walks every key of the server in one go and blocks the server until it is done "
            "(the explorer lists your keys with SCAN, a few at a time)",
    "SCAN": "sees every user's keys, not only yours (the explorer scans only yours)",
    "RANDOMKEY": "sees every user's keys, not only yours",
    "CONFIG": "reads or changes the server's settings, which are everyone's",
    "SHUTDOWN": "stops the server, for everyone",
    "DEBUG": "can freeze or crash the server, for everyone",
    "MONITOR": "shows every command of every client",
    "INFO": "shows the whole server: every client and every database's key count",
    "CLIENT": "lists, pauses or kills other clients' connections",
    "ACL": "reads or changes the server's users and passwords",
    "CLUSTER": "reads or changes the cluster's layout, which is everyone's",
    "MODULE": "loads code into the server",
    "SAVE": _DISK, "BGSAVE": _DISK, "BGREWRITEAOF": _DISK,
    "SELECT": _OTHER_DATABASE, "SWAPDB": _OTHER_DATABASE, "MOVE": _OTHER_DATABASE, "COPY": _OTHER_DATABASE,
    "MIGRATE": "moves keys to another server",
    "REPLICAOF": "makes the server a replica of another one, dropping its data",
    "SLAVEOF": "makes the server a replica of another one, dropping its data",
    "FAILOVER": "hands the server's role to a replica",
    **{name: _SCRIPT for name in ["EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO", "SCRIPT",
                                  "FUNCTION"]},
    "SETRANGE": "can make a string of up to 512 MB from one short command (an offset far past its end), "
                "on a server others share",
    "SORT": "has BY and GET options that read any key, not only the one it names",
    "SORT_RO": "has BY and GET options that read any key, not only the one it names",
}

UNKNOWN = ("is not a command this explorer runs (it runs the commands of strings, hashes, sorted sets, "
           "streams, lists and sets, and DEL, EXISTS, TYPE, EXPIRE, TTL, PERSIST and RENAME)")
SCAN_REFUSED = ("this Redis user may not run SCAN (a workshop account: SCAN would show every attendee's key "
                "names), so the table lists the keys named in this explorer")
REPLY_CHARS = 300
# A typed command longer than this is refused unread: shlex reads in time that grows with the square of the
# length (a pasted 1 MB value held the kernel for about half a minute, on every key press of the preview).
COMMAND_CHARS = 4096
# A key is read whole (to show a string, or to tell a changed value from an unchanged one) only up to this
# size; a bigger one is measured (STRLEN, LLEN ...), never walked: a redraw must not make the server read
# megabytes, on every command of every attendee.
WHOLE_UP_TO = {"string": 10_000}  # bytes
WHOLE_ITEMS_UP_TO = 1000  # fields, members, entries or items
TTL_SLACK_MS = 1000  # a deadline that moved by more than this was changed, not just counted down
_PREFIX_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class Outcome:
    """What one command did: what was sent (None: nothing), its reply or error, or why it was refused."""

    command: str
    sent: tuple[str, ...] | None = None
    reply: Any = None
    error: str | None = None
    refused: str | None = None
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict, repr=False)  # added key -> "(type, TTL)"
    after: dict[str, "State"] | None = field(default=None, repr=False)  # the keys as they are after it

    def lines(self) -> list[str]:
        lines = [f"> {shown_text(self.command.strip())}"]
        if self.refused:
            return lines + [f"refused: {self.refused}; nothing was sent"]
        lines.append(f"error: {self.error}" if self.error is not None else f"reply: {shown(self.reply)}")
        lines += [f"added {name} {self.details.get(name, '')}".rstrip() for name in self.added]
        lines += [f"changed {change}" for change in self.changed]
        lines += [f"removed {name}" for name in self.removed]
        if not (self.added or self.changed or self.removed):
            lines.append("no key changed")
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


@dataclass(frozen=True)
class State:
    """One key as read: its type, TTL (ms; None: none), deadline on this process's monotonic clock, contents.

    The deadline is known only to within ``window_ms``: the time between sending the read and having its
    answer (the server counted the TTL somewhere in there); ``deadline_ms`` is its latest possible value.
    """

    type: str
    ttl_ms: int | None
    deadline_ms: float | None
    contents: Any  # None: not read (a key the command did not name, or over the size read whole)
    window_ms: float = 0.0
    length: int = 0  # bytes of a string; fields, members, entries or items of the others

    @property
    def ttl(self) -> str:
        return ttl_text(self.ttl_ms)

    @property
    def size(self) -> str:
        return _size(self.type, self.contents, self.length)


class Console:
    """Runs typed commands on ``r`` under ``<namespace>:<prefix>:`` and reads the keys there."""

    def __init__(self, r: Any, prefix: str = "explore", limit: int = 50) -> None:
        if not isinstance(prefix, str) or not _PREFIX_RE.fullmatch(prefix):
            raise ValueError(f"prefix {prefix!r} is not usable: the console needs a corner of the namespace of "
                             "its own, 1-64 letters, digits, '_', '.' or '-' (for example 'explore')")
        self.r = r
        self.root = keys.plain(r, prefix) + ":"
        self.limit = validate.whole(limit, "limit (keys listed)", maximum=1000)
        self.note = ""  # why the listing is partial, if it is
        self._named: set[str] = set()  # every key a command named: the listing of a user that may not SCAN
        self._may_scan = True

    def prepare(self, text: str) -> tuple[tuple[str, ...] | None, str | None]:
        """The arguments to send for ``text`` (its keys under the prefix), or why not: (None, reason).

        Nothing is sent: this is what the explorer shows as you type.
        """
        if len(text) > COMMAND_CHARS:
            return None, (f"the command is too long to read here ({len(text):,} characters; the explorer takes "
                          f"up to {COMMAND_CHARS:,}): write a value that big from code")
        try:
            words = shlex.split(text)
        except ValueError as error:
            return None, f"could not read the command: {error}"
        if not words:
            return None, "type a command, for example SET greeting hello EX 60"
        name, args = words[0].upper(), words[1:]
        if name in REFUSED:
            return None, f"{name} {REFUSED[name]}"
        if name not in COMMANDS:
            return None, f"{name} {UNKNOWN}"
        if COMMANDS[name][0] == "none" and args:
            return None, f"{name} takes no arguments here (type it alone)"
        positions = _key_positions(COMMANDS[name][0], len(args))
        return (name, *(self.root + arg if i in positions else arg for i, arg in enumerate(args))), None

    @staticmethod
    def writes(sent: tuple[str, ...]) -> bool:
        return COMMANDS[sent[0]][1]

    def run(self, text: str) -> Outcome:
        """Run ``text`` if it may run; the outcome says what was sent, the reply, and what changed."""
        sent, refused = self.prepare(text)
        outcome = Outcome(text, sent=sent, refused=refused)
        if sent is None:
            return outcome
        positions = _key_positions(COMMANDS[sent[0]][0], len(sent) - 1)
        named = {sent[1 + i] for i in positions}
        self._named.update(named)
        before = self.read(keep=named, whole=named)  # the command may be about to make them: keep them listed
        try:
            outcome.reply = self.r.execute_command(*sent)
        except (redis.RedisError, RedisClusterException) as error:
            outcome.error = str(error)
        outcome.after = self.read(whole=named)
        written = {name[len(self.root):] for name in named} if self.writes(sent) else set()
        _compare(outcome, before, outcome.after, written)
        return outcome

    def names(self) -> list[str]:
        """The full names of the keys under the prefix (at most ``limit``): SCAN, or the named ones."""
        self.note = ""
        if self._may_scan:
            found: list[str] = []
            try:
                for name in self.r.scan_iter(match=self.root + "*", count=100):
                    if name not in found:  # SCAN may return a key twice
                        found.append(name)
                    if len(found) > self.limit:
                        break
            except redis.exceptions.NoPermissionError:
                self._may_scan = False
            else:
                if len(found) > self.limit:
                    self.note = f"showing the first {self.limit} keys SCAN found; there are more"
                return sorted(found)[: self.limit]
        self.note = SCAN_REFUSED
        if len(self._named) > self.limit:
            self.note += f"; showing the first {self.limit} of them"
        return sorted(self._named)[: self.limit]


    def _per_key(self, names: list[str], kinds: dict[str, str], queue: Callable[[Any, str, str], Any]) -> dict:
        """One command per key, queued by ``queue(pipe, name, kind)``, all in one round trip: {name: reply}.

        An error reply (the key changed type meanwhile) stays a reply, for the caller to show.
        """
        if not names:
            return {}
        pipe = self.r.pipeline(transaction=False)
        for name in names:
            queue(pipe, name, kinds[name])
        return dict(zip(names, pipe.execute(raise_on_error=False)))

    def read(self, keep: set[str] = frozenset(), whole: set[str] = frozenset()) -> dict[str, State]:
        """Every key under the prefix, by its name without the prefix: up to three pipelines after the listing.

        One reads each key's type and TTL, one its size, and one reads whole the small strings (to show
        them) and the small keys in ``whole`` (a command's keys, to tell whether it changed them).

        Without SCAN, a named key found gone is dropped from the listing (unless in ``keep``), so names of
        keys that do not exist never crowd out the ones that do.
        """
        names = self.names()
        if not names:
            return {}
        pipe = self.r.pipeline(transaction=False)
        for name in names:
            pipe.type(name)
            pipe.pttl(name)
        sent_ms = time.monotonic() * 1000
        answers = pipe.execute()
        now_ms = time.monotonic() * 1000
        kinds, ttls = dict(zip(names, answers[0::2])), dict(zip(names, answers[1::2]))
        present = [name for name in names if kinds[name] != "none"]  # expired or deleted since it was listed
        if not self._may_scan:
            self._named -= {name for name in names if kinds[name] == "none"} - keep
        lengths = self._per_key(present, kinds, _queue_length)
        small = [name for name in present if (kinds[name] == "string" or name in whole)
                 and isinstance(lengths[name], int)
                 and lengths[name] <= WHOLE_UP_TO.get(kinds[name], WHOLE_ITEMS_UP_TO)]
        contents = self._per_key(small, kinds, _queue_contents)
        states = {}
        for name in present:
            ttl = ttls[name] if isinstance(ttls[name], int) and ttls[name] >= 0 else None
            length = lengths[name] if isinstance(lengths[name], int) else 0
            states[name[len(self.root):]] = State(kinds[name], ttl, None if ttl is None else now_ms + ttl,
                                                  _comparable(contents.get(name)), now_ms - sent_ms, length)
        return states


def _key_positions(spec: str, count: int) -> range:
    """Which of ``count`` arguments are key names, for a command of key spec ``spec``."""
    return {"first": range(min(1, count)), "all": range(count), "pairs": range(0, count, 2),
            "two": range(min(2, count)), "none": range(0)}[spec]


def _compare(outcome: Outcome, before: dict[str, State], after: dict[str, State], written: set[str]) -> None:
    """Fill in what changed; ``written``: the keys a writing command named (a big one is not compared)."""
    outcome.added = sorted(set(after) - set(before))
    outcome.removed = sorted(set(before) - set(after))
    for name in outcome.added:
        outcome.details[name] = f"({after[name].type}, {expiry_text(after[name].ttl_ms)})"
    for name in sorted(set(before) & set(after)):
        old, new = before[name], after[name]
        what = []
        if old.type != new.type:
            what.append(f"type {old.type} → {new.type}")
        elif old.contents is not None and new.contents is not None:
            if old.contents != new.contents:
                what.append("value")
        elif old.length != new.length:
            what.append("value")
        elif name in written:
            what.append("value, if it changed: too big to compare")
        moved = (old.deadline_ms is None) != (new.deadline_ms is None) or (
            old.deadline_ms is not None and _apart(old, new) > TTL_SLACK_MS)
        if moved:
            what.append(f"TTL {old.ttl} → {new.ttl}")
        if what:
            outcome.changed.append(f"{name} ({', '.join(what)})")


def _apart(old: State, new: State) -> float:
    """How far apart two deadlines are at the least, each known only to within its read's window (ms)."""
    return max(new.deadline_ms - new.window_ms - old.deadline_ms, old.deadline_ms - old.window_ms - new.deadline_ms, 0)


def _queue_length(pipe: Any, name: str, kind: str) -> None:
    """Queue the command that measures ``name`` without reading it: bytes of a string, items of the others."""
    {"string": pipe.strlen, "hash": pipe.hlen, "zset": pipe.zcard, "stream": pipe.xlen, "list": pipe.llen,
     "set": pipe.scard}.get(kind, pipe.exists)(name)


def _queue_contents(pipe: Any, name: str, kind: str) -> None:
    """Queue the read that shows what ``name`` holds (to tell a changed value from an unchanged one)."""
    if kind == "string":
        pipe.get(name)
    elif kind == "hash":
        pipe.hgetall(name)
    elif kind == "zset":
        pipe.zrange(name, 0, -1, withscores=True)
    elif kind == "stream":
        pipe.xrange(name)
    elif kind == "list":
        pipe.lrange(name, 0, -1)
    elif kind == "set":
        pipe.smembers(name)
    else:  # a type this console cannot create: count it, don't read it
        pipe.exists(name)


def _comparable(contents: Any) -> Any:
    if isinstance(contents, (set, frozenset)):
        return sorted(contents)
    return contents


def _size(kind: str, contents: Any, length: int) -> str:
    if kind == "string":
        return f"{length} bytes" if contents is None else shown(contents, 40)
    n = length
    unit = {"hash": ("field", "fields"), "zset": ("member", "members"), "set": ("member", "members"),
            "stream": ("entry", "entries"), "list": ("item", "items")}.get(kind, ("element", "elements"))
    return f"{n} {unit[n != 1]}"


def ttl_text(ttl_ms: int | None) -> str:
    """A TTL as the table shows it: "none", or "≈60 s" (it counts down, so it is never exact)."""
    if ttl_ms is None:
        return "none"
    seconds = ttl_ms / 1000
    return f"≈{round(seconds)} s" if seconds >= 10 else f"≈{seconds:.1f} s"


def expiry_text(ttl_ms: int | None) -> str:
    return "no TTL" if ttl_ms is None else f"expires in {ttl_text(ttl_ms)}"


def shown(reply: Any, limit: int = REPLY_CHARS) -> str:
    """A reply as redis-py returns it, cut to ``limit`` characters."""
    text = repr(reply)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown_text(text: str, limit: int = REPLY_CHARS) -> str:
    """Typed text as echoed back, cut to ``limit`` characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def joined(args: tuple[str, ...]) -> str:
    """The command as one would type it: an argument with spaces or quotes in it is quoted."""
    return " ".join(shlex.quote(a) if not a or re.search(r"[\s'\"\\]", a) else a for a in args)
