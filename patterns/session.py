"""Sessions: secure ids, data and TTL written together, sliding and absolute expiry, revocation.

``set_session``/``get_session`` are the seed's functions done right: the data and
its TTL in one step (the seed's HSET then EXPIRE can leave a session that never
expires), and values that keep their JSON types (each field is stored as JSON).

``SessionStore`` is what a web app needs: ids with 256 random bits, an idle timeout
that slides on use but never past an absolute lifetime, field-level updates that
never lose a concurrent update to another field, rotation (on login or privilege
change, against session fixation), and "log out everywhere" through a per-user index.

Every deadline is set and checked on the server's clock (``TIME``, inside the scripts), so
app servers whose clocks disagree still agree on when a session ends.

On a cluster a session and its user's index live in different slots, so the calls
that touch both take ordered steps: the session is written first and indexed second,
so any session whose ``create()`` has returned is in the index, and "log out everywhere"
finds it. Each order is chosen to fail safe (see each method).
"""
from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable

from . import keys, validate
from .cache import encode
from .connection import check_kind, decodes_responses
from .scripts import load_script
from .steps import Batch, Command, Steps, operations, run, synchronous

_WRITE = load_script("session_write")
_TOUCH = load_script("session_touch")
_TAKE = load_script("session_take")
_INDEX = load_script("session_index")
_INFO = load_script("session_info")

ID_BYTES = 32  # 256 random bits; OWASP asks for at least 64 bits of entropy
_ID_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_META = ("__user__", "__absolute__", "__left__", "__epoch__")
FORGET_AT = 32  # ids in an index before create() checks which of their sessions have ended
USER_ID_MAX = 512  # characters: a user id names a key and is stored in every session


@dataclass(frozen=True)
class SessionInfo:
    """Whose session it is and how long it has left (seconds)."""

    user_id: str
    idle_left: float  # until it ends if nothing uses it
    absolute_left: float  # until it ends however active it is


def new_session_id() -> str:
    """A session id: 32 bytes from ``secrets`` (the OS's CSPRNG), URL-safe base64, 43 characters."""
    return secrets.token_urlsafe(ID_BYTES)


def is_valid_id(session_id: Any) -> bool:
    """True for a well-formed id: 16-128 URL-safe characters, nothing a key pattern could abuse."""
    return isinstance(session_id, str) and bool(_ID_RE.fullmatch(session_id))  # fullmatch: no "\n" at the end


def _session_key(r: Any, session_id: str) -> str:
    return keys.key(r, "session", session_id)


def _check_user(user_id: Any, name: str = "user_id") -> str:
    """A user id is a non-empty str of valid text (it names the user's index key)."""
    validate.text(user_id, name, max_length=USER_ID_MAX)
    try:
        user_id.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, as json.loads makes from "\ud800"
        raise ValueError(f"{name} must be valid text, got {user_id!r}") from None
    return user_id


def _encode_fields(data: Any) -> list[str]:
    """A dict as [field, JSON value, ...]; field names are strings and never start with '__'."""
    if not isinstance(data, dict):
        raise TypeError(f"session data must be a dict, got {type(data).__name__}")
    flat = []
    for field, value in data.items():
        if not isinstance(field, str) or not field or field.startswith("__"):
            raise ValueError(f"session field {field!r} is not allowed: use non-empty str names not starting with '__'")
        flat += [field, encode(value, key=f"session field {field}")]
    return flat


def _decode(stored: list[str] | dict | None) -> dict | None:
    """Stored fields (HGETALL's dict, or a script's flat list) as the session's data."""
    if not stored:
        return None
    pairs = stored if isinstance(stored, dict) else dict(zip(stored[::2], stored[1::2]))
    return {field: json.loads(value) for field, value in pairs.items() if field not in _META}


def set_session(r: Any, session_id: str, data: dict, ttl: float = 86400) -> None:
    """The seed's setSession, atomic: the data and its TTL are written in one step."""
    run(r, _set_session(r, session_id, data, ttl))


def _set_session(r: Any, session_id: str, data: dict, ttl: float) -> Steps[None]:
    if not is_valid_id(session_id):
        raise ValueError("session_id must be 16-128 characters of A-Z, a-z, 0-9, '_' or '-' (see new_session_id())")
    # (data={} stores no fields, so it ends any session of that id: a session is its data)
    ttl_ms = int(validate.seconds(ttl, "ttl") * 1000)
    yield (_WRITE, [_session_key(r, session_id)], [-1, ttl_ms, 0, "", "", "", *_encode_fields(data)])


def get_session(r: Any, session_id: str) -> dict | None:
    """The seed's getSession: the data with its JSON types, or None (unknown or malformed id)."""
    return run(r, _get_session(r, session_id))


