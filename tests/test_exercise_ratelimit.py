"""Chapter checker tests (ratelimit): the references pass; each wrong answer gets one line naming its problem.

The exercise: ``allow(r, user_id, now)``, at most 5 requests in any 10 s and 20 in any hour, a denied
request counted by neither rule. The stretch: ``allow_by_estimate(r, user_id, now)``, the sliding window
counter (10 per 60 s) as a Lua script of the learner's own.
"""
from __future__ import annotations

import time
import uuid
from pathlib import Path

import nbformat
import pytest

from helpers import messages_of
from patterns.exercises import ratelimit
from patterns.ratelimit import FixedWindow, SlidingLog, SlidingWindowCounter, check_rate_limit
from patterns.scripts import load_script
from solutions.ratelimit import SLIDING_WINDOW_COUNTER, TWO_RULES, allow, allow_by_estimate


def stub(r, user_id, now):
    raise NotImplementedError


def out_of(check, solution, capsys):
    check(solution)
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out  # exactly one line
    return out


# -- the exercise: two rules in one decision -----------------------------------------------------


def seed_port(r, user_id, limit, window_seconds, clock):  # the notebook's port of the seed, line for line
    key = f"ratelimit:{user_id}"
    now = int(clock() * 1000)
    pipe = r.pipeline(transaction=False)
    pipe.zremrangebyscore(key, 0, now - window_seconds * 1000)
    pipe.zadd(key, {str(now): now})
    pipe.zcard(key)
    pipe.expire(key, window_seconds)
    return pipe.execute()[2] <= limit


def the_seed_for_the_short_rule(r, user_id, now):
    return seed_port(r, user_id, 5, 10, lambda: now)


def the_seed_for_both_rules(r, user_id, now):
    return seed_port(r, user_id, 5, 10, lambda: now) and seed_port(r, user_id, 20, 3600, lambda: now)


def the_library_call(r, user_id, now):  # check_rate_limit decides on the server's clock
    return check_rate_limit(r, user_id, 5, 10)


def one_library_limiter(r, user_id, now):
    return SlidingLog(r, 5, 10, name="short", clock=lambda: now).hit(user_id).allowed


def short_rule_first(r, user_id, now):  # the short rule counts requests the hourly rule then denies
    return (SlidingLog(r, 5, 10, name="short", clock=lambda: now).hit(user_id).allowed
            and SlidingLog(r, 20, 3600, name="hour", clock=lambda: now).hit(user_id).allowed)


def hourly_rule_first(r, user_id, now):  # the hourly rule counts requests the short rule then denies
    return (SlidingLog(r, 20, 3600, name="hour", clock=lambda: now).hit(user_id).allowed
            and SlidingLog(r, 5, 10, name="short", clock=lambda: now).hit(user_id).allowed)


def two_fixed_window_limiters(r, user_id, now):  # the same two calls, but each limiter object is a fixed window
    return (FixedWindow(r, 5, 10, name="short", clock=lambda: now).hit(user_id).allowed
            and FixedWindow(r, 20, 3600, name="hour", clock=lambda: now).hit(user_id).allowed)


FIXED_WINDOWS = """
local now = tonumber(ARGV[1])
local short, hour = KEYS[1] .. ':' .. math.floor(now / 10000), KEYS[1] .. ':h' .. math.floor(now / 3600000)
if tonumber(redis.call('GET', short) or 0) >= 5 or tonumber(redis.call('GET', hour) or 0) >= 20 then return 0 end
redis.call('INCR', short); redis.call('PEXPIRE', short, 10000)
redis.call('INCR', hour); redis.call('PEXPIRE', hour, 3600000)
return 1
"""


def fixed_windows(r, user_id, now):  # atomic and denied-not-counted, but each rule resets at a clock boundary
    return r.eval(FIXED_WINDOWS, 1, f"limit:{user_id}", int(now * 1000)) == 1


FIXED_HOUR = TWO_RULES.replace(
    "local in_the_hour = redis.call('ZCARD', KEYS[1])",
    "local in_the_hour = redis.call('ZCOUNT', KEYS[1], now - now % 3600000, '+inf')")


