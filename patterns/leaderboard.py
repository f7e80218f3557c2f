"""Leaderboards: sorted sets with competition ranks, ties, details and time windows.

``update_score`` and ``get_top_users`` are the seed's functions (reading with
``ZRANGE ... REV``, since ZREVRANGE is deprecated). ``Leaderboard`` keeps the best
score or a running total, ranks ties the way players expect ("1, 2, 2, 4"), can let
the earlier achiever win a tie, keeps member details beside the scores, and counts
every score on daily and weekly boards too. Every read is one script, one round trip.
All keys of a board share its hash tag, so a cluster keeps them on one node. Time
decides two things, the tie-break ("who was first") and which day's and week's board a
score counts on; both are decided by the server's clock, so app servers whose clocks
disagree still agree on them.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Literal

import redis

from . import keys, validate
from .cache import encode
from .connection import check_kind
from .errors import PatternError
from .scripts import load_script
from .steps import Command, Steps, operations, run, synchronous

_SUBMIT = load_script("leaderboard_submit")
_READ = load_script("leaderboard_read")
_REMOVE = load_script("leaderboard_remove")
_UNION = load_script("leaderboard_union")
REMOVE_ATTEMPTS = 10  # a registry that changes between read and removal this often is being hammered

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


MAX_READ = 1_000_000  # entries one read may return: a page, not a dump
MAX_PAGE = 10**9  # page numbers: positions must stay exact integers inside Redis


def _check_count(value: Any, name: str, maximum: int = MAX_READ) -> int:
    return validate.whole(value, name, maximum=maximum)


def _check_member(member: Any) -> str:
    return validate.text(member, "member")


class BoardBase:
    """The read side of a board, whichever client: top, page, rank and around, each one round trip.

    Each operation is a generator of its round trips (see patterns.steps): ``Board`` runs them
    with plain calls, ``patterns.aio.Board`` awaits them.
    """

    OPERATIONS: tuple[str, ...] = ("top", "page", "rank", "around", "size")

    def __init__(self, r: Any, key: str, details_key: str, tie_break: bool) -> None:
        self._check_client(r)
        self.r, self.key, self.details_key, self.tie_break = r, key, details_key, tie_break

    def _check_client(self, r: Any) -> None:
        check_kind(r, asyncio=False, twin="patterns.aio.Leaderboard")

    def _top(self, count: int = 10) -> Steps[list[Entry]]:
        """The ``count`` best entries, best first."""
        return (yield from self._read("page", 0, _check_count(count, "count") - 1))

    def _page(self, number: int, size: int = 10) -> Steps[list[Entry]]:
        """Page ``number`` (from 1) of ``size`` entries; [] past the end."""
        start = (_check_count(number, "page number", MAX_PAGE) - 1) * _check_count(size, "page size")
        return (yield from self._read("page", start, start + size - 1))

    def _rank(self, member: str) -> Steps[Entry | None]:
        """``member``'s entry with its rank, or None when it is not on the board."""
        found = yield from self._read("around", _check_member(member), 0)
        return found[0] if found else None

    def _around(self, member: str, radius: int = 2) -> Steps[list[Entry]]:
        """``member`` with up to ``radius`` neighbours above and below; [] when not on the board."""
        validate.whole(radius, "radius", minimum=0, maximum=MAX_READ)
        return (yield from self._read("around", _check_member(member), radius))

    def _size(self) -> Steps[int]:
        """How many members the board holds."""
        return (yield Command(("ZCARD", self.key)))

    def score_of(self, stored: str | float) -> float:
        """A stored score as the player's score (tie-broken boards pack a time under it)."""
        value = float(stored)
        return float(math.floor(value / TIE_TIME_SPAN)) if self.tie_break else value

    def _read(self, what: str, *args: Any) -> Steps[list[Entry]]:
        flat = yield (_READ, [self.key, self.details_key], [what, *args])
        return [
            Entry(int(flat[i]), flat[i + 1], self.score_of(flat[i + 2]), json.loads(flat[i + 3]) if flat[i + 3] else None)
            for i in range(0, len(flat), 4)
        ]


@operations(synchronous)
class Board(BoardBase):
    """The read side of a board (a window's, or a union of days), read with plain calls."""


