"""Workshop progress: every exercise's ``check()`` notes how it went; the host reads it all at once.

An attendee (a notebook run with ``WORKBOOK_NAMESPACE`` set, as ``patterns.workshop
provision`` hands out) gets one small hash per exercise in their own namespace,
``attendee-07:progress:{ratelimit}``: the outcome of the last try, the checker's line (what
passed, or the first thing that is wrong), how many tries, and when. Writing it needs no
rights beyond the attendee's own keys, and it expires after ``RECORD_SECONDS``.

The host's board (``python -m patterns.workshop progress URL``, or ``ProgressBoard`` in a
notebook) reads every attendee's hashes by name, 500 per script call (no KEYS, no walk of
the key space: the names are known, one per attendee and exercise), and says
who finished what, which exercise most attendees are stuck on with the message they share,
and who has not run a check for ``IDLE_SECONDS``. Attendees cannot read each other's
records: their ACL fences them into their own keys, and the board needs the admin user.

Recording never gets in the learner's way: a server that cannot be reached costs at most one
connect timeout (2 s) the first time, a frozen one ``RECORD_TIMEOUT``; then recording pauses for
``RETRY_SECONDS``, and nothing is printed.

The board shows what attendees' notebooks wrote, and an attendee may write their own records by
hand: it is a teaching aid, not an exam. So it never trusts them further than its display: only
the known fields are read, the message is cut on the server (``progress_read.lua``), control
characters (a terminal's escape codes, a newline that would fake a row) are shown as spaces, and
times are held between 0 and the server's now.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from . import keys
from .connection import connect, tolerant, with_timeout
from .scripts import load_script

log = logging.getLogger(__name__)

_RECORD = load_script("progress_record")
_READ = load_script("progress_read")

RECORD_SECONDS = 2 * 24 * 3600  # a workshop day and the day after, when the host looks back
IDLE_SECONDS = 600  # no check run for this long: the board names the attendee
RETRY_SECONDS = 60.0  # after a failed write, recording pauses this long
RECORD_TIMEOUT = 1.0  # seconds a record may wait for the server: a frozen one must not hold up check()
MESSAGE_MAX = 300  # characters of the checker's line kept: a learner's exception can be long
KIND = "progress"
PASSED, NOT_YET = "passed", "not yet"


class Exercise(NamedTuple):
    id: str  # what check() records under
    chapter: str  # the notebook it ends, "02_rate_limiting"
    title: str  # how the board names it

    @property
    def column(self) -> str:
        """The board's column heading: the chapter's number, with + for its stretch exercise."""
        return self.chapter[:2] + ("+" if self.id.endswith("-stretch") else "")


EXERCISES: tuple[Exercise, ...] = (
    Exercise("start", "00_start_here", "00 start"),
    Exercise("caching", "01_caching", "01 cache"),
    Exercise("ratelimit", "02_rate_limiting", "02 limit"),
    Exercise("ratelimit-stretch", "02_rate_limiting", "02 stretch"),
    Exercise("leaderboard", "03_leaderboards", "03 board"),
    Exercise("session", "04_sessions", "04 session"),
    Exercise("pubsub", "05_pubsub", "05 pubsub"),
    Exercise("pubsub-stretch", "05_pubsub", "05 stretch"),
    Exercise("lock", "06_locking", "06 lock"),
    Exercise("audit", "07_production_checklist", "07 audit"),
    Exercise("transfer-stretch", "07_production_checklist", "07 stretch"),
    Exercise("scaling", "08_scaling_out", "08 scaling"),
    Exercise("webapp", "09_web_app", "09 web app"),
)
_IDS = {exercise.id for exercise in EXERCISES}


# --- the attendee's side: check() records ------------------------------------------------------

def record_to(r: Any, exercise: str, passed: bool, message: str) -> int:
    """Note one try of ``exercise`` in ``r``'s namespace; the tries so far. One script call."""
    if exercise not in _IDS:
        raise ValueError(f"unknown exercise {exercise!r}; the exercises are {sorted(_IDS)}")
    return int(_RECORD(r, [key_for(r, exercise)],
                       [PASSED if passed else NOT_YET, shown(message)[:MESSAGE_MAX], RECORD_SECONDS]))