def fixed_hour(r, user_id, now):  # the 10-second rule slides, the hourly one starts over on the hour
    return r.eval(FIXED_HOUR, 1, f"limit:{user_id}", int(now * 1000), uuid.uuid4().hex) == 1


SHORT_HOUR = TWO_RULES.replace("now - 3600000)", "now - 3000000)")  # "an hour" counted over 3000 s


def short_hour(r, user_id, now):  # both rules slide, but the hourly one over 50 minutes
    return r.eval(SHORT_HOUR, 1, f"limit:{user_id}", int(now * 1000), uuid.uuid4().hex) == 1


def read_then_write(r, user_id, now):  # right on one thread: the count is read, decided on, then written
    key, ms = f"limit:{user_id}", int(now * 1000)
    times = [t for _, t in r.zrange(key, 0, -1, withscores=True) if t > ms - 3_600_000]
    if len(times) >= 20 or sum(t > ms - 10_000 for t in times) >= 5:
        return False
    pipe = r.pipeline(transaction=True)
    pipe.zadd(key, {uuid.uuid4().hex: ms})
    pipe.zremrangebyscore(key, "-inf", ms - 3_600_000)
    pipe.expire(key, 3600)
    pipe.execute()
    return True


def watch_without_retry(r, user_id, now):  # optimistic, but a lost race is a denial even when there is room
    import redis

    key, ms = f"limit:{user_id}", int(now * 1000)
    with r.pipeline() as pipe:
        try:
            pipe.watch(key)
            times = [t for _, t in pipe.zrange(key, 0, -1, withscores=True) if t > ms - 3_600_000]
            if len(times) >= 20 or sum(t > ms - 10_000 for t in times) >= 5:
                return False
            pipe.multi()
            pipe.zadd(key, {uuid.uuid4().hex: ms})
            pipe.expire(key, 3600)
            pipe.execute()
            return True
        except redis.WatchError:
            return False


def no_expiry(r, user_id, now):
    return r.eval(TWO_RULES.replace("redis.call('PEXPIRE', KEYS[1], 3600000)", ""), 1, f"limit:{user_id}",
                  int(now * 1000), uuid.uuid4().hex) == 1


def two_hours(r, user_id, now):
    return r.eval(TWO_RULES.replace("'PEXPIRE', KEYS[1], 3600000", "'PEXPIRE', KEYS[1], 7200000"), 1, f"limit:{user_id}",
                  int(now * 1000), uuid.uuid4().hex) == 1


def one_log_for_everyone(r, user_id, now):
    return allow(r, "everyone", now)


IN_THIS_PROCESS: dict[str, list[float]] = {}


def in_this_process(r, user_id, now):  # right arithmetic, but the counts live in one app server's memory
    times = [t for t in IN_THIS_PROCESS.setdefault(user_id, []) if t > now - 3600]
    if len(times) >= 20 or sum(t > now - 10 for t in times) >= 5:
        return False
    IN_THIS_PROCESS[user_id] = times + [now]
    return True


def expires_by_the_given_time(r, user_id, now):  # EXPIREAT on the checker's now: in the past on the server
    allowed = allow(r, user_id, now)
    r.expireat(f"limit:{user_id}", int(now) + 3600)
    return allowed


def off_by_one(r, user_id, now):
    return r.eval(TWO_RULES.replace(">= 5", ">= 6"), 1, f"limit:{user_id}", int(now * 1000), uuid.uuid4().hex) == 1


