"""Sessions: secure ids, data and TTL written together, sliding and absolute expiry, revocation.

``set_session``/``get_session`` are the seed's functions done right: the data and
its TTL in one step (the seed's HSET then EXPIRE can leave a session that never
expires), and values that keep their JSON types (each field is stored as JSON).

``SessionStore`` is what a web app needs: ids with 256 random bits, an idle timeout
that slides on use but never past an absolute lifetime, field-level updates that
never lose a concurrent update to another field, rotation (on login or privilege
change, against session fixation), and "log out everywhere" through a per-user index.

On a cluster a session and its user's index live in different slots, so the calls
that touch both take ordered steps, each order chosen to fail safe (see each method).
"""
from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable

from . import keys
from .cache import encode
from .scripts import load_script

_WRITE = load_script("session_write")
_TOUCH = load_script("session_touch")
_TAKE = load_script("session_take")
_INDEX = load_script("session_index")

ID_BYTES = 32  # 256 random bits; OWASP asks for at least 64 bits of entropy
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_META = ("__user__", "__absolute__")


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
    return isinstance(session_id, str) and bool(_ID_RE.match(session_id))


def _session_key(r: Any, session_id: str) -> str:
    return keys.key(r, "session", session_id)


def _check_ttl(ttl: Any, name: str) -> float:
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {ttl!r}")
    return float(ttl)


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
    if not is_valid_id(session_id):
        raise ValueError("session_id must be 16-128 characters of A-Z, a-z, 0-9, '_' or '-' (see new_session_id())")
    _WRITE(r, [_session_key(r, session_id)], [int(_check_ttl(ttl, "ttl") * 1000), *_encode_fields(data)])


def get_session(r: Any, session_id: str) -> dict | None:
    """The seed's getSession: the data with its JSON types, or None (unknown or malformed id)."""
    if not is_valid_id(session_id):
        return None  # never let an attacker-supplied id reach Redis
    return _decode(r.hgetall(_session_key(r, session_id)))


