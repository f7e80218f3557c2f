"""Leaderboards for asyncio: patterns.leaderboard's Leaderboard, Board and seed functions, awaited.

Every operation is the synchronous board's own generator of steps (the same scripts, keys,
competition ranks, tie-breaks, windows and server-clock decisions); each round trip is
awaited here. ``daily()``, ``weekly()`` and ``last_days()`` are awaited too (today is the
server's day, which may take a round trip to learn) and give an asyncio ``Board``.
"""
from __future__ import annotations

from typing import Any

from ..connection import check_kind
from ..leaderboard import BoardBase, LeaderboardBase, _top_users
from ..steps import operations
from .steps import awaited, run


@operations(awaited)
class Board(BoardBase):
    """The read side of a board (a window's, or a union of days), awaited."""

    def _check_client(self, r: Any) -> None:
        check_kind(r, asyncio=True, twin="patterns.leaderboard.Leaderboard")


@operations(awaited)
class Leaderboard(LeaderboardBase, Board):
    """A board with its daily and weekly windows (see patterns.leaderboard.LeaderboardBase), awaited."""

    board_class = Board


async def update_score(r: Any, user_id: str, score: float, board: str = "leaderboard") -> None:
    """The seed's updateScore for asyncio: set ``user_id``'s score on ``board`` (one ZADD, in a script)."""
    await run(r, Leaderboard(r, board, mode="set", windows=())._submit(user_id, score))


async def get_top_users(r: Any, count: int, board: str = "leaderboard") -> list[tuple[str, float]]:
    """The seed's getTopUsers for asyncio: the ``count`` best (member, score) pairs, highest first."""
    return await run(r, _top_users(Leaderboard(r, board, windows=()), count))