def _get_session(r: Any, session_id: str) -> Steps[dict | None]:
    if not is_valid_id(session_id):
        return None  # never let an attacker-supplied id reach Redis
    return _decode((yield Command(("HGETALL", _session_key(r, session_id)))))


class SessionStoreBase:
    """Sessions for a web app, whichever client: the options, checks and every operation's steps.

    idle_ttl       seconds of inactivity after which a session ends (each get/update slides it)
    absolute_ttl   seconds after creation after which a session ends, however active
    max_per_user   most sessions one user may hold (the oldest are ended first); None: no cap
    clock          None: the server's clock; injectable for tests and notebooks

    Each operation is a generator of its round trips (see patterns.steps): ``SessionStore``
    runs them with plain calls, ``patterns.aio.SessionStore`` awaits them.
    """

    OPERATIONS = ("create", "get", "update", "user_of", "info", "rotate", "destroy", "sessions_of", "destroy_all")

    def __init__(
        self,
        r: Any,
        *,
        idle_ttl: float = 1800,
        absolute_ttl: float = 8 * 3600,
        max_per_user: int | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._check_client(r)
        if not decodes_responses(r):
            raise ValueError("SessionStore needs a client that answers with str (decode_responses=True), as "
                             "patterns.connect() makes: with bytes a rotation could not read what it just took")
        self.r = r
        self.idle_ttl = validate.seconds(idle_ttl, "idle_ttl")
        self.absolute_ttl = validate.seconds(absolute_ttl, "absolute_ttl")
        if self.idle_ttl > self.absolute_ttl:
            raise ValueError(f"idle_ttl ({idle_ttl} s) cannot be longer than absolute_ttl ({absolute_ttl} s)")
        if max_per_user is not None:
            validate.whole(max_per_user, "max_per_user")
        self.max_per_user = max_per_user
        if clock is not None:
            validate.function(clock, "clock", "nothing (it returns seconds)")
        self.clock = clock

    def _check_client(self, r: Any) -> None:
        check_kind(r, asyncio=False, twin="patterns.aio.SessionStore")

    def _now_ms(self) -> float:
        """The injected clock in ms, or -1: the scripts then read the server's clock."""
        return -1 if self.clock is None else self.clock() * 1000

    def _index_key(self, user_id: str) -> str:
        return keys.key(self.r, "session:user", user_id)

    def _index(self, user_id: str, op: str, *, now_ms: float | None = None, add: str = "", rotated: str = "",
               epoch: str = "", ids: list[str] | None = None) -> Steps[list]:
        """One step on ``user_id``'s index (session_index.lua): [1 or 0 (refused), ...]."""
        keys_ = [self._index_key(user_id), keys.key(self.r, "session:user", user_id, "epoch")]
        return (yield (_INDEX, keys_, [self._now_ms() if now_ms is None else now_ms, op, add, rotated,
                                       int(self.absolute_ttl * 1000), self.max_per_user or 0, epoch, *(ids or [])]))

    def _epoch(self, user_id: str, now_ms: float) -> Steps[str]:
        """How many times ``user_id`` logged out everywhere: a new session is made in this epoch."""
        return str((yield from self._index(user_id, "epoch", now_ms=now_ms))[1])

    def _write(self, session_id: str, user_id: str, data_fields: list[str], epoch: str, now_ms: float,
               lifetime_ms: float | None = None, measured_since: float | None = None,
               deadline_cap: str = "") -> Steps[bool]:
        """Write a store session with ``lifetime_ms`` left (default: the whole absolute lifetime).

        ``measured_since``: when (time.monotonic) the lifetime left was asked for; the time
        since, up to this very send, is taken off it. ``deadline_cap``: the predecessor's
        deadline (ms, as text), which the new one never passes (the write's own trip to the
        server cannot be measured here). False when no lifetime is left: nothing is written.
        """
        if lifetime_ms is not None and measured_since is not None:
            lifetime_ms -= (time.monotonic() - measured_since) * 1000
        lifetime = self.absolute_ttl * 1000 if lifetime_ms is None else (lifetime_ms if lifetime_ms > 0 else -1)
        written = yield (_WRITE, [_session_key(self.r, session_id)],
                         [now_ms, int(self.idle_ttl * 1000), int(lifetime), epoch, user_id, deadline_cap,
                          *data_fields])
        return written is not None

    def _add(self, user_id: str, session_id: str, now_ms: float) -> Steps[None]:
        """Index a new login of ``user_id``; end the sessions the cap pushes out (oldest first).

        Every session the cap ends is deleted before its id leaves the index, so a crash in
        between leaves an id without a session, never a session no index can find. Ones that
        already ended (idle) leave the index first and do not count.
        """
        if self.max_per_user is not None:
            yield from self._forget_ended(user_id)
        found = yield from self._index(user_id, "add", now_ms=now_ms, add=session_id)
        held, beyond = found[1], found[2:]
        if beyond:
            yield from self._delete_sessions(beyond)
            yield from self._index(user_id, "remove", now_ms=now_ms, ids=beyond)
        elif held > FORGET_AT and self.max_per_user is None:
            yield from self._forget_ended(user_id)  # now and then: ids of sessions that ended by themselves leave

    def _forget_ended(self, user_id: str) -> Steps[list[str]]:
        """Drop from the index the ids whose session has ended; returns the live ones, oldest first."""
        session_ids = (yield from self._index(user_id, "list"))[1:]
        if not session_ids:
            return []
        alive = yield Batch([("EXISTS", _session_key(self.r, sid)) for sid in session_ids])
        ended = [sid for sid, live in zip(session_ids, alive) if not live]
        if ended:
            yield from self._index(user_id, "remove", ids=ended)
        return [sid for sid, live in zip(session_ids, alive) if live]

    def _delete_sessions(self, session_ids: list[str]) -> Steps[int]:
        # One DEL per key (a cluster spreads sessions over nodes); one pipeline, so one round trip per node.
        return sum((yield Batch([("DEL", _session_key(self.r, sid)) for sid in session_ids])))

    def _touch(self, session_id: str, fields: dict) -> Steps[dict | None]:
        if not is_valid_id(session_id):
            return None
        now = -1 if self.clock is None else self._now_ms()
        flat = yield (_TOUCH, [_session_key(self.r, session_id)],
                      [now, int(self.idle_ttl * 1000), int(bool(fields)), *_encode_fields(fields)])
        return _decode(flat)

    # -- the operations: each one the public method of both stores ------------------------
    def _create(self, user_id: str, data: dict | None = None) -> Steps[str]:
        """Start a session for ``user_id``; returns its new id.

        Steps, in this order: the user's epoch (how often they logged out everywhere) is read,
        the session is written with it (its deadline set by the server's clock), then its id
        goes into the user's index. So every session whose create() has returned is in the
        index, and a "log out everywhere" that starts afterwards ends it. A crash before the
        last step leaves a session in no index, but its id was never handed to anyone, and it
        expires by itself. With a cap, the oldest sessions beyond it end (ended ones do not count).
        """
        _check_user(user_id)
        fields = _encode_fields({} if data is None else data)
        now_ms = self._now_ms()
        session_id = new_session_id()
        epoch = yield from self._epoch(user_id, now_ms)
        yield from self._write(session_id, user_id, fields, epoch, now_ms)
        yield from self._add(user_id, session_id, now_ms)
        return session_id

    def _get(self, session_id: str) -> Steps[dict | None]:
        """The session's data (sliding its idle timeout), or None: unknown, malformed, idle or too old."""
        return (yield from self._touch(session_id, {}))

    def _update(self, session_id: str, **fields: Any) -> Steps[dict | None]:
        """Change only the named fields (a concurrent update of other fields is kept); the new data or None."""
        return (yield from self._touch(session_id, fields))

    def _user_of(self, session_id: str) -> Steps[str | None]:
        """Whose session this is (without sliding it), or None."""
        found = yield from self._info(session_id)
        return found.user_id if found else None

    def _info(self, session_id: str) -> Steps[SessionInfo | None]:
        """Owner and time left, without sliding the session (one round trip), or None."""
        if not is_valid_id(session_id):
            return None
        found = yield (_INFO, [_session_key(self.r, session_id)], [self._now_ms()])
        if not found:
            return None
        ttl_ms, user_id, left_ms = found
        return SessionInfo(user_id, int(ttl_ms) / 1000, float(left_ms) / 1000)

    def _rotate(self, session_id: str, user_id: str | None = None, *, data: dict | None = None) -> Steps[str | None]:
        """Give the session a new id and end the old one; None if unknown, over, or logged out everywhere.

        Rotate on login (pass the ``user_id`` who just logged in: the session moves to
        their index) and on any privilege change, so an id an attacker planted or saw
        before is worthless afterwards (session fixation).

        The session's fields come along, unless ``data`` replaces them: on a login onto
        another user (one browser, a second person) pass what the new user may keep, so
        nothing of the first user's (a role, a CSRF token) passes to the second. A login
        onto another user begins a new line of sessions, with the whole absolute lifetime;
        a rotation of the same user's session keeps its time left, measured as a duration
        (on a cluster the two ids may live on nodes whose clocks differ) and shortened by
        the rotation's own round trips, and never ends after the old deadline as the new
        node's clock reads it, so rotating never extends a session's life. The price, on a
        cluster whose clocks differ: a rotation onto a node whose clock runs ahead ends the
        session sooner by that difference (milliseconds where NTP keeps the clocks).

        A session written by ``set_session()`` has no owner: rotating it needs the
        ``user_id`` it now belongs to (the login); without one, ValueError is raised and the
        session is left as it was.

        Every argument is checked, and the clock read, before the first write. Steps: take
        the old session (read and delete in one step), write the new one, hand it the old
        one's place in the index. A crash after the first step logs the user out; it never
        leaves the old id valid. The hand-over is refused, and the new session deleted, when
        the user logged out everywhere since the old session was made (its epoch is old).
        """
        if user_id is not None:
            _check_user(user_id)
        if data is not None:
            new_fields = _encode_fields(data)
        if not is_valid_id(session_id):
            return None
        now_ms = self._now_ms()  # read once: an injected clock that fails, fails before the first write
        sent = time.monotonic()
        taken = yield (_TAKE, [_session_key(self.r, session_id)], [int(user_id is None), now_ms])
        if taken == -1:
            raise ValueError("this session has no owner (it was written by set_session()): pass user_id= "
                             "to rotate it into a session of that user, as a login does")
        if not taken:
            return None
        pairs = dict(zip(taken[::2], taken[1::2]))
        owner, left, epoch = pairs.pop("__user__", None), pairs.pop("__left__", None), pairs.pop("__epoch__", "")
        deadline = pairs.pop("__absolute__", "")
        new_owner = owner if user_id is None else user_id
        fields = new_fields if data is not None else [x for pair in pairs.items() for x in pair]
        new_id = new_session_id()
        if owner != new_owner:  # a login: it leaves its old owner, and begins anew for the new one
            if owner is not None and not (yield from self._index(owner, "release", now_ms=now_ms,
                                                                 rotated=session_id, epoch=epoch))[0]:
                return None  # the old owner logged out everywhere: this session may not log in anyone
            new_epoch = yield from self._epoch(new_owner, now_ms)
            yield from self._write(new_id, new_owner, fields, new_epoch, now_ms)
            yield from self._add(new_owner, new_id, now_ms)
            return new_id
        # Never a millisecond more than it had: the time since the take was sent is taken off.
        if not (yield from self._write(new_id, new_owner, fields, epoch, now_ms, lifetime_ms=float(left),
                                       measured_since=sent, deadline_cap=deadline)):
            yield from self._index(owner, "remove", now_ms=now_ms, ids=[session_id])  # its lifetime was over
            return None
        if not (yield from self._index(owner, "rotate", now_ms=now_ms, add=new_id, rotated=session_id,
                                       epoch=epoch))[0]:
            yield from self._delete_sessions([new_id])  # logged out everywhere meanwhile: no successor
            return None
        return new_id

    def _destroy(self, session_id: str) -> Steps[bool]:
        """End one session (log out); True if it existed."""
        if not is_valid_id(session_id):
            return False
        taken = yield (_TAKE, [_session_key(self.r, session_id)], [0, self._now_ms()])
        if not taken:
            return False
        user_id = dict(zip(taken[::2], taken[1::2])).get("__user__")
        if user_id:
            yield from self._index(user_id, "remove", ids=[session_id])
        return True

    def _sessions_of(self, user_id: str) -> Steps[list[str]]:
        """The ids of the user's live sessions, oldest first (ended ones leave the index)."""
        return (yield from self._forget_ended(_check_user(user_id)))

    def _destroy_all(self, user_id: str) -> Steps[int]:
        """Log out everywhere: end every session of ``user_id``; returns how many were live.

        First the user's epoch is raised (in one step with reading the ids the index holds),
        then those sessions are deleted, then their ids leave the index. Every session whose
        create() or rotate() returned before this call started is ended: it was written
        before it was indexed. A rotation racing with this call is either handed over before
        the epoch moved (its new id is among those read, and ended) or refused: a stolen
        session cannot escape by rotating meanwhile, whatever the servers' clocks say. A
        login racing with it keeps its entry. A crash part way leaves the ids indexed:
        calling it again finishes the job. The index must not be evicted: use a
        ``noeviction`` policy for a session store (an evicted index forgets sessions).
        """
        session_ids = (yield from self._index(_check_user(user_id), "revoke"))[1:]
        if not session_ids:
            return 0
        ended = yield from self._delete_sessions(session_ids)
        yield from self._index(user_id, "remove", ids=session_ids)
        return ended


@operations(synchronous)
class SessionStore(SessionStoreBase):
    """Sessions for a web app (see SessionStoreBase for the options): each operation's steps, run here."""
