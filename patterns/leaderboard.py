"""Leaderboards: sorted sets with competition ranks, ties, details and time windows.

``update_score`` and ``get_top_users`` are the seed's functions (reading with
``ZRANGE ... REV``, since ZREVRANGE is deprecated). ``Leaderboard`` keeps the best
score or a running total, ranks ties the way players expect ("1, 2, 2, 4"), can let
the earlier achiever win a tie, keeps member details beside the scores, and counts
every score on daily and weekly boards too. Every read is one script, one round trip.
All keys of a board share its hash tag, so a cluster keeps them on one node.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Literal

from . import keys
from .cache import encode
from .scripts import load_script

_SUBMIT = load_script("leaderboard_submit")
_READ = load_script("leaderboard_read")

Mode = Literal["best", "sum", "set"]
TIE_TIME_SPAN = 2**32  # seconds since 2020-01-01, packed under the score
TIE_MAX_SCORE = 2**21 - 1  # score * 2^32 + time must stay below 2^53 to be exact in a double
TIE_EPOCH = 1577836800  # 2020-01-01T00:00:00Z
DAY_RETENTION = 8 * 86400  # a daily board lives a week past its day (enough for "last 7 days")
WEEK_RETENTION = 5 * 7 * 86400


@dataclass(frozen=True)
class Entry:
    """One row of a board: competition rank (ties share it), member, score, details."""

    rank: int
    member: str
    score: float
    details: dict | None = None


def _check_score(score: Any) -> float:
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise TypeError(f"score must be a number, got {score!r}")
    if math.isnan(score) or math.isinf(score):
        raise ValueError(f"score must be a finite number, got {score!r}: NaN and infinity cannot be ranked")
    return float(score)


def _check_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
    return value


class Board:
    """The read side of a board: top, page, rank and around, each one round trip."""

    def __init__(self, r: Any, key: str, details_key: str, tie_break: bool) -> None:
        self.r, self.key, self.details_key, self.tie_break = r, key, details_key, tie_break

    def top(self, count: int = 10) -> list[Entry]:
        """The ``count`` best entries, best first."""
        return self._read("page", 0, _check_count(count, "count") - 1)

    def page(self, number: int, size: int = 10) -> list[Entry]:
        """Page ``number`` (from 1) of ``size`` entries; [] past the end."""
        start = (_check_count(number, "page number") - 1) * _check_count(size, "page size")
        return self._read("page", start, start + size - 1)

    def rank(self, member: str) -> Entry | None:
        """``member``'s entry with its rank, or None when it is not on the board."""
        found = self._read("around", member, 0)
        return found[0] if found else None

    def around(self, member: str, radius: int = 2) -> list[Entry]:
        """``member`` with up to ``radius`` neighbours above and below; [] when not on the board."""
        if isinstance(radius, bool) or not isinstance(radius, int) or radius < 0:
            raise ValueError(f"radius must be a whole number of at least 0, got {radius!r}")
        return self._read("around", member, radius)

    def size(self) -> int:
        return self.r.zcard(self.key)

    def score_of(self, stored: str | float) -> float:
        """A stored score as the player's score (tie-broken boards pack a time under it)."""
        value = float(stored)
        return float(math.floor(value / TIE_TIME_SPAN)) if self.tie_break else value

    def _read(self, what: str, *args: Any) -> list[Entry]:
        flat = _READ(self.r, [self.key, self.details_key], [what, *args])
        return [
            Entry(int(flat[i]), flat[i + 1], self.score_of(flat[i + 2]), json.loads(flat[i + 3]) if flat[i + 3] else None)
            for i in range(0, len(flat), 4)
        ]