@pytest.mark.parametrize(
    ("solution", "says"),
    [
        (stub, "not yet: the function still raises NotImplementedError"),
        (lambda r, u, now: 1, "not yet: it returned 1; return True (allowed) or False (denied)"),
        (the_seed_for_the_short_rule, "not yet: at +9.5 s request 6 of 8 was allowed, though 5 had been allowed "
                                      "in the 10 s before it (limit 5)"),
        (the_seed_for_both_rules, "not yet: at +9.5 s request 6 of 8 was allowed, though 5 had been allowed "
                                  "in the 10 s before it (limit 5)"),
        (the_library_call, "not yet: at +19.6 s request 1 of 8 was denied, though 0 had been allowed in the 10 s "
                           "before it and 5 in the hour (limits 5 and 20): the checker's clock is the now it "
                           "passes, and by it the earlier requests are more than 10 s old"),
        (one_library_limiter, "not yet: at +49.9 s request 1 of 2 was allowed, though 20 had been allowed in "
                              "the hour before it (limit 20)"),
        (short_rule_first, "not yet: at +3609.6 s request 2 of 6 was denied, though 1 had been allowed in the "
                           "10 s before it and 16 in the hour (limits 5 and 20): requests that were denied still "
                           "counted against the 10-second rule"),
        (hourly_rule_first, "not yet: at +29.7 s request 3 of 8 was denied, though 2 had been allowed in the "
                            "10 s before it and 12 in the hour (limits 5 and 20): requests that were denied "
                            "still counted against the hourly rule"),
        (fixed_windows, "not yet: at +10.5 s request 1 of 2 was allowed, though 5 had been allowed in the 10 s "
                        "before it (limit 5): the oldest of these came 1.0 s before, so a count over a span that "
                        "short, or one that starts over at every 10-second mark of the clock, lets this through; "
                        "the rule holds for any 10 s"),
        (fixed_hour, "not yet: at +3601.0 s request 1 of 1 was allowed, though 20 had been allowed in the hour "
                     "before it (limit 20): the oldest of these came 3591.5 s before, so a count over a span that "
                     "short, or one that starts over at every full hour of the clock, lets this through; the rule "
                     "holds for any hour"),
        (short_hour, "not yet: at +3601.0 s request 1 of 1 was allowed, though 20 had been allowed in the hour "
                     "before it (limit 20): the oldest of these came 3591.5 s before, so a count over a span that "
                     "short, or one that starts over at every full hour of the clock, lets this through; the rule "
                     "holds for any hour"),
        (two_fixed_window_limiters, "not yet: at +10.5 s request 1 of 2 was allowed, though 5 had been allowed"),
        (one_log_for_everyone, "not yet: another user's first request was denied: each user has limits of "
                               "their own"),
        (no_expiry, "not yet: the key 'limit:ada' has no TTL: it would outlive its user, and every user "
                    "leaves one behind"),
        (two_hours, "not yet: the key 'limit:ada' lives 7200 s; nothing older than an hour decides anything, "
                    "so it needs at most 3600"),
        (in_this_process, "not yet: at +9.5 s nothing was stored in Redis after a request: the counts must "
                          "live there, where every app server sees them"),
        (expires_by_the_given_time, "not yet: at +9.5 s nothing was stored in Redis after a request"),
        (off_by_one, "not yet: at +9.5 s request 6 of 8 was allowed, though 5 had been allowed in the 10 s "
                     "before it (limit 5)"),
        (read_then_write, "not yet: with one place left, a second request ran between your function's round "
                          "trips 1 and 2, and both were allowed: the check and the count must be one step "
                          "that nothing can come between"),
        (watch_without_retry, "not yet: with two places left, a second request ran between your function's "
                              "round trips"),
    ],
)
def test_the_checker_names_the_problem(capsys, solution, says):
    out = out_of(ratelimit.check, solution, capsys)
    assert out.startswith(says), out


def watch_and_retry(r, user_id, now):  # another right answer: optimistic, and a lost race is tried again
    import redis

    key, ms = f"limit:{user_id}", int(now * 1000)
    with r.pipeline() as pipe:
        while True:
            try:
                pipe.watch(key)
                times = [t for _, t in pipe.zrange(key, 0, -1, withscores=True) if t > ms - 3_600_000]
                if len(times) >= 20 or sum(t > ms - 10_000 for t in times) >= 5:
                    return False
                pipe.multi()
                pipe.zadd(key, {uuid.uuid4().hex: ms})
                pipe.expire(key, 3600)
                pipe.execute()
                return True
            except redis.WatchError:
                continue


