"""Exercises of notebook 02: two rules in one decision, and (stretch) a sliding window counter script of your own.

    def allow(r, user_id, now):              # at most 5 in any 10 s AND 20 in any hour, per user
        ...
    check(allow)

    def allow_by_estimate(r, user_id, now):  # the sliding window counter, 10 per 60 s, in your own script
        ...
    check_stretch(allow_by_estimate)

Both checkers pass ``now`` (seconds) themselves and replay a timeline, so time is
theirs to control; each decision is compared with a plain-Python model of the
rule. The timeline's requests alternate between two clients of one server, like
two app servers, so counts kept in the app are caught. A second request is
slipped in between the function's round trips, at each point in turn (at the same
time, and 0.2 s after a request one rule denies), so a check and a count that are
two steps, or a count taken back afterwards, are caught every time, not by luck;
ten threads then send at once. Keys must expire, but not before what they hold
stops deciding requests.
"""
from __future__ import annotations

import difflib
import hashlib
import math
import re
import threading
from typing import Any, Callable, Iterator

import fakeredis

from ..connection import fake_server
from ..trace import trace
from . import NotYet, fresh_client, report, run_at_once

Allow = Callable[[Any, str, float], bool]

T0 = 1_699_999_200  # a whole hour (and so a whole minute and a whole 10 s) since the epoch
SHORT, SHORT_LIMIT, HOUR, HOUR_LIMIT = 10.0, 5, 3600.0, 20
AGED = 100.0  # seconds: every key's TTL is cut to this before the timeline's last step (see _age)

# (seconds after T0, requests sent at that instant): see _explain for what each step catches.
# 39.6 and 3609.4 come 9.9 s after the newest and 3599.9 s after the oldest of the admitted requests they must
# still see: a rule counted over a shorter span lets them through.
TIMELINE = [(9.5, 8), (10.5, 2), (19.6, 8), (29.7, 8), (39.6, 1), (39.8, 6), (49.9, 2), (3601.0, 1), (3605.0, 2),
            (3609.4, 1), (3609.6, 6)]


def _when(t: float) -> str:
    return f"+{t:.1f} s"


def _boolean(answer: Any) -> bool:
    if not isinstance(answer, bool):
        raise NotYet(f"it returned {answer!r}; return True (allowed) or False (denied)")
    return answer


# -- interleaving: another request between two of the function's round trips ---------------------------


class _Between(fakeredis.FakeRedisConnection):
    """A connection that, on its owner thread, runs ``action`` just before round trip number ``at``."""

    plan: dict[str, Any] = {}

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        plan = self.plan
        if plan and threading.get_ident() == plan["owner"] and not plan["inside"]:
            plan["sent"] += 1
            if plan["sent"] == plan["at"]:
                plan["inside"] = True
                try:
                    plan["action"]()
                finally:
                    plan["inside"] = False
        super().send_packed_command(command, check_health)


def _interposing_client() -> tuple[fakeredis.FakeRedis, dict[str, Any]]:
    plan: dict[str, Any] = {}
    connection = type("Between", (_Between,), {"plan": plan})
    r = fakeredis.FakeRedis(server=fake_server(), decode_responses=True, connection_class=connection)
    r.ping()  # the connection's own set-up is done before anything is counted
    return r, plan


def _round_trips_of(fn: Allow, r: Any, user: str, now: float) -> int:
    with trace(r) as recorded:
        fn(r, user, now)
    return recorded.round_trips


def _race(fn: Allow, places_left: int, at: int) -> tuple[int, int]:
    """Fill the 10-second rule but ``places_left``; run one request with a second slipped in before round trip ``at``."""
    r, plan = _interposing_client()
    for _ in range(SHORT_LIMIT - places_left):
        fn(r, "lin", T0 + 100.0)
    answers: list[bool] = []
    plan.update(owner=threading.get_ident(), inside=False, sent=0, at=at,
                action=lambda: answers.append(_boolean(fn(r, "lin", T0 + 100.5))))
    try:
        answers.append(_boolean(fn(r, "lin", T0 + 100.5)))
    finally:
        plan.clear()
    return sum(answers), len(answers)


