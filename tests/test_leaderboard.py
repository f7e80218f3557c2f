"""Leaderboards: ordering, competition ranks, ties, pages, windows, removal, on every backend."""
from __future__ import annotations

import datetime as dt
import math
import threading
import uuid

import fakeredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aio_twins
from aio_twins import pytest_generate_tests  # noqa: F401  (pytest runs it: every test on both APIs)
from patterns import aio, keys
from patterns import leaderboard as leaderboard_module
from patterns.leaderboard import TIE_MAX_SCORE, Entry, Leaderboard, get_top_users, update_score
from patterns.trace import trace
from helpers import all_keys, before_round_trip

NOW = 1_700_000_000.0  # 2023-11-14, a Tuesday

# Every test here runs twice: on patterns.leaderboard, and on patterns.aio's twins through
# tests/aio_twins.py, unless marked sync_only with the reason.
api = aio_twins.both_apis(lambda leg: {"Leaderboard": leg.view(aio.Leaderboard),
                                       "update_score": leg.function(aio.update_score),
                                       "get_top_users": leg.function(aio.get_top_users)})


class Clock:
    def __init__(self, at: float = NOW) -> None:
        self.now = at

    def __call__(self) -> float:
        return self.now


def board(r, **options) -> Leaderboard:
    options.setdefault("clock", Clock())
    return Leaderboard(r, "game", **options)


def test_the_seed_functions_set_scores_and_read_the_best_first(r):
    for user, score in [("ada", 10), ("bob", 30), ("cy", 20), ("ada", 5)]:
        update_score(r, user, score)
    assert get_top_users(r, 2) == [("bob", 30.0), ("cy", 20.0)]
    assert get_top_users(r, 10)[-1] == ("ada", 5.0)  # "set" semantics, as in the seed


def test_reads_use_zrange_rev_in_one_round_trip(r):
    update_score(r, "ada", 1)
    get_top_users(r, 10)  # loads the script
    with trace(r) as t:
        get_top_users(r, 10)
    assert t.round_trips == 1 and t.names == ["EVALSHA"]
    script = leaderboard_module._READ.source
    assert "'ZRANGE', KEYS[1], start, stop, 'REV'" in script and "ZREVRANGE'" not in script


def test_equal_scores_share_a_rank_and_the_next_rank_skips(r):
    lb = board(r)
    for member, score in [("ada", 100), ("bob", 90), ("cy", 100), ("dee", 80), ("eve", 90)]:
        lb.submit(member, score)
    assert [(e.rank, e.score) for e in lb.top(5)] == [(1, 100), (1, 100), (3, 90), (3, 90), (5, 80)]
    assert lb.rank("eve").rank == 3 and lb.rank("dee").rank == 5


def test_best_mode_keeps_the_highest_and_sum_mode_adds(r):
    best, total = board(r), Leaderboard(r, "totals", mode="sum", clock=Clock())
    for score in (5, 9, 3):
        best.submit("ada", score)
        total.submit("ada", score)
    assert best.rank("ada").score == 9 and total.rank("ada").score == 17


def test_the_earliest_achiever_wins_a_tie(r):
    clock = Clock()
    lb = board(r, tie_break="earliest", clock=clock)
    lb.submit("zed", 100)
    clock.now += 1
    lb.submit("ada", 100)
    lb.submit("zed", 100)  # equalling your own score keeps the earlier time
    assert [(e.rank, e.member, e.score) for e in lb.top(2)] == [(1, "zed", 100.0), (2, "ada", 100.0)]


def test_sum_mode_with_tie_break_dates_the_total(r):
    clock = Clock()
    lb = Leaderboard(r, "game", mode="sum", tie_break="earliest", clock=clock)
    lb.submit("ada", 50)
    clock.now += 10
    lb.submit("bob", 100)
    clock.now += 10
    lb.submit("ada", 50)  # ada reaches 100 after bob did
    assert [(e.member, e.score) for e in lb.top(2)] == [("bob", 100.0), ("ada", 100.0)]


