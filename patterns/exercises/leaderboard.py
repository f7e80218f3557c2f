"""Exercise of notebook 03: a player's competition rank.

    def rank_of(r, key, member):   # the competition rank (equal scores share one); None if absent
        ...
    check(rank_of)
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

import fakeredis
import sortedcontainers

from ..connection import fake_server
from . import NotYet, fresh_client, report

BIG_BOARD = 2000  # members: a rank must cost the same here as on a board of millions
MOST_RECEIVED = 50  # values (members, scores, counts) one rank may bring back from Redis


class _Received:
    """Counts the values of every reply a client reads: a whole board brought back shows as thousands."""

    def __init__(self) -> None:
        self.items = 0

    def count(self, reply: Any) -> None:
        """Every value in the reply, however nested (a member and its score are two)."""
        if isinstance(reply, (list, tuple)):
            for item in reply:
                self.count(item)
        else:
            self.items += 1


class _Walked:
    """Counts the board's entries the server goes through: a script or a copy that walks the board shows it."""

    def __init__(self) -> None:
        self.items = 0

    def _counted(self, items: Iterable[Any]) -> Iterator[Any]:
        for item in items:
            self.items += 1
            yield item

    def board(self, server: fakeredis.FakeServer, key: str) -> None:
        """Make the sorted set at ``key`` count every entry a command iterates over (a bisection walks none)."""
        counted = self._counted

        class ByScore(sortedcontainers.SortedList):
            def __iter__(self) -> Iterator[Any]:
                return counted(super().__iter__())

            def __reversed__(self) -> Iterator[Any]:
                return counted(super().__reversed__())

            def islice(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
                return counted(super().islice(*args, **kwargs))

            def irange(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
                return counted(super().irange(*args, **kwargs))

        class ByMember(dict):
            def __iter__(self) -> Iterator[Any]:
                return counted(super().__iter__())

            def items(self) -> Any:
                return list(counted(super().items()))

            def keys(self) -> Any:
                return list(counted(super().keys()))

            def values(self) -> Any:
                return list(counted(super().values()))

        zset = server.dbs[0][key.encode()].value  # fakeredis checks a value's exact type: swap its insides
        zset._byscore, zset._bylex = ByScore(zset._byscore), ByMember(zset._bylex)


def _counting_client(received: _Received) -> fakeredis.FakeRedis:
    class Counting(fakeredis.FakeRedisConnection):
        def read_response(self, **kwargs: Any) -> Any:
            reply = super().read_response(**kwargs)
            received.count(reply)
            return reply

    server = fake_server()
    return fakeredis.FakeRedis(server=server, decode_responses=True, connection_class=Counting)


def _check_cost(fn: Callable[[Any, str, str], int | None]) -> None:
    received = _Received()
    r = _counting_client(received)
    r.zadd("board", {f"player-{n}": n // 2 for n in range(BIG_BOARD)})  # pairs tie
    walked = _Walked()
    try:
        walked.board(r.connection_pool.connection_kwargs["server"], "board")
    except (AttributeError, KeyError, TypeError):  # another fakeredis keeps its sorted sets otherwise:
        pass  # the count of what the server walks stays 0, and the count of what comes back still holds
    received.items = 0
    for member in ("player-0", "player-1000", "player-1999"):
        before, walked_before = received.items, walked.items
        expected = (BIG_BOARD - 1 - int(member.split("-")[1])) // 2 * 2 + 1
        if fn(r, "board", member) != expected:
            raise NotYet(f"on a board of {BIG_BOARD:,} players, {member} did not get its rank {expected}")
        if received.items - before > MOST_RECEIVED:
            raise NotYet(f"to rank {member} among {BIG_BOARD:,} players it received {received.items - before:,} "
                         "values from Redis: the work and the traffic grow with the board, and a rank must cost "
                         "the same on a board of millions")
        if walked.items - walked_before > MOST_RECEIVED:
            raise NotYet(f"to rank {member} among {BIG_BOARD:,} players Redis went through "
                         f"{walked.items - walked_before:,} of them, though it sent back little: the work grows "
                         "with the board, and a rank must cost the same on a board of millions")

# hal's 10.5 is a score with a fraction: "strictly better" must hold for any score, not only whole ones.
SCORES = {"ada": 100, "bob": 100, "cy": 90, "dee": 80, "eve": 80, "fay": 80, "hal": 10.5, "gus": 10}
EXPECTED = {"ada": 1, "bob": 1, "cy": 3, "dee": 4, "eve": 4, "fay": 4, "hal": 7, "gus": 8}


def _check_body(fn: Callable[[Any, str, str], int | None]) -> str:
    r = fresh_client()
    r.zadd("board", SCORES)
    got = {member: fn(r, "board", member) for member in SCORES}
    for member, rank in got.items():
        if not (rank is None or isinstance(rank, int)):
            raise NotYet(f"rank_of(..., {member!r}) returned {rank!r}; return a whole number (or None)")
    if 0 in got.values():
        raise NotYet("ranks start at 1 for the best player; ZREVRANK starts at 0")
    for member, expected in EXPECTED.items():
        if got[member] != expected:
            ties = [m for m, s in SCORES.items() if s == SCORES[member]]
            if len(ties) == 1:
                better = [m for m, s in SCORES.items() if s > SCORES[member]]
                raise NotYet(f"{member} (score {SCORES[member]}) got rank {got[member]}; {len(better)} players "
                             f"score higher ({better[-1]} with {SCORES[better[-1]]} among them), and a score "
                             "may have a fraction")
            raise NotYet(
                f"{member} (score {SCORES[member]}) got rank {got[member]}; players with equal scores "
                f"({', '.join(ties)}) share a rank, and the rank after a tie skips the places the tie took "
                "(1, 1, 3)"
            )
    if fn(r, "board", "nobody") is not None:
        raise NotYet("a member who is not on the board should get None, not a rank")
    _check_cost(fn)
    return "competition ranks: equal scores share a rank (1, 1, 3, 4, 4, 4, 7, 8), None for strangers"


def check(fn: Callable[[Any, str, str], int | None]) -> None:
    """Check ``fn(r, key, member)`` and print one line: what is wrong first, or that it passes."""
    report(lambda: _check_body(fn), "leaderboard")