class LeaderboardBase(BoardBase):
    """A board with its daily and weekly windows, whichever client.

    mode        "best": keep each member's highest score; "sum": add scores up; "set": overwrite
    tie_break   "earliest": of equal scores, the one reached first ranks higher (whole scores
                from 0 to 2,097,151, one-second resolution); "none": equal scores share a rank
    windows     which time windows also count each score: ("daily", "weekly") or a subset
    ttl         seconds the board and its details live after the last submission (None: forever;
                the production checklist's audit will list such a key)
    clock       None: the server's clock (production); injectable so notebooks and tests can replay days
    """

    OPERATIONS = (*BoardBase.OPERATIONS, "submit", "remove", "clear", "daily", "weekly", "last_days")
    board_class: type[BoardBase]  # what daily(), weekly() and last_days() return: a Board of the same kind

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
        ttl = validate.optional_seconds(ttl, "ttl")
        if clock is not None:
            validate.function(clock, "clock", "nothing (it returns seconds)")
        self.name, self.mode, self.windows = validate.text(name, "name"), mode, tuple(windows)
        self.ttl, self.clock = ttl, clock
        super().__init__(r, keys.key(r, "leaderboard", name), keys.key(r, "leaderboard", name, "details"),
                         tie_break == "earliest")
        self.registry_key = keys.key(r, "leaderboard", name, "windows")
        self._offset: float | None = None  # server clock - this app server's clock, seconds

    # -- writing ------------------------------------------------------------------------------
    def _submit(self, member: str, score: float, details: dict | None = None) -> Steps[float]:
        """Record ``score`` for ``member`` on the board and its windows; returns the board's score."""
        score = _check_score(score)
        _check_member(member)
        if self.tie_break and (score != int(score) or not 0 <= score <= TIE_MAX_SCORE):
            raise ValueError(
                f"score {score!r} cannot be tie-broken exactly: use whole scores from 0 to {TIE_MAX_SCORE:,} "
                "(score and time share one double, exact only up to 2^53)"
            )
        encoded = encode(details, key=member) if details is not None else ""
        try:
            return (yield from self._submit_once(member, score, encoded))
        except redis.ResponseError as error:
            if "window contains the server's time" not in str(error) or self.clock is not None:
                raise
            self._offset = None  # the clocks drifted apart since we measured: measure again
            return (yield from self._submit_once(member, score, encoded))

    def _submit_once(self, member: str, score: float, details: str) -> Steps[float]:
        if self.clock is None:  # production: the script reads the server's clock
            now_ms, days = -1, self._days_around((yield from self._server_today_estimate()))
        else:
            now_ms = self.clock() * 1000
            days = [dt.datetime.fromtimestamp(now_ms / 1000, dt.timezone.utc).date()]
        windows = self._candidate_windows(days) if self.windows else {}
        result = yield (
            _SUBMIT,
            [self.key, self.details_key, self.registry_key, *windows],
            [now_ms, member, score, self.mode, int(self.tie_break), details,
             0 if self.ttl is None else int(self.ttl * 1000), *(x for spec in windows.values() for x in spec)],
        )
        return float(result)

    def _remove(self, member: str) -> Steps[int]:
        """Remove ``member`` from the board, every window board and the details, in one step.

        Returns how many boards it was on. A submit racing with the removal is either
        removed too or lands after it: the member is left on no board it was on before.
        """
        return (yield from self._remove_member(_check_member(member)))

    def _clear(self) -> Steps[int]:
        """Delete the board, its details and every window board (a new season), in one step; returns keys deleted."""
        return (yield from self._remove_member(""))

    def _remove_member(self, member: str) -> Steps[int]:
        for _ in range(REMOVE_ATTEMPTS):
            windows = yield Command(("ZRANGE", self.registry_key, 0, -1))
            removed = yield (_REMOVE, [self.key, self.details_key, self.registry_key, *windows], [member])
            if removed != -1:
                return int(removed)
        raise PatternError(f"leaderboard {self.name!r}: its window boards changed during each of "
                           f"{REMOVE_ATTEMPTS} attempts to remove; try again")

    # -- windows ------------------------------------------------------------------------------
    @staticmethod
    def _days_around(day: dt.date) -> list[dt.date]:
        return [day - dt.timedelta(days=1), day, day + dt.timedelta(days=1)]

    def _server_today_estimate(self) -> Steps[dt.date]:
        """The server's day, estimated from this app server's clock and their offset (measured once).

        Only to choose the candidate windows around it: the script picks among them by the
        server's own clock, so the estimate only needs to be right within a day.
        """
        if self._offset is None:
            self._offset = (yield from self._server_seconds()) - time.time()
        return dt.datetime.fromtimestamp(time.time() + self._offset, dt.timezone.utc).date()

    def _server_seconds(self) -> Steps[float]:
        whole, micros = yield Command(("TIME",))
        return int(whole) + int(micros) / 1_000_000

    def _candidate_windows(self, days: list[dt.date]) -> dict[str, tuple[str, int, int, int]]:
        """{window board key: (kind, span start ms, span end ms, TTL ms)} for the windows of ``days``."""
        found: dict[str, tuple[str, int, int, int]] = {}
        for day in days:
            start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
            if "daily" in self.windows:
                span = (start, start + dt.timedelta(days=1))
                found[self.window_key("daily", day)] = ("daily", *_span_ms(*span), DAY_RETENTION * 1000)
            if "weekly" in self.windows:
                monday = start - dt.timedelta(days=day.weekday())
                span = (monday, monday + dt.timedelta(days=7))
                found[self.window_key("weekly", day)] = ("weekly", *_span_ms(*span), WEEK_RETENTION * 1000)
        return found

    def _today(self) -> Steps[dt.date]:
        """Today (UTC) by the injected clock, else by the server's clock."""
        seconds = self.clock() if self.clock is not None else (yield from self._server_seconds())
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).date()

    def window_key(self, kind: str, day: dt.date) -> str:
        if kind == "daily":
            return keys.key(self.r, "leaderboard", self.name, "day", day.isoformat())
        year, week, _ = day.isocalendar()
        return keys.key(self.r, "leaderboard", self.name, "week", f"{year}-W{week:02d}")

    def _daily(self, day: dt.date | None = None) -> Steps[BoardBase]:
        """The board of one UTC day (today by default)."""
        return (yield from self._window("daily", day))

    def _weekly(self, day: dt.date | None = None) -> Steps[BoardBase]:
        """The board of the ISO week containing ``day`` (this week by default)."""
        return (yield from self._window("weekly", day))

    def _window(self, kind: str, day: dt.date | None) -> Steps[BoardBase]:
        if kind not in self.windows:
            raise ValueError(f"this board keeps no {kind} window (windows={self.windows})")
        day = day or (yield from self._today())
        return self.board_class(self.r, self.window_key(kind, day), self.details_key, self.tie_break)

    def _last_days(self, days: int = 7, *, weights: list[float] | None = None, aggregate: str = "SUM",
                   ttl: float = 60) -> Steps[BoardBase]:
        """The last ``days`` daily boards combined (ZUNIONSTORE, on every call) into a board of its own.

        The result is stored under a key named after the days, the aggregate and the weights,
        which expires ``ttl`` seconds after the call, so a Board returned earlier keeps reading
        its own union.
        """
        _check_count(days, "days", maximum=366)
        validate.choice(aggregate, "aggregate", ("SUM", "MIN", "MAX"))
        if self.tie_break and aggregate == "SUM":
            raise ValueError("tie-broken scores pack a time under the score: combine them with MAX, not SUM")
        if self.tie_break and weights is not None:
            raise ValueError("tie-broken scores pack a time under the score: weights would scale the time too")
        if weights is not None:
            if not isinstance(weights, (list, tuple)) or len(weights) != days:
                raise ValueError(f"weights must be a list of {days} numbers (one per day, today first), got {weights!r}")
            weights = [validate.number(w, "weights") for w in weights]
        ttl = validate.seconds(ttl, "ttl")
        today = yield from self._today()
        sources = [self.window_key("daily", today - dt.timedelta(days=i)) for i in range(days)]
        weighed = "" if weights is None else "-w" + hashlib.sha1(repr(weights).encode()).hexdigest()[:12]
        destination = keys.key(self.r, "leaderboard", self.name, "last",
                               f"{days}d-{today.isoformat()}-{aggregate}{weighed}")
        yield (_UNION, [destination, *sources], [aggregate, int(ttl * 1000), *(weights or ())])
        return self.board_class(self.r, destination, self.details_key, self.tie_break)


@operations(synchronous)
class Leaderboard(LeaderboardBase, Board):
    """A board with its daily and weekly windows (see LeaderboardBase for the options), run with plain calls."""

    board_class = Board


def _span_ms(start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def update_score(r: Any, user_id: str, score: float, board: str = "leaderboard") -> None:
    """The seed's updateScore: set ``user_id``'s score on ``board`` (one ZADD, in a script)."""
    run(r, Leaderboard(r, board, mode="set", windows=())._submit(user_id, score))


def get_top_users(r: Any, count: int, board: str = "leaderboard") -> list[tuple[str, float]]:
    """The seed's getTopUsers: the ``count`` best (member, score) pairs, highest first."""
    return run(r, _top_users(Leaderboard(r, board, windows=()), count))


def _top_users(board: BoardBase, count: int) -> Steps[list[tuple[str, float]]]:
    return [(e.member, e.score) for e in (yield from board._top(count))]