@pytest.mark.parametrize("score", [2.5, -1, TIE_MAX_SCORE + 1])
def test_tie_broken_scores_outside_the_exact_range_are_refused(r, score):
    with pytest.raises(ValueError, match="2,097,151"):
        board(r, tie_break="earliest").submit("ada", score)


def test_a_running_total_past_the_exact_range_is_refused_by_the_script(r):
    lb = Leaderboard(r, "game", mode="sum", tie_break="earliest", clock=Clock())
    lb.submit("ada", TIE_MAX_SCORE)
    with pytest.raises(Exception, match="out of the exact range"):
        lb.submit("ada", 1)
    assert lb.rank("ada").score == TIE_MAX_SCORE


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_and_infinite_scores_are_refused(r, bad):
    with pytest.raises(ValueError, match="finite"):
        board(r).submit("ada", bad)
    assert r.exists(board(r).key) == 0


@pytest.mark.parametrize(("call", "message"), [
    (lambda lb: lb.top(0), "count must be"),
    (lambda lb: lb.page(0), "page number"),
    (lambda lb: lb.page(1, 0), "page size"),
    (lambda lb: lb.around("ada", -1), "radius"),
    (lambda lb: lb.submit("ada", "10"), "score must be a number"),
    (lambda lb: lb.submit("", 10), "must not be empty"),
])
def test_bad_arguments_say_what_is_wrong(r, call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call(board(r))


def test_unknown_members_give_none_and_empty_lists(r):
    lb = board(r)
    lb.submit("ada", 1)
    assert lb.rank("nobody") is None and lb.around("nobody") == []


def test_pages_cover_the_board_exactly_once(r):
    lb = board(r)
    for i in range(23):
        lb.submit(f"p{i:02d}", i)
    pages = [lb.page(n, 10) for n in (1, 2, 3, 4)]
    assert [len(p) for p in pages] == [10, 10, 3, 0]
    assert [e.member for p in pages for e in p] == [f"p{i:02d}" for i in range(22, -1, -1)]
    assert [e.rank for p in pages for e in p] == list(range(1, 24))


def test_around_is_clipped_at_the_top_and_the_bottom(r):
    lb = board(r)
    for i in range(5):
        lb.submit(f"p{i}", i)
    assert [e.member for e in lb.around("p4", 2)] == ["p4", "p3", "p2"]
    assert [e.member for e in lb.around("p0", 2)] == ["p2", "p1", "p0"]
    assert [e.rank for e in lb.around("p2", 1)] == [2, 3, 4]


def test_around_is_one_round_trip(r):
    lb = board(r)
    lb.submit("ada", 1)
    lb.around("ada")
    with trace(r) as t:
        lb.around("ada")
    assert t.round_trips == 1


def test_details_are_kept_beside_the_scores(r):
    lb = board(r)
    lb.submit("ada", 10, details={"name": "Ada", "country": "UK"})
    lb.submit("ada", 5)  # details stay when none are given
    assert lb.rank("ada") == Entry(1, "ada", 10.0, {"name": "Ada", "country": "UK"})


def test_every_score_also_counts_on_today_and_this_week(r):
    clock = Clock()
    lb = board(r, clock=clock)
    lb.submit("ada", 10)
    clock.now += 86400  # the next day, same ISO week
    lb.submit("bob", 20)
    today, yesterday = dt.date(2023, 11, 15), dt.date(2023, 11, 14)
    assert [e.member for e in lb.daily(today).top(5)] == ["bob"]
    assert [e.member for e in lb.daily(yesterday).top(5)] == ["ada"]
    assert [e.member for e in lb.weekly().top(5)] == ["bob", "ada"]


def test_window_boards_and_the_board_itself_expire(r):
    lb = board(r)
    lb.submit("ada", 10, details={"x": 1})
    day = lb.window_key("daily", dt.date(2023, 11, 14))
    week = lb.window_key("weekly", dt.date(2023, 11, 14))
    assert 0 < r.pttl(day) <= 8 * 86400 * 1000
    assert 0 < r.pttl(week) <= 35 * 86400 * 1000
    for key in (lb.key, lb.details_key, lb.registry_key):
        assert r.pttl(key) > 0


def test_last_days_combines_daily_boards_with_weights(r):
    clock = Clock()
    lb = board(r, mode="sum", clock=clock)
    lb.submit("ada", 10)
    lb.submit("bob", 4)
    clock.now += 86400
    lb.submit("bob", 4)
    combined = lb.last_days(2)
    assert [(e.member, e.score) for e in combined.top(2)] == [("ada", 10.0), ("bob", 8.0)]
    recent_first = lb.last_days(2, weights=[1.0, 0.5])  # yesterday counts half
    assert [(e.member, e.score) for e in recent_first.top(2)] == [("bob", 6.0), ("ada", 5.0)]
    assert 0 < r.pttl(combined.key) <= 60_000


def test_removal_reaches_every_board_and_the_details(r):
    clock = Clock()
    lb = board(r, clock=clock)
    lb.submit("ada", 10, details={"name": "Ada"})
    clock.now += 7 * 86400  # next week: a new daily and weekly board
    lb.submit("ada", 12)
    assert lb.remove("ada") == 5  # board + 2 daily + 2 weekly
    assert lb.rank("ada") is None and r.hget(lb.details_key, "ada") is None
    assert lb.weekly(dt.date(2023, 11, 14)).rank("ada") is None


def test_clear_deletes_every_key_of_the_board(r):
    clock = Clock()
    lb = board(r, clock=clock)
    lb.submit("ada", 10, details={"x": 1})
    clock.now += 7 * 86400
    lb.submit("bob", 5)
    assert lb.clear() == 7  # board, details, registry, 2 daily, 2 weekly
    assert all_keys(r) == []


def test_keys_share_the_boards_hash_tag_and_namespace(r):
    keys.set_namespace(r, "alice")
    lb = board(r)
    lb.submit("ada", 1)
    assert lb.key == "alice:leaderboard:{game}"
    assert {k.split("}")[0] for k in all_keys(r, "alice:*")} == {"alice:leaderboard:{game"}


def test_concurrent_sums_lose_nothing(r):
    lb = Leaderboard(r, "game", mode="sum")
    barrier = threading.Barrier(10)

    def player():
        barrier.wait()
        for _ in range(20):
            lb.submit("team", 1)

    threads = [threading.Thread(target=player) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert lb.rank("team").score == 200 and lb.daily().rank("team").score == 200


def model_ranks(scores: dict[str, float]) -> list[tuple[int, float]]:
    ordered = sorted(scores.values(), reverse=True)
    return [(1 + sum(1 for other in ordered if other > s), s) for s in ordered]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_ranks_and_scores_match_a_plain_python_model(r, data):
    mode = data.draw(st.sampled_from(["best", "sum", "set"]))
    lb = Leaderboard(r, f"p{uuid.uuid4().hex[:8]}", mode=mode, windows=(), clock=Clock())
    model: dict[str, float] = {}
    for member, score in data.draw(st.lists(st.tuples(st.sampled_from("abcdefgh"), st.integers(-50, 50)), max_size=30)):
        lb.submit(member, score)
        old = model.get(member)
        model[member] = {"best": max(score, old if old is not None else score), "sum": (old or 0) + score, "set": score}[mode]
    entries = lb.top(20)
    assert [(e.rank, e.score) for e in entries] == model_ranks(model)
    for e in entries:
        assert lb.rank(e.member).rank == e.rank and model[e.member] == e.score


def test_bad_board_options_are_refused():
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    with pytest.raises(ValueError, match="mode must be"):
        Leaderboard(client, mode="max")
    with pytest.raises(ValueError, match="windows may be"):
        Leaderboard(client, windows=("hourly",))
    with pytest.raises(ValueError, match="keeps no weekly window"):
        Leaderboard(client, windows=("daily",)).weekly()
    with pytest.raises(ValueError, match="with MAX, not SUM"):
        Leaderboard(client, tie_break="earliest").last_days(7)


# -- hardening: big reads, exact scores ---------------------------------------------------------------


@pytest.mark.parametrize("details", [False, True])
def test_a_read_of_thousands_of_entries_works(r, details):
    lb = board(r)
    members = {f"m{i:05d}": i for i in range(9000)}
    r.zadd(lb.key, members)
    if details:
        r.hset(lb.details_key, mapping={m: '{"n":1}' for m in members})
    top = lb.top(9000)
    assert len(top) == 9000 and top[0] == Entry(1, "m08999", 8999.0, {"n": 1} if details else None)
    assert len(lb.page(1, size=8500)) == 8500 and len(lb.around("m04500", radius=4500)) == 9000


@pytest.mark.parametrize("score", [10**15 + 1, 0.1234567890123456, -2.5e-10, 2**53, 123456789.98765432])
def test_submit_returns_exactly_the_score_it_stored(r, score):
    for mode in ("set", "best", "sum"):
        lb = Leaderboard(r, f"exact-{mode}", mode=mode, windows=())
        assert lb.submit("ada", score) == score
        assert lb.rank("ada").score == score


# -- hardening: the server's clock decides ----------------------------------------------------------


def test_the_earliest_achiever_is_decided_by_the_servers_clock(on_server, skewed_clock):
    lb = Leaderboard(on_server, "game", tie_break="earliest")  # no clock: production
    lb.submit("zed", 100)  # first, from an app server with a good clock
    skewed_clock(-600)  # a second app server, ten minutes slow, reaches the same score later
    Leaderboard(on_server, "game", tie_break="earliest").submit("amy", 100)
    # With the app's clock amy would look ten minutes earlier and win; on the server's clock
    # zed was first (or, within the same second, they tie and the order is the member's).
    assert [e.member for e in lb.top(2)] == ["zed", "amy"]


def test_todays_board_is_the_servers_today(on_server, skewed_clock):
    seconds, _ = on_server.time()
    server_today = dt.datetime.fromtimestamp(seconds, dt.timezone.utc).date()
    skewed_clock(2 * 86400)  # an app server two days ahead
    lb = Leaderboard(on_server, "game")
    lb.submit("ada", 10)
    assert lb.daily(server_today).rank("ada") is not None
    assert lb.daily().rank("ada") is not None  # "today" for a reader is the server's today too
    assert lb.weekly(server_today).rank("ada") is not None


# -- hardening: remove() is atomic ---------------------------------------------------------------------


@pytest.mark.sync_only("puts a submit between the synchronous client's round trips (helpers.before_round_trip); tests/test_aio_leaderboard.py races the asyncio board")
@pytest.mark.parametrize("point", [1, 2, 3])
def test_a_submit_racing_with_remove_leaves_the_member_on_no_board(r, point):
    clock = Clock()
    lb = board(r, clock=clock)
    lb.submit("ada", 10)
    racer = Leaderboard(r, "game", clock=Clock(NOW + 86400))  # another app server: tomorrow's boards

    with before_round_trip(point, lambda: racer.submit("ada", 20)):
        lb.remove("ada")
    # The racing submit came before the removal finished, so the removal must cover it.
    boards = [lb.key, *r.zrange(lb.registry_key, 0, -1)]
    assert [b for b in boards if r.zscore(b, "ada") is not None] == []


@pytest.mark.sync_only("puts a submit between the synchronous client's round trips (helpers.before_round_trip); tests/test_aio_leaderboard.py races the asyncio board")
def test_clear_racing_with_a_submit_to_a_new_window_leaves_no_board_behind(r):
    lb = board(r)
    lb.submit("ada", 10)
    racer = Leaderboard(r, "game", clock=Clock(NOW + 86400))
    with before_round_trip(2, lambda: racer.submit("bob", 20)):
        lb.clear()
    assert all_keys(r) == []


@pytest.mark.parametrize("ttl", [0, -1, 0.0004, math.inf, math.nan, "60", True])
def test_a_board_ttl_redis_cannot_express_is_refused(ttl):
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    with pytest.raises((TypeError, ValueError), match="ttl"):
        Leaderboard(client, ttl=ttl)


# -- hardening, second review ---------------------------------------------------------------------------


def test_a_sum_is_never_counted_twice_when_the_app_clock_jumps(on_server, skewed_clock):
    lb = Leaderboard(on_server, "game", mode="sum")
    lb.submit("ada", 10)  # measures this app server's clock against the server's
    skewed_clock(3 * 86400)  # then the app clock jumps three days (a VM resumed, NTP stepped it)
    assert lb.submit("ada", 5) == 15
    assert lb.rank("ada").score == 15 and lb.weekly().rank("ada").score == 15


def test_a_submission_refused_for_one_board_writes_on_none(r):
    lb = Leaderboard(r, "game", mode="sum", tie_break="earliest", clock=Clock())
    lb.submit("ada", 2_000_000, details={"note": "first"})
    lb.daily().r.zadd(lb.daily().key, {"ada": 2_090_000 * 2**32})  # today's board is already near the top
    with pytest.raises(Exception, match="exact range"):
        lb.submit("ada", 10_000, details={"note": "second"})
    assert lb.rank("ada").score == 2_000_000 and lb.rank("ada").details == {"note": "first"}


def test_adding_zero_to_a_tie_broken_total_keeps_its_time(r):
    clock = Clock()
    lb = Leaderboard(r, "game", mode="sum", tie_break="earliest", windows=(), clock=clock)
    lb.submit("ada", 100)
    clock.now += 10
    lb.submit("bob", 100)
    clock.now += 10
    lb.submit("ada", 0)  # no points: ada still reached 100 first
    assert [e.member for e in lb.top(2)] == ["ada", "bob"]


@pytest.mark.parametrize("at", [0.0, 1577836799.0])
def test_a_tie_break_clock_before_2020_is_refused_not_packed_into_the_next_score(r, at):
    lb = Leaderboard(r, "game", tie_break="earliest", windows=(), clock=Clock(at))
    with pytest.raises(Exception, match="2020"):
        lb.submit("ada", 100)
    assert lb.rank("ada") is None


def test_remove_reaches_old_windows_when_the_clock_is_injected(r):
    clock = Clock()
    lb = board(r, clock=clock)
    lb.submit("ada", 10)
    clock.now += 9 * 86400  # replayed days: the first day's board still exists on the server
    lb.submit("ada", 12)
    lb.remove("ada")
    assert lb.daily(dt.date(2023, 11, 14)).rank("ada") is None
    lb.clear()
    assert all_keys(r) == []


def test_a_weighted_union_does_not_overwrite_an_unweighted_one(r):
    clock = Clock()
    lb = board(r, mode="sum", clock=clock)
    lb.submit("ada", 10)
    clock.now += 86400
    lb.submit("ada", 10)
    plain = lb.last_days(2)
    lb.last_days(2, weights=[1.0, 0.5])
    assert plain.rank("ada").score == 20


def test_weights_on_tie_broken_boards_are_refused(r):
    with pytest.raises(ValueError, match="weights"):
        board(r, tie_break="earliest").last_days(2, weights=[1, 2], aggregate="MAX")


@pytest.mark.parametrize("call", [lambda lb: lb.top(10**17), lambda lb: lb.page(10**16, 10)])
def test_a_read_past_any_real_board_is_refused_clearly(r, call):
    with pytest.raises(ValueError, match="at most"):
        call(board(r))
