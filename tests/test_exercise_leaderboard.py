"""Chapter checker tests (leaderboard): the reference passes; each wrong answer gets one line naming its problem."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from helpers import messages_of

# -- notebook 03: competition ranks ------------------------------------------------------------

from patterns.exercises import leaderboard as leaderboard_exercise
from solutions.leaderboard import rank_of as reference_rank_of



def zrevrank_plus_one(r, key, member):
    position = r.zrevrank(key, member)
    return None if position is None else position + 1


def dense_rank(r, key, member):  # 1, 1, 2, 3, 3, 3, 4: skips no ranks
    score = r.zscore(key, member)
    if score is None:
        return None
    return len({s for _, s in r.zrange(key, 0, -1, withscores=True) if s > score}) + 1


def strictly_better_as_score_plus_one(r, key, member):  # right for whole scores only
    score = r.zscore(key, member)
    return None if score is None else r.zcount(key, score + 1, "+inf") + 1


def whole_board_in_python(r, key, member):  # right ranks, but every member travels for one rank
    board = r.zrange(key, 0, -1, desc=True, withscores=True)
    scores = dict(board)
    if member not in scores:
        return None
    return sum(1 for _, score in board if score > scores[member]) + 1


def the_board_down_to_the_member(r, key, member):  # fewer members, still O(rank) of them
    score = r.zscore(key, member)
    if score is None:
        return None
    better = r.zrange(key, "+inf", f"({score}", byscore=True, desc=True)
    return len(better) + 1


RANK_SCRIPT = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return false end
return redis.call('ZCOUNT', KEYS[1], '(' .. score, '+inf') + 1
"""


def in_one_script(r, key, member):  # right, and one small reply
    return r.eval(RANK_SCRIPT, 1, key, member)


@pytest.mark.parametrize(
    ("solution", "says"),
    [
        (strictly_better_as_score_plus_one, "gus (score 10) got rank 7; 7 players score higher (hal with 10.5"),
        (lambda r, k, m: r.zrevrank(k, m), "ranks start at 1"),
        (zrevrank_plus_one, "share a rank"),
        (dense_rank, "cy (score 90) got rank 2"),
        (lambda r, k, m: (reference_rank_of(r, k, m) or 0), "should get None"),
        (lambda r, k, m: str(reference_rank_of(r, k, m)), "return a whole number"),
        (whole_board_in_python, "received 4,000 values from Redis"),
        (the_board_down_to_the_member, "received 1,999 values"),
    ],
)
def test_leaderboard_checker_names_the_problem(capsys, solution, says):
    leaderboard_exercise.check(solution)
    out = capsys.readouterr().out
    assert out.startswith("not yet: ") and says in out


def test_leaderboard_reference_passes(capsys):
    leaderboard_exercise.check(reference_rank_of)
    assert capsys.readouterr().out.startswith("✓ competition ranks")


# Words that would hand over the answer: a checker's message says what is wrong, not what to type.
GIVEAWAYS = ["strictly higher", "zcount", "zscore"]


def test_the_leaderboard_checker_never_names_the_answer(capsys):
    out = messages_of(leaderboard_exercise.check, [zrevrank_plus_one, lambda r, k, m: 0, lambda r, k, m: 1], capsys)
    assert [word for word in GIVEAWAYS if word in out] == []


def test_a_rank_that_costs_a_few_small_replies_passes(capsys):
    leaderboard_exercise.check(in_one_script)
    assert capsys.readouterr().out.startswith("✓ ")


# Review of 2 Dec: each of these brought back one number and passed, though Redis walked the whole board.
WALK_SCRIPT = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return false end
local better = 0
for _, s in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')) do
  if _ % 2 == 0 and tonumber(s) > tonumber(score) then better = better + 1 end
end
return better + 1
"""


def walks_the_board_in_a_script(r, key, member):  # one small reply, O(N) work on the server
    return r.eval(WALK_SCRIPT, 1, key, member)


def copies_the_better_players_then_counts_them(r, key, member):  # O(rank) work, two small replies
    score = r.zscore(key, member)
    if score is None:
        return None
    copied = r.zrangestore(f"{key}:better", key, f"({score}", "+inf", byscore=True)
    r.delete(f"{key}:better")
    return copied + 1


@pytest.mark.parametrize("solution", [walks_the_board_in_a_script, copies_the_better_players_then_counts_them])
def test_a_rank_whose_work_grows_with_the_board_on_the_server_is_refused(capsys, solution):
    leaderboard_exercise.check(solution)
    out = capsys.readouterr().out
    assert out.startswith("not yet: ") and "went through" in out, out


def first_of_its_score_then_its_position(r, key, member):  # right, O(log N): the first of a tie sits at the rank
    score = r.zscore(key, member)
    if score is None:
        return None
    first = r.zrange(key, score, score, byscore=True, desc=True, offset=0, num=1)[0]
    return r.zrevrank(key, first) + 1


def pipelined(r, key, member):  # right: the same two commands, the second one in a pipeline
    score = r.zscore(key, member)
    if score is None:
        return None
    pipe = r.pipeline()
    pipe.zcount(key, f"({score}", "+inf")
    return pipe.execute()[0] + 1


@pytest.mark.parametrize("solution", [first_of_its_score_then_its_position, pipelined])
def test_other_ranks_that_cost_the_same_on_any_board_pass(capsys, solution):
    leaderboard_exercise.check(solution)
    assert capsys.readouterr().out.startswith("✓ ")


# -- what chapter 03 shows around its exercise -------------------------------------------------------

CHAPTER_03 = Path(__file__).parent.parent / "notebooks" / "03_leaderboards.ipynb"


def _cells_03():
    return nbformat.read(CHAPTER_03, as_version=4).cells


def test_chapter_03_does_not_name_the_commands_of_its_exercise_before_it():
    lab3 = next(cell.source for cell in _cells_03() if cell.source.startswith("### Lab 3"))
    assert [word for word in ["ZREVRANK", "ZCOUNT", "ZSCORE"] if word in lab3] == []
    hint3 = next(cell.source for cell in _cells_03() if "Hint 3: what to read about" in cell.source)
    assert not ("ZSCORE" in hint3 and "ZCOUNT" in hint3), hint3


def test_chapter_03_shows_how_python_sends_zrange_rev():
    sent = [cell for cell in _cells_03() if cell.cell_type == "code" and '"REV"' in cell.source]
    assert sent, "no cell sends ZRANGE ... REV"
    assert any("ZRANGE" in out.get("text", "") and "REV" in out.get("text", "")
               for cell in sent for out in cell.outputs), "no trace shows the command that went out"


def test_a_fakeredis_without_the_internals_the_walk_count_uses_still_checks_the_rest(capsys, monkeypatch):
    """The count of entries the server walks reaches into fakeredis's sorted set; another fakeredis version
    may lay it out differently: the check must then drop that one count, not blame the learner's function."""
    from patterns.exercises import leaderboard

    def moved(self, server, key):
        raise AttributeError("'ZSet' object has no attribute '_byscore'")

    monkeypatch.setattr(leaderboard._Walked, "board", moved)
    leaderboard_exercise.check(reference_rank_of)
    assert capsys.readouterr().out.startswith("✓ ")