def key_for(r: Any, exercise: str) -> str:
    """The hash one exercise's tries are noted in, in ``r``'s namespace."""
    return keys.key(r, KIND, exercise)


_HIDDEN = ("Cc", "Cf", "Zl", "Zp")  # control and format characters, line and paragraph separators


def shown(text: str) -> str:
    """``text`` safe to print on the host's terminal or widget: one line, nothing invisible.

    Control characters (escape codes), format characters (a right-to-left override that would
    reorder the line on screen, zero-width spaces) and line separators become spaces. Bytes that
    were not UTF-8 (read back as surrogates) and lone surrogates become U+FFFD.
    """
    try:
        raw = text.encode("utf-8", "surrogateescape")  # the bytes as the server holds them
    except UnicodeEncodeError:  # a lone surrogate that stands for no byte
        raw = text.encode("utf-8", "surrogatepass")
    text = raw.decode("utf-8", "replace")
    if text.isprintable():
        return text
    return "".join(" " if unicodedata.category(c) in _HIDDEN else c for c in text)


_state = threading.Lock()
_clients: dict[tuple[str, str], Any] = {}
_paused_until = 0.0


def record(exercise: str, passed: bool, message: str) -> None:
    """What every checker calls after printing its line: noted for the host, when in a workshop.

    Only with ``WORKBOOK_NAMESPACE`` set (an attendee): outside a workshop there is nobody to
    tell, and the learner's key space stays as the chapter left it. Never raises, never prints.
    """
    global _paused_until
    # The attendee is the namespace's first part (a lab may nest one, attendee-07:proof): the board
    # reads the attendee's own records, and the ACL fences the attendee by that first part.
    namespace = os.environ.get("WORKBOOK_NAMESPACE", "").strip().split(":")[0]
    if not namespace or time.monotonic() < _paused_until:
        return
    url = os.environ.get("REDIS_URL", "").strip()
    try:
        with _state:
            r = _clients.get((url, namespace))
            if r is None:
                r = _clients[url, namespace] = with_timeout(connect(url or None, namespace=namespace), RECORD_TIMEOUT)
        record_to(r, exercise, passed, message)
    except Exception as error:  # the learner's check must go on whatever the server does
        _paused_until = time.monotonic() + RETRY_SECONDS
        log.debug("progress of %s not recorded (%s); trying again in %.0f s", exercise, error, RETRY_SECONDS)


# --- the host's side: the board ----------------------------------------------------------------

@dataclass
class Progress:
    """One attendee's record of one exercise, as the board read it."""

    outcome: str
    message: str
    tries: int
    first: int  # server time of the first try, seconds
    last: int  # of the last try
    passed: int | None  # of the first pass: set once, kept when a later try fails

    @property
    def finished(self) -> bool:
        return self.passed is not None


@dataclass
class Stuck:
    """An exercise attendees have tried and not yet passed, with the message most of them see."""

    exercise: Exercise
    attendees: list[str]
    message: str  # the line most of them got last
    sharing: int  # how many of them got exactly that line