class SessionStore:
    """Sessions for a web app.

    idle_ttl       seconds of inactivity after which a session ends (each get/update slides it)
    absolute_ttl   seconds after creation after which a session ends, however active
    max_per_user   most sessions one user may hold (the oldest are ended first); None: no cap
    clock          None: the server's clock; injectable for tests and notebooks
    """

    def __init__(
        self,
        r: Any,
        *,
        idle_ttl: float = 1800,
        absolute_ttl: float = 8 * 3600,
        max_per_user: int | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.r = r
        self.idle_ttl = _check_ttl(idle_ttl, "idle_ttl")
        self.absolute_ttl = _check_ttl(absolute_ttl, "absolute_ttl")
        if self.idle_ttl > self.absolute_ttl:
            raise ValueError(f"idle_ttl ({idle_ttl} s) cannot be longer than absolute_ttl ({absolute_ttl} s)")
        if max_per_user is not None and (not isinstance(max_per_user, int) or max_per_user < 1):
            raise ValueError(f"max_per_user must be a whole number of at least 1, or None, got {max_per_user!r}")
        self.max_per_user = max_per_user
        self.clock = clock

    def _now_ms(self) -> float:
        return (self.clock() if self.clock else time.time()) * 1000

    def _index_key(self, user_id: str) -> str:
        return keys.key(self.r, "session:user", user_id)

    def _index(self, user_id: str, add: str = "", deadline_ms: float = 0, remove: str = "") -> list[str]:
        now = -1 if self.clock is None else self._now_ms()
        return _INDEX(self.r, [self._index_key(user_id)], [now, add, deadline_ms, remove, self.max_per_user or 0])

    def _write(self, session_id: str, user_id: str, deadline_ms: float, data_fields: list[str]) -> None:
        ttl_ms = max(1, min(self.idle_ttl * 1000, deadline_ms - self._now_ms()))
        fields = ["__user__", user_id, "__absolute__", repr(deadline_ms), *data_fields]
        _WRITE(self.r, [_session_key(self.r, session_id)], [int(ttl_ms), *fields])

    def create(self, user_id: str, data: dict | None = None) -> str:
        """Start a session for ``user_id``; returns its new id.

        Steps, in this order: the id goes into the user's index, then the session is
        written. A crash in between leaves an index entry without a session (harmless),
        never a session that "log out everywhere" cannot find.
        """
        keys.key(self.r, "session:user", user_id)  # a non-empty str, like every key name
        fields = _encode_fields(data or {})
        session_id = new_session_id()
        deadline = self._now_ms() + self.absolute_ttl * 1000
        evicted = self._index(user_id, add=session_id, deadline_ms=deadline)
        self._write(session_id, user_id, deadline, fields)
        if evicted:  # over the cap: the oldest sessions end
            self._delete_sessions(evicted)
        return session_id

    def _delete_sessions(self, session_ids: list[str]) -> int:
        # One DEL per key (a cluster spreads sessions over nodes); one pipeline, so one round trip per node.
        pipe = self.r.pipeline(transaction=False)
        for sid in session_ids:
            pipe.delete(_session_key(self.r, sid))
        return sum(pipe.execute())

    def get(self, session_id: str) -> dict | None:
        """The session's data (sliding its idle timeout), or None: unknown, malformed, idle or too old."""
        return self._touch(session_id, {})

    def update(self, session_id: str, **fields: Any) -> dict | None:
        """Change only the named fields (a concurrent update of other fields is kept); the new data or None."""
        return self._touch(session_id, fields) if fields else self.get(session_id)

    def _touch(self, session_id: str, fields: dict) -> dict | None:
        if not is_valid_id(session_id):
            return None
        now = -1 if self.clock is None else self._now_ms()
        flat = _TOUCH(self.r, [_session_key(self.r, session_id)],
                      [now, int(self.idle_ttl * 1000), int(bool(fields)), *_encode_fields(fields)])
        return _decode(flat)

    def user_of(self, session_id: str) -> str | None:
        """Whose session this is (without sliding it), or None."""
        found = self.info(session_id)
        return found.user_id if found else None

    def info(self, session_id: str) -> SessionInfo | None:
        """Owner and time left, without sliding the session (one round trip), or None."""
        if not is_valid_id(session_id):
            return None
        key = _session_key(self.r, session_id)
        pipe = self.r.pipeline(transaction=True)
        pipe.pttl(key)
        pipe.hmget(key, "__user__", "__absolute__")
        ttl_ms, (user_id, deadline) = pipe.execute()
        if user_id is None or ttl_ms < 0:
            return None
        return SessionInfo(user_id, ttl_ms / 1000, max(0.0, (float(deadline) - self._now_ms()) / 1000))

    def rotate(self, session_id: str, user_id: str | None = None) -> str | None:
        """Give the session a new id and end the old one; None if unknown.

        Rotate on login (pass the ``user_id`` who just logged in: the session moves to
        their index) and on any privilege change, so an id an attacker planted or saw
        before is worthless afterwards (session fixation).

        Steps: take the old session (read and delete in one step), index the new id,
        write the new session. A crash after the first step logs the user out; it never
        leaves the old id valid. The absolute deadline carries over: rotating does not
        extend a session's life.
        """
        if not is_valid_id(session_id):
            return None
        taken = _TAKE(self.r, [_session_key(self.r, session_id)])
        if not taken:
            return None
        pairs = dict(zip(taken[::2], taken[1::2]))
        owner, deadline = pairs.pop("__user__"), float(pairs.pop("__absolute__"))
        new_owner = owner if user_id is None else user_id
        if deadline <= self._now_ms():
            self._index(owner, remove=session_id)
            return None
        new_id = new_session_id()
        if new_owner != owner:
            keys.key(self.r, "session:user", new_owner)  # a valid key name
            self._index(owner, remove=session_id)
            self._index(new_owner, add=new_id, deadline_ms=deadline)
        else:
            self._index(owner, add=new_id, deadline_ms=deadline, remove=session_id)
        self._write(new_id, new_owner, deadline, [x for pair in pairs.items() for x in pair])
        return new_id

    def destroy(self, session_id: str) -> bool:
        """End one session (log out); True if it existed."""
        if not is_valid_id(session_id):
            return False
        taken = _TAKE(self.r, [_session_key(self.r, session_id)])
        if not taken:
            return False
        user_id = dict(zip(taken[::2], taken[1::2])).get("__user__")
        if user_id:
            self._index(user_id, remove=session_id)
        return True

    def sessions_of(self, user_id: str) -> list[str]:
        """The ids of the user's live sessions, oldest first."""
        self._index(user_id)  # drops ids past their deadline
        session_ids = self.r.zrange(self._index_key(user_id), 0, -1)
        pipe = self.r.pipeline(transaction=False)
        for sid in session_ids:
            pipe.exists(_session_key(self.r, sid))
        return [sid for sid, live in zip(session_ids, pipe.execute()) if live]

    def destroy_all(self, user_id: str) -> int:
        """Log out everywhere: end every session of ``user_id``; returns how many were live.

        Only the ids read are removed from the index: a login racing with this call keeps
        its entry, so a later "log out everywhere" still finds it.
        """
        index = self._index_key(user_id)
        session_ids = self.r.zrange(index, 0, -1)
        if not session_ids:
            return 0
        ended = self._delete_sessions(session_ids)
        self.r.zrem(index, *session_ids)
        return ended