def _check_the_race(fn: Allow) -> None:
    trips = _round_trips_of(fn, fresh_client(), "lin", T0 + 100.0)
    for places_left in (1, 2):
        for at in range(2, min(trips, 12) + 1):
            allowed, calls = _race(fn, places_left, at)
            if calls < 2:
                continue  # the function sent fewer round trips this time: nothing came between
            if allowed > places_left:
                raise NotYet(
                    f"with one place left, a second request ran between your function's round trips {at - 1} "
                    f"and {at}, and both were allowed: the check and the count must be one step that nothing "
                    "can come between")
            if allowed < places_left:
                raise NotYet(
                    f"with two places left, a second request ran between your function's round trips {at - 1} "
                    f"and {at}, and only {allowed} was allowed: a request that lost the race was denied though "
                    "there was room")


# (setup, the first request's time, the second's, the rule that denies the first, the other rule):
# the first request is denied, and the second, 0.2 s later, fits once the first takes no place at all.
LATER_RACES = [
    ([(0.0, 1), (20.0, 5), (40.0, 5), (60.0, 5), (3595.0, 4)], 3599.9, 3600.1, "hourly rule", "10-second rule"),
    ([(0.0, 4), (20.0, 5), (40.0, 5), (60.0, 5)], 69.9, 70.1, "10-second rule", "hourly rule"),
]


def _check_a_later_request(fn: Allow) -> None:
    """A denied request must take no place, not even while it runs: a later request slipped in must fit."""
    for setup, first, second, denies, other in LATER_RACES:
        for at in range(2, 13):
            r, plan = _interposing_client()
            for t, n in setup:
                for _ in range(n):
                    fn(r, "lin", T0 + t)
            later: list[bool] = []
            plan.update(owner=threading.get_ident(), inside=False, sent=0, at=at,
                        action=lambda: later.append(_boolean(fn(r, "lin", T0 + second))))
            try:
                earlier = _boolean(fn(r, "lin", T0 + first))
            finally:
                plan.clear()
            if not later:
                break  # the function sent fewer round trips than ``at``: no later point to try
            where = (f"while a second request, 0.2 s later, ran between your function's round trips {at - 1} and "
                     f"{at}")
            if earlier:
                raise NotYet(f"a request that the {denies} should deny was allowed {where}")
            if not later[0]:
                raise NotYet(f"a request that the {denies} denied still held a place in the {other} {where}, and "
                             "that one was denied though there was room: a denied request must take no place, not "
                             "even for a moment")


def _check_threads(fn: Allow, now: float, expected: int, user: str = "crowd") -> None:
    r = fresh_client()
    results, lock = [], threading.Lock()

    def worker() -> None:
        for _ in range(3):
            allowed = fn(r, user, now)
            with lock:
                results.append(allowed)

    run_at_once(10, worker)
    if len(results) < 30:
        raise NotYet(f"with 10 threads at once, only {len(results)} of 30 requests returned within 30 s")
    if results.count(True) != expected:
        raise NotYet(f"with 10 threads sending 30 requests at once, {results.count(True)} got through "
                     f"instead of {expected}")


def _age(r: Any, seconds: float) -> None:
    """Shorten every key's TTL to ``seconds``, as time passing on the server would; the checker's ``now`` never
    moves the server's clock, so this is how a TTL set once, and never renewed, shows."""
    for name in r.scan_iter("*"):
        if r.pttl(name) > seconds * 1000:
            r.pexpire(name, int(seconds * 1000))


def _check_lasting(r: Any, shortest: float, why: str, aged: float) -> None:
    """The longest-lived key must outlive what still decides requests: ``shortest`` seconds from the last one."""
    lives = {name: r.pttl(name) for name in sorted(r.scan_iter("*"))}
    name = min(lives, key=lambda n: (-round(lives[n] / 1000), n), default=None)  # the longest; ties by name
    if name is not None and lives[name] < (shortest - 2) * 1000:
        said = why.format(name=name, ttl=round(lives[name] / 1000))
        if lives[name] <= aged * 1000:
            said += (f" (before the last requests the checker cut every key's TTL to {aged:g} s, as the server's "
                     "clock running on would, and no admitted request renewed it)")
        raise NotYet(said)


def _check_expiry(r: Any, longest: int, why: str) -> None:
    for name in sorted(r.scan_iter("*")):
        ttl = r.pttl(name)
        if ttl < 0:
            raise NotYet(f"the key {name!r} has no TTL: it would outlive its user, and every user leaves one behind")
        if round(ttl / 1000) > longest:
            raise NotYet(f"the key {name!r} lives {round(ttl / 1000)} s; {why}, so it needs at most {longest}")


# -- the exercise: two rules in one decision ------------------------------------------------------------


