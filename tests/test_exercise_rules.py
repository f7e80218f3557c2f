"""Rules every exercise keeps: hints come in steps, never as the code."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).parent.parent / "notebooks"
CHAPTERS = sorted(p.stem for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def _hint_text(stem: str) -> str:
    nb = nbformat.read(NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)
    cells = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return "\n".join(re.findall(r"<details><summary>[^<]*hint.*?</details>", cells, flags=re.S | re.I))


def _hint_groups(stem: str) -> list[list[str]]:
    """The hints of each exercise: summaries of consecutive hint <details>, one list per exercise."""
    nb = nbformat.read(NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)
    groups = []
    for cell in nb.cells:
        found = re.findall(r"<summary>([^<]*hint[^<]*)</summary>", cell.source, flags=re.I)
        if cell.cell_type == "markdown" and found:
            groups.append(found)
    return groups


def test_the_test_sees_every_chapter():
    assert len(CHAPTERS) == 9, CHAPTERS


@pytest.mark.parametrize("stem", CHAPTERS)
def test_hints_are_a_nudge_then_the_approach_then_what_to_read(stem):
    groups = _hint_groups(stem)
    assert groups, f"{stem} has no hints"
    for summaries in groups:
        assert [s.split(":")[0] for s in summaries] == ["Hint 1", "Hint 2", "Hint 3"], summaries


def code_in(text: str) -> list[str]:
    """What in a hint is code a learner could paste: a call, a command with its arguments, a code block."""
    found = re.findall(r"`[^`]*\w\([^`)]*\)?[^`]*`", text)  # a call in backticks: `zcount(key, ...)`, `f()`
    found += re.findall(r"\b(?:r|pipe|client)\.\w+|\bredis\.(?!io\b)\w+", text)  # a method named in prose
    found += re.findall(r"`[A-Z]{3,}(?: +[^` ]+){2,} *`", text)  # a command with two or more arguments
    found += re.findall(r"<code>|<pre>|```", text)  # markup that hides code from the backtick rules
    return found


@pytest.mark.parametrize("stem", CHAPTERS)
def test_a_hint_names_commands_but_never_writes_the_call(stem):
    assert code_in(_hint_text(stem)) == []


@pytest.mark.parametrize(
    "hint",
    [
        "Use `r.zcount(key, lo, hi)`.",
        "call r.zcount with the score",
        "`ZCOUNT key (42 +inf`",
        "<code>zcount(key, 1, 2)</code>",
        "```\nr.set(k, v)\n```",
        "`f()`",
    ],
)
def test_the_code_detector_catches_each_way_of_writing_code(hint):
    assert code_in(hint) != []


@pytest.mark.parametrize("hint", ["`ZCOUNT` with an exclusive bound", "`SET` with `NX` and `PX`", "a `(` prefix"])
def test_the_code_detector_lets_a_command_name_through(hint):
    assert code_in(hint) == []
