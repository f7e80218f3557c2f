"""Prose of chapters 05 and 06 that a newcomer/trainer read found wrong or dictating (issue 15)."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


def cells(stem: str, kind: str = "markdown") -> list[str]:
    nb = nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4)
    return [c.source for c in nb.cells if c.cell_type == kind]


def hints(stem: str) -> list[dict[int, str]]:
    """Each exercise's hints: {1: text, 2: text, 3: text}."""
    groups = []
    for text in cells(stem):
        found = re.findall(r"<summary>Hint (\d)[^<]*</summary>(.*?)</details>", text, flags=re.S)
        if found:
            groups.append({int(n): body for n, body in found})
    return groups


def test_05_one_atomic_step_is_a_script_or_watch_multi_exec_with_a_retry():
    said = [t for t in cells("05_pubsub") if re.search(r"one atomic step|one step that Redis runs whole", t)
            and "check, the effect and the record" in t]
    assert len(said) == 2, said
    for text in said:
        assert "WATCH" in text and "retry" in text, text
        assert "(`MULTI`/`EXEC`) or a" not in text and "(a script or `MULTI`/`EXEC`)" not in text, text


def test_05_hint_3_names_a_topic_not_the_script():
    third = hints("05_pubsub")[0][3]
    assert "INCRBY" not in third and "`NX`" not in third and "`EX`" not in third, third
    assert "sliding_log" in third, third  # points where chapter 02 shows a script


def test_06_hints_do_not_spell_out_the_algorithm_or_every_command():
    exercise = hints("06_locking")[0]
    assert "count the others" not in exercise[2] and "forget the holders" not in exercise[2], exercise[2]
    for command in ["ZADD", "ZREMRANGEBYSCORE", "ZCARD", "ZSCORE", "ZREM", "PEXPIRE"]:
        assert command not in exercise[3], exercise[3]
    assert "TIME" in exercise[3] and "orted set" in exercise[3], exercise[3]


def test_06_prerequisites_point_to_the_script_chapter_02_shows():
    first = cells("06_locking")[0]
    prerequisites = next(line for line in first.split("\n\n") if "**Prerequisites:**" in line)
    assert "chapter 02 has several" not in prerequisites
    assert "sliding_log" in prerequisites and "How it works" in prerequisites, prerequisites


def test_05_words_match_what_the_cells_do():
    text = "\n".join(cells("05_pubsub"))
    assert "in one picture" not in text
    assert "from the stream `stream` through" not in text
    assert re.search(r'`start="\$"`', text) and re.search(r'`start="0"`', text)
    maxlen_cell = next(t for t in cells("05_pubsub") if "MAXLEN ~" in t)
    assert "internal node" in maxlen_cell, maxlen_cell


def test_06_waiter_and_lock_lost_are_two_cells_and_kleppmann_is_quoted_right():
    code = cells("06_locking", "code")
    assert not [c for c in code if "waiter" in c and "LockLost" in c]
    text = "\n".join(cells("06_locking"))
    assert "main example, a server whose clock jumps" not in text
    assert re.search(r"main\s+example[^.]*pause", text), "Kleppmann's main example is a process pause"
