"""patterns.aio's leaderboards: what awaiting adds to the synchronous boards' behaviour.

tests/test_leaderboard.py runs every behaviour test on both APIs already (through tests/aio_twins.py).
These are the asyncio-only ones: 1,000 tasks adding to one total at once, the window boards being
asyncio boards, and refusing a client of the other kind.
"""
from __future__ import annotations

import asyncio

import fakeredis
import pytest

from patterns import aio
from patterns import leaderboard as sync


def _run(body):
    return asyncio.run(body())


def test_a_thousand_tasks_adding_to_running_totals_lose_no_point(make_crowd_client):
    async def body():
        r = await make_crowd_client()
        board = aio.Leaderboard(r, "season", mode="sum")
        await asyncio.gather(*(board.submit(f"p{i % 10}", 1 + i % 3) for i in range(1000)))
        top = await board.top(10)
        today = await (await board.daily()).top(10)
        await r.aclose()
        return top, today

    top, today = _run(body)
    expected = {f"p{m}": float(sum(1 + i % 3 for i in range(1000) if i % 10 == m)) for m in range(10)}
    assert {e.member: e.score for e in top} == expected
    assert {e.member: e.score for e in today} == expected  # the daily window counted every point too


def test_window_boards_of_an_asyncio_leaderboard_are_asyncio_boards():
    async def body():
        client = aio.connection.fake_client(fakeredis.FakeServer())
        board = aio.Leaderboard(client, "game")
        await board.submit("ada", 10)
        daily, weekly = await board.daily(), await board.weekly()
        union = await board.last_days(7)
        ranks = [await b.rank("ada") for b in (daily, weekly, union)]
        await client.aclose()
        return [type(b) for b in (daily, weekly, union)], ranks

    kinds, ranks = _run(body)
    assert kinds == [aio.Board] * 3
    assert [e.rank for e in ranks] == [1, 1, 1]


def test_each_board_refuses_a_client_of_the_other_kind():
    with pytest.raises(TypeError, match="is an asyncio client: use patterns.aio.Leaderboard"):
        sync.Leaderboard(fakeredis.FakeAsyncRedis())
    with pytest.raises(TypeError, match="is not an asyncio client: use patterns.leaderboard.Leaderboard"):
        aio.Leaderboard(fakeredis.FakeRedis())
    with pytest.raises(TypeError, match="is not an asyncio client"):
        _run(lambda: aio.get_top_users(fakeredis.FakeRedis(), 3))


@pytest.mark.parametrize("operation", ["remove", "clear"])
def test_a_submit_landing_between_a_removals_two_round_trips_is_removed_too(r, make_async, operation):
    """Review of 3 Dec: the synchronous race tests could not put the racer between the asyncio board's
    round trips. Here it lands right after remove()/clear() read the window registry, on a new day's
    board that registry did not list: the script must notice and read again."""
    async def body():
        client, other = await make_async(), await make_async()
        lb = aio.Leaderboard(client, "game", clock=lambda: 1_700_000_000.0)
        racer = aio.Leaderboard(other, "game", clock=lambda: 1_700_000_000.0 + 86400)  # tomorrow's boards
        await lb.submit("ada", 10)
        real, fired = client.execute_command, []

        async def execute_command(*args, **kwargs):
            reply = await real(*args, **kwargs)
            if args[0] == "ZRANGE" and not fired:
                fired.append(True)
                await racer.submit("bob" if operation == "clear" else "ada", 20)  # after the registry was read
            return reply

        client.execute_command = execute_command
        await (lb.clear() if operation == "clear" else lb.remove("ada"))
        await client.aclose()
        await other.aclose()
        return fired, lb

    fired, lb = _run(body)
    assert fired == [True]
    boards = [lb.key, *r.zrange(lb.registry_key, 0, -1)]
    if operation == "clear":
        assert boards == [lb.key] and not r.exists(lb.key)
    else:
        assert [b for b in boards if r.zscore(b, "ada") is not None] == []