@pytest.mark.parametrize("solution", [allow, watch_and_retry])
def test_the_reference_and_another_right_answer_pass(capsys, solution):
    out = out_of(ratelimit.check, solution, capsys)
    assert out.startswith("✓ 5 in any 10 s and 20 in any hour, per user"), out


def test_the_check_is_fast(capsys):
    started = time.monotonic()
    ratelimit.check(allow)
    capsys.readouterr()
    assert time.monotonic() - started < 10  # the brief says < 2 s; 10 leaves room for a loaded machine


# Words that would hand over the answer: a checker's message says what is wrong, not what to type.
GIVEAWAYS = ["zadd", "zcount", "zcard", "zremrangebyscore", "sorted set", "lua", "script", "eval", "multi",
             "watch", "transaction", "incr", "expire", "pipeline"]


def test_the_checker_never_names_the_answer(capsys):
    wrong = [the_seed_for_the_short_rule, the_library_call, short_rule_first, hourly_rule_first, fixed_windows,
             read_then_write, watch_without_retry, no_expiry, two_hours, one_log_for_everyone, lambda r, u, n: 1]
    out = messages_of(ratelimit.check, wrong, capsys)
    assert [word for word in GIVEAWAYS if word in out] == []


# -- the stretch: the sliding window counter as a script of one's own ----------------------------


SHIPPED = load_script("sliding_window_counter")


def the_library_counter(r, user_id, now):
    return SlidingWindowCounter(r, 10, 60, clock=lambda: now).hit(user_id).allowed


def the_shipped_script_recommented(r, user_id, now):  # the chapter's file, with a comment of one's own
    source = "-- my own limiter\n" + SHIPPED.source
    return r.eval(source, 1, f"estimate:{user_id}", now * 1000, 10, 60_000, 1)[0] == 1


def the_seed_as_the_stretch(r, user_id, now):
    return seed_port(r, user_id, 10, 60, lambda: now)