@dataclass
class Board:
    """Everything the host's view shows, read at one moment of the server's clock."""

    now: int  # the server's time when read, seconds
    attendees: list[str]
    records: dict[tuple[str, str], Progress] = field(default_factory=dict)  # (attendee, exercise id)

    def progress(self, attendee: str, exercise: str) -> Progress | None:
        return self.records.get((attendee, exercise))

    def finished(self, attendee: str) -> list[str]:
        """The exercises ``attendee`` has passed, in chapter order."""
        return [e.id for e in EXERCISES if (p := self.progress(attendee, e.id)) and p.finished]

    def stuck(self) -> list[Stuck]:
        """Exercises tried and not passed, the most attendees first (ties in chapter order)."""
        found = []
        for exercise in EXERCISES:
            records = [(name, p) for name in self.attendees
                       if (p := self.progress(name, exercise.id)) and not p.finished]
            if records:
                message, sharing = Counter(p.message for _, p in records).most_common(1)[0]
                found.append(Stuck(exercise, [name for name, _ in records], message, sharing))
        return sorted(found, key=lambda s: -len(s.attendees))

    def idle(self, seconds: float = IDLE_SECONDS) -> list[str]:
        """Attendees with no check for ``seconds``, or none at all yet."""
        return [name for name in self.attendees
                if (seen := self.last_seen(name)) is None or self.now - seen >= seconds]

    def last_seen(self, attendee: str) -> int | None:
        times = [p.last for (name, _), p in self.records.items() if name == attendee]
        return max(times) if times else None

    def table(self, *, idle_seconds: float = IDLE_SECONDS) -> str:
        """Attendees × exercises as plain text (about 90 columns): ✓ passed, ✗<tries> not yet, · not tried."""
        width = max([8, *(len(name) for name in self.attendees)])
        lines = [f"{'attendee':{width}}  " + " ".join(f"{e.column:>4}" for e in EXERCISES) + "   last check"]
        for name in self.attendees:
            cells = []
            for exercise in EXERCISES:
                p = self.progress(name, exercise.id)
                cells.append(f"{_cell(p):>4}")
            seen = self.last_seen(name)
            ago = "never" if seen is None else f"{_ago(self.now - seen)} ago"
            lines.append(f"{name:{width}}  " + " ".join(cells) + f"   {ago}")
        done = Counter(e for name in self.attendees for e in self.finished(name))
        lines.append(f"{'finished':{width}}  " + " ".join(f"{done[e.id]:>4}" for e in EXERCISES))
        legend = "columns: chapters (+ is the chapter's stretch exercise); ✓ passed, ✗N N tries without a pass, · not tried"
        return "\n".join([*lines, legend, "", *self.summary(idle_seconds)])

    def summary(self, idle_seconds: float = IDLE_SECONDS) -> list[str]:
        """Two lines: the exercise most attendees are stuck on (and their message), and who is idle."""
        stuck = self.stuck()
        if stuck:
            top = stuck[0]
            first = (f"most stuck: {top.exercise.title} ({len(top.attendees)} of {len(self.attendees)} "
                     f"attendees); {top.sharing} of them {'sees' if top.sharing == 1 else 'see'}: {top.message}")
        else:
            first = "most stuck: nobody is stuck on an exercise"
        quiet = self.idle(idle_seconds)
        return [first, f"no check for {_ago(idle_seconds)}: {', '.join(quiet) if quiet else 'nobody'}"]


def _cell(p: Progress | None) -> str:
    if p is None:
        return "·"
    return "✓" if p.finished else f"✗{p.tries}"


def _ago(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"


def read_board(r: Any, attendees: list[str], *, batch: int = 500) -> Board:
    """The board for ``attendees`` (their namespaces), read as one user who may see them all.

    ``attendees`` is who the host expects: the workshop's ACL users (``patterns.workshop.board``
    passes them), so an attendee who has run nothing yet is on the board too. Each record's name
    is known (an attendee and an exercise), so the board asks for exactly those, ``batch`` per
    call of ``progress_read.lua``, with no walk of the key space at all. Its cost grows with
    attendees × exercises, never with the keys the labs leave behind. A user who may not read
    them all (an attendee) gets the server's NOPERM error.
    """
    readable = tolerant(r)  # what attendees wrote need not be UTF-8
    board = Board(int(readable.time()[0]), sorted(set(attendees), key=_attendee_order))
    wanted = [(name, exercise.id) for name in board.attendees for exercise in EXERCISES]
    for start in range(0, len(wanted), batch):
        part = wanted[start:start + batch]
        replies = _READ(readable, [keys.key_in(name, KIND, exercise) for name, exercise in part], [MESSAGE_MAX * 4])
        for found, fields in zip(part, replies):
            if isinstance(fields, list):
                board.records[found] = _progress(fields, board.now)
    return board


def _progress(fields: list[str | None], now: int) -> Progress:
    """A record as the script read it: six fields, any of them None, every value the attendee's to write."""
    outcome, message, tries, first, last, passed = fields

    def moment(value: str | None) -> int:  # held to [0, now]: a "future" try must not hide an idle attendee
        try:
            return min(max(int(value or 0), 0), now)
        except ValueError:
            return 0

    try:
        count = max(int(tries or 0), 0)
    except ValueError:
        count = 0
    return Progress(PASSED if outcome == PASSED else NOT_YET, shown(message or "")[:MESSAGE_MAX], count,
                    moment(first), moment(last), moment(passed) if passed else None)


def _attendee_order(name: str) -> tuple[int, str]:
    number = name.rsplit("-", 1)[-1]
    return (int(number) if number.isdigit() else 0, name)