class Leaderboard(Board):
    """A board with its daily and weekly windows.

    mode        "best": keep each member's highest score; "sum": add scores up; "set": overwrite
    tie_break   "earliest": of equal scores, the one reached first ranks higher (whole scores
                from 0 to 2,097,151, one-second resolution); "none": equal scores share a rank
    windows     which time windows also count each score: ("daily", "weekly") or a subset
    ttl         seconds the board and its details live after the last submission (None: forever;
                the production checklist's audit will list such a key)
    clock       None: time.time; injectable so notebooks and tests can replay days
    """

    def __init__(
        self,
        r: Any,
        name: str = "leaderboard",
        *,
        mode: Mode = "best",
        tie_break: Literal["none", "earliest"] = "none",
        windows: tuple[str, ...] = ("daily", "weekly"),
        ttl: float | None = 30 * 86400,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if mode not in ("best", "sum", "set"):
            raise ValueError(f"mode must be 'best', 'sum' or 'set', got {mode!r}")
        if tie_break not in ("none", "earliest"):
            raise ValueError(f"tie_break must be 'none' or 'earliest', got {tie_break!r}")
        unknown = set(windows) - {"daily", "weekly"}
        if unknown:
            raise ValueError(f"windows may be 'daily' and 'weekly', not {sorted(unknown)}")
        if ttl is not None and ttl <= 0:
            raise ValueError(f"ttl must be > 0 seconds or None, got {ttl!r}")
        self.name, self.mode, self.windows = name, mode, tuple(windows)
        self.ttl, self.clock = ttl, clock or time.time
        super().__init__(r, keys.key(r, "leaderboard", name), keys.key(r, "leaderboard", name, "details"),
                         tie_break == "earliest")
        self.registry_key = keys.key(r, "leaderboard", name, "windows")

    # -- writing ------------------------------------------------------------------------------
    def submit(self, member: str, score: float, details: dict | None = None) -> float:
        """Record ``score`` for ``member`` on the board and its windows; returns the board's score."""
        score = _check_score(score)
        keys.key(self.r, "leaderboard", member)  # the same checks as any key name: a non-empty str
        if self.tie_break and (score != int(score) or not 0 <= score <= TIE_MAX_SCORE):
            raise ValueError(
                f"score {score!r} cannot be tie-broken exactly: use whole scores from 0 to {TIE_MAX_SCORE:,} "
                "(score and time share one double, exact only up to 2^53)"
            )
        now = self.clock()
        windows = self._window_keys(now)
        result = _SUBMIT(
            self.r,
            [self.key, self.details_key, self.registry_key, *windows],
            [now * 1000, member, score, self.mode, int(self.tie_break),
             encode(details, key=member) if details is not None else "",
             0 if self.ttl is None else int(self.ttl * 1000), *windows.values()],
        )
        return float(result)

    def remove(self, member: str) -> int:
        """Remove ``member`` from the board, every window board and the details; returns boards left."""
        windows = [k for k in self.r.zrange(self.registry_key, 0, -1)]
        pipe = self.r.pipeline(transaction=True)
        for board in [self.key, *windows]:
            pipe.zrem(board, member)
        pipe.hdel(self.details_key, member)
        return sum(pipe.execute()[:-1])

    def clear(self) -> int:
        """Delete the board, its details and every window board (a new season); returns keys deleted."""
        windows = self.r.zrange(self.registry_key, 0, -1)
        pipe = self.r.pipeline(transaction=True)
        for key in [self.key, self.details_key, self.registry_key, *windows]:
            pipe.delete(key)
        return sum(pipe.execute())

    # -- windows ------------------------------------------------------------------------------
    def _window_keys(self, now: float) -> dict[str, int]:
        """{window board key: its TTL in ms} for the windows containing ``now``."""
        day = dt.datetime.fromtimestamp(now, dt.timezone.utc).date()
        found = {}
        if "daily" in self.windows:
            found[self.window_key("daily", day)] = DAY_RETENTION * 1000
        if "weekly" in self.windows:
            found[self.window_key("weekly", day)] = WEEK_RETENTION * 1000
        return found

    def window_key(self, kind: str, day: dt.date) -> str:
        if kind == "daily":
            return keys.key(self.r, "leaderboard", self.name, "day", day.isoformat())
        year, week, _ = day.isocalendar()
        return keys.key(self.r, "leaderboard", self.name, "week", f"{year}-W{week:02d}")

    def daily(self, day: dt.date | None = None) -> Board:
        """The board of one UTC day (today by default)."""
        return self._window("daily", day)

    def weekly(self, day: dt.date | None = None) -> Board:
        """The board of the ISO week containing ``day`` (this week by default)."""
        return self._window("weekly", day)

    def _window(self, kind: str, day: dt.date | None) -> Board:
        if kind not in self.windows:
            raise ValueError(f"this board keeps no {kind} window (windows={self.windows})")
        day = day or dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc).date()
        return Board(self.r, self.window_key(kind, day), self.details_key, self.tie_break)

    def last_days(self, days: int = 7, *, weights: list[float] | None = None, aggregate: str = "SUM",
                  ttl: float = 60) -> Board:
        """The last ``days`` daily boards combined (ZUNIONSTORE), kept ``ttl`` seconds as a cache."""
        _check_count(days, "days")
        if aggregate not in ("SUM", "MIN", "MAX"):
            raise ValueError(f"aggregate must be SUM, MIN or MAX, got {aggregate!r}")
        if self.tie_break and aggregate == "SUM":
            raise ValueError("tie-broken scores pack a time under the score: combine them with MAX, not SUM")
        today = dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc).date()
        sources = [self.window_key("daily", today - dt.timedelta(days=i)) for i in range(days)]
        destination = keys.key(self.r, "leaderboard", self.name, "last", f"{days}d-{today.isoformat()}-{aggregate}")
        pipe = self.r.pipeline(transaction=True)
        pipe.zunionstore(destination, dict(zip(sources, weights)) if weights else sources, aggregate=aggregate)
        pipe.pexpire(destination, int(ttl * 1000))
        pipe.execute()
        return Board(self.r, destination, self.details_key, self.tie_break)


def update_score(r: Any, user_id: str, score: float, board: str = "leaderboard") -> None:
    """The seed's updateScore: set ``user_id``'s score on ``board`` (one ZADD, in a script)."""
    Leaderboard(r, board, mode="set", windows=()).submit(user_id, score)


def get_top_users(r: Any, count: int, board: str = "leaderboard") -> list[tuple[str, float]]:
    """The seed's getTopUsers: the ``count`` best (member, score) pairs, highest first."""
    return [(e.member, e.score) for e in Leaderboard(r, board, windows=()).top(count)]