def counter_in_python(r, user_id, now):  # the right arithmetic, read and written from Python
    key, ms, window = f"estimate:{user_id}", now * 1000, 60_000
    w = int(ms // window)
    stored, curr, prev = r.hmget(key, "w", "curr", "prev")
    curr, prev = int(curr or 0), int(prev or 0)
    if stored is None or int(stored) < w - 1:
        curr, prev = 0, 0
    elif int(stored) == w - 1:
        curr, prev = 0, curr
    if prev * (window - (ms - w * window)) / window + curr + 1 > 10:
        return False
    r.hset(key, mapping={"w": w, "curr": curr + 1, "prev": prev})
    r.pexpire(key, 2 * window)
    return True


def variant(old, new):
    source = SLIDING_WINDOW_COUNTER.replace(old, new)
    assert source != SLIDING_WINDOW_COUNTER, old

    def solution(r, user_id, now):
        return r.eval(source, 1, f"estimate:{user_id}", now * 1000, 10, 60_000) == 1

    return solution


SLIDING_LOG = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60000)
if redis.call('ZCARD', KEYS[1]) >= 10 then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[2]); redis.call('PEXPIRE', KEYS[1], 60000)
return 1
"""


def exact_log(r, user_id, now):
    return r.eval(SLIDING_LOG, 1, f"estimate:{user_id}", now * 1000, uuid.uuid4().hex) == 1


def two_round_trips(r, user_id, now):
    allowed = r.eval(SLIDING_WINDOW_COUNTER.replace("redis.call('PEXPIRE', KEYS[1], 2 * window)", ""), 1,
                     f"estimate:{user_id}", now * 1000, 10, 60_000) == 1
    r.pexpire(f"estimate:{user_id}", 120_000)
    return allowed


@pytest.mark.parametrize(
    ("solution", "says"),
    [
        (stub, "not yet: the function still raises NotImplementedError"),
        (the_library_counter, "not yet: it runs the chapter's own sliding window counter script; the stretch "
                              "is to write the script yourself"),
        (the_shipped_script_recommented, "not yet: it runs the chapter's own sliding window counter script"),
        (the_seed_as_the_stretch, "not yet: a decision took 1 round trip of 4 commands; each decision should be one "
                                  "call of your script, alone in its round trip"),
        (counter_in_python, "not yet: a decision took 3 round trips"),
        (two_round_trips, "not yet: a decision took 2 round trips"),
        (exact_log, "not yet: at +75.0 s (15 s into a window) request 1 of 4 was denied; the estimate before it "
                    "was 10 × 45/60 + 0 = 7.5, and 7.5 + 1 is within the limit of 10"),
        (variant("prev * (window - (now - w * window)) / window", "prev * (now - w * window) / window"),
         "not yet: at +75.0 s (15 s into a window) request 3 of 4 was allowed; the estimate before it was "
         "10 × 45/60 + 2 = 9.5, and 9.5 + 1 is over the limit of 10"),
        (variant("local estimate = prev * (window - (now - w * window)) / window + curr", "local estimate = curr"),
         "not yet: at +75.0 s (15 s into a window) request 3 of 4 was allowed; the estimate before it was "
         "10 × 45/60 + 2 = 9.5"),
        (variant("if estimate + 1 > limit then\n  return 0\nend\nredis.call('HSET', KEYS[1], 'w', w, 'curr', "
                 "curr + 1, 'prev', prev)",
                 "redis.call('HSET', KEYS[1], 'w', w, 'curr', curr + 1, 'prev', prev)\n"
                 "if estimate + 1 > limit then\n  return 0\nend"),
         "not yet: at +75.0 s (15 s into a window) request 2 of 4 was denied; the estimate before it was "
         "10 × 45/60 + 1 = 8.5, and 8.5 + 1 is within the limit of 10: requests that were denied still counted"),
        (variant("elseif stored ~= w then\n  prev, curr = 0, 0 ", "elseif false then\n  prev, curr = 0, 0 "),
         "not yet: at +301.0 s (1 s into a window) request 1 of 11 was denied; the estimate before it was "
         "0 × 59/60 + 0 = 0, and 0 + 1 is within the limit of 10"),
        (variant("if stored == w - 1 then", "if stored and stored < w then"),
         "not yet: at +301.0 s (1 s into a window) request 7 of 11 was denied; the estimate before it was "
         "0 × 59/60 + 6 = 6, and 6 + 1 is within the limit of 10"),
        (variant("redis.call('PEXPIRE', KEYS[1], 2 * window)", ""), "not yet: the key 'estimate:ada' has no TTL"),
        (variant("redis.call('PEXPIRE', KEYS[1], 2 * window)", "redis.call('PEXPIRE', KEYS[1], 10 * window)"),
         "not yet: the key 'estimate:ada' lives 600 s; a window's count matters until the next window ends, "
         "so it needs at most 120"),
        (lambda r, u, now: allow_by_estimate(r, "everyone", now),
         "not yet: another user's first request was denied: each user has a counter of their own"),
    ],
)
def test_the_stretch_checker_names_the_problem(capsys, solution, says):
    out = out_of(ratelimit.check_stretch, solution, capsys)
    assert out.startswith(says), out


def eval_every_time(r, user_id, now):  # the whole script in every call: still one round trip
    return r.eval(SLIDING_WINDOW_COUNTER, 1, f"estimate:{user_id}", now * 1000, 10, 60_000) == 1


def own_script_object(r, user_id, now):  # the chapter's script loader, with the learner's own script
    from patterns.scripts import LuaScript

    return LuaScript("mine", SLIDING_WINDOW_COUNTER)(r, [f"estimate:{user_id}"], [now * 1000, 10, 60_000]) == 1


@pytest.mark.parametrize("solution", [allow_by_estimate, eval_every_time, own_script_object])
def test_the_stretch_reference_and_other_right_answers_pass(capsys, solution):
    out = out_of(ratelimit.check_stretch, solution, capsys)
    assert out.startswith("✓ the sliding window counter, 10 per 60 s, in your own script"), out


def test_the_stretch_timeline_never_asks_for_a_decision_on_a_tie():
    # Every decision of the stretch's timeline is clear of the limit by a margin, so how a learner orders
    # the arithmetic (in ms or s, weight first or last) cannot change an answer.
    assert min(abs(margin) for margin in ratelimit.stretch_margins()) > 0.1


STRETCH_GIVEAWAYS = ["hmget", "hset", "pexpire", "math.floor", "register_script", "evalsha"]


def test_the_stretch_checker_never_names_the_answer(capsys):
    wrong = [exact_log, two_round_trips, counter_in_python, the_library_counter,
             variant("redis.call('PEXPIRE', KEYS[1], 2 * window)", "")]
    out = messages_of(ratelimit.check_stretch, wrong, capsys)
    assert [word for word in STRETCH_GIVEAWAYS if word in out] == []


# -- wrong answers a review found passing (each failed before the checker was changed) -----------


def short_rule_over(ms):  # "5 in any 10 s" counted over a shorter span
    source = TWO_RULES.replace("now - 10000", f"now - {ms}")
    assert source != TWO_RULES
    return lambda r, user_id, now: r.eval(source, 1, f"limit:{user_id}", int(now * 1000), uuid.uuid4().hex) == 1


def hour_rule_over(ms):  # "20 in any hour" counted over a shorter span
    source = TWO_RULES.replace("now - 3600000", f"now - {ms}")
    assert source != TWO_RULES
    return lambda r, user_id, now: r.eval(source, 1, f"limit:{user_id}", int(now * 1000), uuid.uuid4().hex) == 1


def history_expires_after(ms):  # the log forgets the hour once its user is quiet for a moment
    source = TWO_RULES.replace("'PEXPIRE', KEYS[1], 3600000", f"'PEXPIRE', KEYS[1], {ms}")
    assert source != TWO_RULES
    return lambda r, user_id, now: r.eval(source, 1, f"limit:{user_id}", int(now * 1000), uuid.uuid4().hex) == 1


PER_CLIENT: dict[tuple[int, str], list[float]] = {}
PER_CLIENT_LOCK = __import__("threading").Lock()


def counts_in_the_client(r, user_id, now):  # right arithmetic in this process, a key in Redis for show
    with PER_CLIENT_LOCK:
        times = [t for t in PER_CLIENT.setdefault((id(r), user_id), []) if t > now - 3600]
        allowed = len(times) < 20 and sum(t > now - 10 for t in times) < 5
        PER_CLIENT[(id(r), user_id)] = times + [now] * allowed
    r.set(f"seen:{user_id}", 1, ex=3600)
    return allowed


def short_then_hour_taking_back(r, user_id, now):  # two library limiters, the first one's count undone
    short = SlidingLog(r, 5, 10, name="short", clock=lambda: now)
    hour = SlidingLog(r, 20, 3600, name="hour", clock=lambda: now)
    if not short.hit(user_id).allowed:
        return False
    if hour.hit(user_id).allowed:
        return True
    r.zpopmax(short.key_for(user_id))
    return False


def hour_then_short_taking_back(r, user_id, now):
    short = SlidingLog(r, 5, 10, name="short", clock=lambda: now)
    hour = SlidingLog(r, 20, 3600, name="hour", clock=lambda: now)
    if not hour.hit(user_id).allowed:
        return False
    if short.hit(user_id).allowed:
        return True
    r.zpopmax(hour.key_for(user_id))
    return False


@pytest.mark.parametrize(
    ("solution", "says"),
    [
        (short_rule_over(2000), "not yet: at +39.6 s request 1 of 1 was allowed, though 5 had been allowed in the "
                                "10 s before it (limit 5): each admitted request counts for the whole 10 s"),
        (short_rule_over(9000), "not yet: at +39.6 s request 1 of 1 was allowed, though 5 had been allowed"),
        (hour_rule_over(3_599_000), "not yet: at +3609.4 s request 1 of 1 was allowed, though 20 had been allowed "
                                    "in the hour before it (limit 20): each admitted request counts for the whole "
                                    "hour"),
        (history_expires_after(10_000), "not yet: the longest-lived key lives 10 s more, but the requests admitted "
                                        "at +3609.6 s count against the hourly rule for 3600 s"),
        (counts_in_the_client, "not yet: at +9.5 s request 6 of 8 was allowed, though 5 had been allowed in the "
                               "10 s before it (limit 5): the checker sends through two clients, like two app "
                               "servers, and the counts must be the same for both"),
        (short_then_hour_taking_back, "not yet: a request that the hourly rule denied still held a place in the "
                                      "10-second rule while a second request, 0.2 s later,"),
        (hour_then_short_taking_back, "not yet: a request that the 10-second rule denied still held a place in the "
                                      "hourly rule while a second request, 0.2 s later,"),
    ],
)
def test_the_checker_rejects_what_a_review_found(capsys, solution, says):
    out = out_of(ratelimit.check, solution, capsys)
    assert out.startswith(says), out


def test_the_review_s_messages_never_name_the_answer(capsys):
    wrong = [short_rule_over(2000), hour_rule_over(3_599_000), history_expires_after(10_000), counts_in_the_client,
             short_then_hour_taking_back, hour_then_short_taking_back]
    out = messages_of(ratelimit.check, wrong, capsys)
    assert [word for word in GIVEAWAYS if word in out] == []
    out = messages_of(ratelimit.check_stretch, [the_shipped_script_renamed, variant(
        "redis.call('PEXPIRE', KEYS[1], 2 * window)", "redis.call('PEXPIRE', KEYS[1], window)")], capsys)
    assert [word for word in STRETCH_GIVEAWAYS if word in out] == []


def the_shipped_script_renamed(r, user_id, now):  # the chapter's file with every local renamed
    import re

    source = SHIPPED.source
    for old, new in [("stored_w", "seen"), ("curr", "this_one"), ("prev", "last_one"), ("estimate", "guess"),
                     ("elapsed", "into"), ("reset_after", "empty_in"), ("retry", "wait"), ("cost", "units")]:
        source = re.sub(rf"\b{old}\b", new, source)
    return r.eval(source, 1, f"estimate:{user_id}", now * 1000, 10, 60_000, 1)[0] == 1


def the_shipped_script_trimmed(r, user_id, now):  # the chapter's file, its cost argument written in
    source = SHIPPED.source.replace("tonumber(ARGV[4])", "1")
    return r.eval(source, 1, f"estimate:{user_id}", now * 1000, 10, 60_000)[0] == 1


@pytest.mark.parametrize(
    ("solution", "says"),
    [
        (the_shipped_script_renamed, "not yet: it runs the chapter's own sliding window counter script"),
        (the_shipped_script_trimmed, "not yet: it runs the chapter's own sliding window counter script"),
        (variant("redis.call('PEXPIRE', KEYS[1], 2 * window)", "redis.call('PEXPIRE', KEYS[1], window)"),
         "not yet: the key 'estimate:ada' lives 60 s more, but its counts still decide requests until the next "
         "window ends, 119 s after the last request"),
    ],
)
def test_the_stretch_checker_rejects_what_a_review_found(capsys, solution, says):
    out = out_of(ratelimit.check_stretch, solution, capsys)
    assert out.startswith(says), out


def two_keys_one_per_rule(r, user_id, now):  # another right answer: a log per rule, each with its own TTL
    source = """
    local now = tonumber(ARGV[1])
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 10000)
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 3600000)
    if redis.call('ZCARD', KEYS[1]) >= 5 or redis.call('ZCARD', KEYS[2]) >= 20 then return 0 end
    redis.call('ZADD', KEYS[1], now, ARGV[2]); redis.call('PEXPIRE', KEYS[1], 10000)
    redis.call('ZADD', KEYS[2], now, ARGV[2]); redis.call('PEXPIRE', KEYS[2], 3600000)
    return 1
    """
    keys = [f"{{limit:{user_id}}}:10s", f"{{limit:{user_id}}}:1h"]  # one hash tag: one slot on a cluster
    return r.eval(source, 2, *keys, int(now * 1000), uuid.uuid4().hex) == 1


def test_another_right_answer_with_a_key_per_rule_passes(capsys):
    out = out_of(ratelimit.check, two_keys_one_per_rule, capsys)
    assert out.startswith("✓ 5 in any 10 s and 20 in any hour, per user"), out


def ttl_only_when_created(r, user_id, now):  # on a server the log dies an hour after the user's first request
    source = TWO_RULES.replace(
        "redis.call('ZADD', KEYS[1], now, ARGV[2])\nredis.call('PEXPIRE', KEYS[1], 3600000)",
        "redis.call('ZADD', KEYS[1], now, ARGV[2])\n"
        "if redis.call('ZCARD', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], 3600000) end")
    assert source != TWO_RULES
    return r.eval(source, 1, f"limit:{user_id}", int(now * 1000), uuid.uuid4().hex) == 1


def test_a_ttl_set_only_when_the_key_is_created_is_caught(capsys):
    out = out_of(ratelimit.check, ttl_only_when_created, capsys)
    assert out.startswith("not yet: the longest-lived key lives 100 s more, but the requests admitted at +3609.6 s "
                          "count against the hourly rule for 3600 s"), out
    assert "renewed" in out, out


def test_a_stretch_ttl_set_only_when_the_key_is_created_is_caught(capsys):
    solution = variant("redis.call('PEXPIRE', KEYS[1], 2 * window)",
                       "if stored == nil then redis.call('PEXPIRE', KEYS[1], 2 * window) end")
    out = out_of(ratelimit.check_stretch, solution, capsys)
    assert out.startswith("not yet: the key 'estimate:ada' lives 10 s more, but its counts still decide requests "
                          "until the next window ends, 119 s after the last request"), out
    assert "renewed" in out, out


# -- what chapter 02 shows around its exercises ------------------------------------------------------

CHAPTER_02 = Path(__file__).parent.parent / "notebooks" / "02_rate_limiting.ipynb"
LUA = Path(__file__).parent.parent / "patterns" / "lua"


def _cells_02():
    return nbformat.read(CHAPTER_02, as_version=4).cells


def _outputs(cell):
    return "".join(output.get("text", "") for output in cell.get("outputs", []))


def test_chapter_02_shows_the_shipped_sliding_log_script_read_from_its_file():
    shipped = (LUA / "sliding_log.lua").read_text(encoding="utf-8").splitlines()
    shown = [cell for cell in _cells_02() if cell.cell_type == "code" and "redis.call" in _outputs(cell)]
    assert shown, "no cell of chapter 02 shows a script that calls Redis"
    for cell in shown:
        lines = [line for line in _outputs(cell).splitlines() if line.strip() and line.strip() != "…"]
        assert len(lines) <= 15, lines  # an excerpt, not the whole file
        assert [line for line in lines if line not in shipped] == []  # read from the file: it cannot drift


def test_chapter_02_never_shows_the_stretchs_answer():
    log = (LUA / "sliding_log.lua").read_text(encoding="utf-8")  # lines the two scripts share are not the answer
    answer = [line.strip() for line in (LUA / "sliding_window_counter.lua").read_text(encoding="utf-8").splitlines()
              if len(line.strip()) > 20 and line.strip() not in log]
    page = "\n".join(cell.source + _outputs(cell) for cell in _cells_02())
    assert [line for line in answer if line in page] == []


def test_chapter_02_key_points_leave_the_decision_to_a_script_or_a_watched_transaction():
    points = next(cell.source for cell in _cells_02() if cell.source.startswith("## Key points"))
    assert "or at least" not in points
    assert "WATCH" in points and "retry" in points


def test_chapter_02_stretch_hint_leaves_the_state_machine_to_the_learner():
    hints = [cell.source for cell in _cells_02() if "Hint 2: the approach" in cell.source]
    assert len(hints) == 2
    assert "becomes the previous count" not in hints[1]
    assert "Keep one record per user of the requests" not in hints[0]