def _in(times: list[float], t: float, span: float) -> int:
    return sum(1 for s in times if t - span < s <= t)


def _why_through(t: float, admitted: list[float], span: float, limit: int, mark: str, spell: str,
                 per_client: bool) -> str:
    """The likely cause of a request let through: a count per clock mark, per client, or over a shorter span.

    A count that starts over at a clock mark and a count over a shorter span can both let the same request
    through (the oldest counted request leaves a span that short): then the message names both, with the span.
    """
    counted = [s for s in admitted if t - span < s <= t]
    oldest = t - min(counted)
    if sum(1 for s in admitted if s // span == t // span) < limit and t % span < span - oldest:
        return (f": the oldest of these came {oldest:.1f} s before, so a count over a span that short, or one "
                f"that starts over at every {mark} of the clock, lets this through; the rule holds for any {spell}")
    if per_client:
        return (": the checker sends through two clients, like two app servers, and the counts must be the same "
                "for both")
    return f": each admitted request counts for the whole {spell}, and the oldest of these came {oldest:.1f} s before"


def _explain(t: float, i: int, n: int, answer: bool, admitted: list[float], sent: list[float],
             per_client: bool = False) -> str:
    """The first wrong answer, said in the rule's own terms, with its likely cause when one fits."""
    short, hour = _in(admitted, t, SHORT), _in(admitted, t, HOUR)
    where = f"at {_when(t)} request {i} of {n} was {'allowed' if answer else 'denied'}"
    if answer:
        if short >= SHORT_LIMIT:
            said = f"{where}, though {short} had been allowed in the 10 s before it (limit {SHORT_LIMIT})"
            return said + _why_through(t, admitted, SHORT, SHORT_LIMIT, "10-second mark", "10 s", per_client)
        said = f"{where}, though {hour} had been allowed in the hour before it (limit {HOUR_LIMIT})"
        return said + _why_through(t, admitted, HOUR, HOUR_LIMIT, "full hour", "hour", per_client)
    said = (f"{where}, though {short} had been allowed in the 10 s before it and {hour} in the hour "
            f"(limits {SHORT_LIMIT} and {HOUR_LIMIT})")
    if _in(sent, t, SHORT) >= SHORT_LIMIT:
        return said + ": requests that were denied still counted against the 10-second rule"
    if _in(sent, t, HOUR) >= HOUR_LIMIT:
        return said + ": requests that were denied still counted against the hourly rule"
    if len(admitted) >= SHORT_LIMIT:
        return said + (": the checker's clock is the now it passes, and by it the earlier requests are more "
                       "than 10 s old")
    return said


def _allows(admitted: list[float], t: float) -> bool:
    return _in(admitted, t, SHORT) < SHORT_LIMIT and _in(admitted, t, HOUR) < HOUR_LIMIT


def _check_body(fn: Allow) -> str:
    server = fake_server()  # two clients of one server: two app servers sharing one Redis
    clients = [fakeredis.FakeRedis(server=server, decode_responses=True) for _ in range(2)]
    r = clients[0]
    admitted: list[float] = []
    sent: list[float] = []
    apart: list[list[float]] = [[], []]  # what each client alone would have admitted, had it counted alone
    like_apart, turn = True, 0
    for t, n in TIMELINE:
        if t == TIMELINE[-1][0]:
            _age(r, AGED)
        for i in range(1, n + 1):
            turn = 1 - turn
            answer = _boolean(fn(clients[turn], "ada", T0 + t))
            expected = _allows(admitted, t)
            alone = _allows(apart[turn], t)
            like_apart = like_apart and answer == alone
            if alone:
                apart[turn].append(t)
            if answer != expected:
                raise NotYet(_explain(t, i, n, answer, admitted, sent, per_client=like_apart))
            sent.append(t)
            if answer:
                admitted.append(t)
            if not r.dbsize():
                raise NotYet(f"at {_when(t)} nothing was stored in Redis after a request: the counts must live "
                             "there, where every app server sees them (and a key's TTL runs on the server's own "
                             "clock, not on the now the checker passes)")
        if t == 49.9 and not _boolean(fn(r, "grace", T0 + t)):
            raise NotYet("another user's first request was denied: each user has limits of their own")
    _check_expiry(r, int(HOUR), "nothing older than an hour decides anything")
    last = max(admitted)
    _check_lasting(r, HOUR - (TIMELINE[-1][0] - last),
                   f"the longest-lived key lives {{ttl}} s more, but the requests admitted at {_when(last)} count "
                   f"against the hourly rule for {HOUR:g} s: a user quiet for a moment would get a fresh hour",
                   AGED)
    _check_the_race(fn)
    _check_a_later_request(fn)
    _check_threads(fn, T0 + 200.0, SHORT_LIMIT)
    return ("5 in any 10 s and 20 in any hour, per user; a denied request counts against neither; every key "
            "expires; and exact with a request slipped between your round trips and with 10 threads at once")


def check(fn: Allow) -> None:
    """Check ``fn(r, user_id, now)`` and print one line: what is wrong first, or that it passes."""
    report(lambda: _check_body(fn), "ratelimit")


# -- the stretch: the sliding window counter as a script of your own --------------------------------------

LIMIT, WINDOW = 10, 60.0
# (seconds after T0, requests): a window filled; the next one at 15 s and 45 s in; two windows on; a gap.
STRETCH_TIMELINE = [(30.0, 12), (75.0, 4), (105.0, 7), (130.0, 5), (301.0, 11)]
STRETCH_AGED = 10.0  # seconds: as AGED, before the stretch timeline's last step
SCRIPT_COMMANDS = {"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO"}


class _Counter:
    """The sliding window counter, in plain Python: the arithmetic the learner's script must do."""

    def __init__(self, count_denied: bool = False) -> None:
        self.w: int | None = None
        self.curr = self.prev = 0
        self.count_denied = count_denied

    def estimate(self, t: float) -> tuple[int, int, float, float]:
        """(prev, curr, seconds of the previous window still inside the last WINDOW, the estimate) at ``t``."""
        w = math.floor(t / WINDOW)
        prev, curr = (self.curr, 0) if self.w == w - 1 else (self.prev, self.curr) if self.w == w else (0, 0)
        left = WINDOW - (t - w * WINDOW)
        return prev, curr, left, prev * left / WINDOW + curr

    def hit(self, t: float) -> bool:
        prev, curr, _, estimate = self.estimate(t)
        allowed = estimate + 1 <= LIMIT
        self.w, self.prev = math.floor(t / WINDOW), prev
        self.curr = curr + (1 if allowed or self.count_denied else 0)
        return allowed


def _requests(timeline: list[tuple[float, int]]) -> Iterator[tuple[float, int, int]]:
    for t, n in timeline:
        for i in range(1, n + 1):
            yield t, i, n


def stretch_margins() -> list[float]:
    """How far each weighted decision of the timeline is from a tie (for the test that none is close)."""
    model, margins = _Counter(), []
    for t, _, _ in _requests(STRETCH_TIMELINE):
        prev, _, _, estimate = model.estimate(t)
        if prev:
            margins.append(LIMIT - (estimate + 1))
        model.hit(t)
    return margins


def _shipped() -> tuple[str, list[str]]:
    from ..ratelimit import SlidingWindowCounter

    return SlidingWindowCounter.script.sha, _shape(SlidingWindowCounter.script.source)


_LUA_WORDS = set("and break do else elseif end false for function if in local nil not or repeat return then true "
                 "until while redis call pcall math floor ceil max min tonumber tostring KEYS ARGV".split())


def _shape(source: str) -> list[str]:
    """A script's tokens with every name of its own made the same: renaming its locals does not change it."""
    tokens = re.findall(r"'[^']*'|\"[^\"]*\"|\d+(?:\.\d+)?|[A-Za-z_]\w*|==|~=|<=|>=|\.\.|\S", _bare_lines(source))
    return [t.upper() if t[0] in "'\"" else "name" if (t[0].isalpha() or t[0] == "_") and t not in _LUA_WORDS
            else t for t in tokens]


def _like_the_chapter(source: str, shipped: list[str]) -> bool:
    """Is ``source`` the chapter's script, renamed or lightly edited? (A script written afresh shares about
    60% of its shape with it; a copy with its names changed or a line edited, 99%.)"""
    return difflib.SequenceMatcher(None, _shape(source), shipped, autojunk=False).ratio() >= 0.85


def _bare_lines(source: str) -> str:
    """A script without its comments."""
    source = re.sub(r"--\[(=*)\[.*?\]\1\]", "", source, flags=re.S)
    return re.sub(r"--[^\n]*", "", source)


def _scripts_in(commands: list[Any], sources: dict[str, str]) -> list[str]:
    """The SHA1 of every script a list of traced commands ran or loaded (remembering sources by SHA)."""
    found = []
    for command in commands:
        name, args = command.name, command.args
        if name in ("EVAL", "EVAL_RO") or (name == "SCRIPT" and len(args) > 2 and args[1].upper() == "LOAD"):
            source = args[1] if name != "SCRIPT" else args[2]
            sha = hashlib.sha1(source.encode()).hexdigest()
            sources[sha] = source
            found.append(sha)
        elif name in ("EVALSHA", "EVALSHA_RO") and len(args) > 1:
            found.append(args[1].lower())
    return found


def _one_script_call(recorded: Any, first: bool) -> None:
    """Each decision: one round trip holding one script call (a first call may load the script before)."""
    trips: dict[int, list[Any]] = {}
    for command in recorded.commands:
        trips.setdefault(command.round_trip, []).append(command)
    last = trips.get(recorded.round_trips, [])
    loading = all(len(c) == 1 and (c[0].name in ("EVALSHA", "EVALSHA_RO", "SCRIPT"))
                  for n, c in trips.items() if n != recorded.round_trips)
    if len(last) == 1 and last[0].name in SCRIPT_COMMANDS and (recorded.round_trips == 1 or (first and loading)):
        return
    if recorded.round_trips > 1:
        raise NotYet(f"a decision took {recorded.round_trips} round trips; each decision should be one call of "
                     "your script, alone in its round trip")
    raise NotYet(f"a decision took 1 round trip of {len(last)} command{'s' * (len(last) != 1)}; each decision "
                 "should be one call of your script, alone in its round trip")


def _say_estimate(t: float, i: int, n: int, answer: bool, model: _Counter) -> str:
    prev, curr, left, estimate = model.estimate(t)
    shown = f"{estimate:.2f}".rstrip("0").rstrip(".")
    into = WINDOW - left
    said = (f"at {_when(t)} ({into:g} s into a window) request {i} of {n} was {'allowed' if answer else 'denied'}; "
            f"the estimate before it was {prev} × {left:g}/{WINDOW:g} + {curr} = {shown}, and {shown} + 1 is "
            f"{'over' if answer else 'within'} the limit of {LIMIT}")
    return said


def _check_stretch_body(fn: Allow) -> str:
    shipped_sha, shipped_shape = _shipped()
    r = fresh_client()
    model, careless, sources, first = _Counter(), _Counter(count_denied=True), {}, True
    for t, i, n in _requests(STRETCH_TIMELINE):
        if (t, i) == (STRETCH_TIMELINE[-1][0], 1):
            _age(r, STRETCH_AGED)
        with trace(r) as recorded:
            answer = _boolean(fn(r, "ada", T0 + t))
        ran = _scripts_in(recorded.commands, sources)
        if any(sha == shipped_sha or _like_the_chapter(sources.get(sha, ""), shipped_shape) for sha in ran):
            raise NotYet("it runs the chapter's own sliding window counter script; the stretch is to write the "
                         "script yourself")
        _one_script_call(recorded, first)
        first = False
        if answer != (model.estimate(t)[3] + 1 <= LIMIT):
            said = _say_estimate(t, i, n, answer, model)
            if not answer and careless.estimate(t)[3] + 1 > LIMIT:
                said += ": requests that were denied still counted"
            raise NotYet(said)
        if model.hit(t):
            last_admitted = t
        careless.hit(t)
    _check_expiry(r, int(2 * WINDOW), "a window's count matters until the next window ends")
    until = (math.floor(last_admitted / WINDOW) + 2) * WINDOW - STRETCH_TIMELINE[-1][0]
    _check_lasting(r, until, f"the key {{name!r}} lives {{ttl}} s more, but its counts still decide requests until "
                             f"the next window ends, {until:g} s after the last request", STRETCH_AGED)
    if not _boolean(fn(r, "grace", T0 + 301.0)):
        raise NotYet("another user's first request was denied: each user has a counter of their own")
    _check_expiry(r, int(2 * WINDOW), "a window's count matters until the next window ends")
    _check_threads(fn, T0 + 30.0, LIMIT)
    return ("the sliding window counter, 10 per 60 s, in your own script: every decision agrees with the model, "
            "takes one round trip, is exact with 10 threads at once, and every key expires")


def check_stretch(fn: Allow) -> None:
    """Check ``fn(r, user_id, now)``, a sliding window counter in a Lua script of your own; print one line."""
    report(lambda: _check_stretch_body(fn), "ratelimit-stretch")
