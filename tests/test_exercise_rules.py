"""Rules every exercise keeps: hints come in steps, never as the code."""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import fakeredis
import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).parent.parent / "notebooks"
CHAPTERS = sorted(p.stem for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def hints_in(markdown: str) -> str:
    """The text of every hint in ``markdown``: each <details> whose summary says hint, however it is spaced."""
    return "\n".join(re.findall(r"<details\b[^>]*>\s*<summary\b[^>]*>[^<]*hint.*?</details>", markdown,
                                flags=re.S | re.I))


def _hint_text(stem: str) -> str:
    nb = nbformat.read(NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)
    return hints_in("\n".join(c.source for c in nb.cells if c.cell_type == "markdown"))


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
    assert len(CHAPTERS) == 10, CHAPTERS


@pytest.mark.parametrize("stem", CHAPTERS)
def test_hints_are_a_nudge_then_the_approach_then_what_to_read(stem):
    groups = _hint_groups(stem)
    assert groups, f"{stem} has no hints"
    for summaries in groups:
        assert [s.split(":")[0] for s in summaries] == ["Hint 1", "Hint 2", "Hint 3"], summaries


def _command_names() -> str:
    """Every Redis command's first word (fakeredis ships the server's command table), as a regex alternation."""
    table = json.loads((Path(fakeredis.__file__).parent / "commands.json").read_text())
    return "|".join(sorted({name.split()[0] for name in table}, key=len, reverse=True))


COMMAND = _command_names()
# What follows a command when it is written out, not named: a key, a value, a bound, a number, a quote.
ARGUMENT = r"""(?:key|k|\S*[:{}\[\]$"'0-9]\S*|\(?[+-]?inf\b)"""  # not "(the bound)": prose in parentheses


def code_in(text: str) -> list[str]:
    """What in a hint is code a learner could paste: a call, a command with its arguments, a code block."""
    text = html.unescape(text)  # `zcount&#40;k&#41;` renders as a call
    found = re.findall(r"`[^`]*\w\([^`)]*\)?[^`]*`", text)  # a call in backticks: `zcount(key, ...)`, `f()`
    found += re.findall(r"\b(?:r|pipe|client)\.\w+|\bredis\.(?!io\b)\w+", text)  # a method named in prose
    found += re.findall(r"[A-Za-z_]\w*\([^()\n]*,[^()\n]*\)", text)  # a call with arguments anywhere: .zcount(k, a)
    found += re.findall(rf"`(?i:{COMMAND})(?: +[^` ]+){{2,}} *`", text)  # a command with two or more arguments
    found += re.findall(rf"\b(?:{COMMAND.upper()}) +{ARGUMENT}(?: +\S+)+", text)  # in prose or bold: SET k v NX
    found += re.findall(r"<code>|<pre>|```|~~~", text)  # markup that hides code from the backtick rules
    found += re.findall(r"(?:^|\n)[ \t]*\n((?: {4}|\t)(?![-*+] |\d+\. )\S.*)", text)  # an indented code block
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
        # each of these passed before (review of 2 Dec): a call outside backticks, any receiver, an entity,
        # an indented Markdown code block, a command with its arguments in plain or bold prose, lowercase
        'Use `zcount` with (key, f"({score}", "+inf"): zcount(key, lo, hi) and add one.',
        "then .zcount(key, lo, '+inf')",
        "call redis_client.zcount(key, lo, hi)",
        "`zcount&#40;key, lo, hi&#41;`",
        "Like this:\n\n    total = zcount(key, lo, hi)\n",
        "Write SET lock:key token NX PX 30000 and check the reply.",
        "**ZCOUNT key (score +inf**",
        "`zcount key (42 +inf`",
        "~~~\nset(k, v)\n~~~",
    ],
)
def test_the_code_detector_catches_each_way_of_writing_code(hint):
    assert code_in(hint) != []


@pytest.mark.parametrize("hint", ["`ZCOUNT` with an exclusive bound", "`SET` with `NX` and `PX`", "a `(` prefix",
                                  "`ZRANGE` with `BYSCORE`, `REV` and `LIMIT`", "SET with NX and PX",
                                  "the `EXPIRE` docs (Redis 7 adds NX)", "redis-py's pipeline",
                                  "[ZCOUNT](https://redis.io/docs/latest/commands/zcount/)",
                                  "players (ada, bob) tie", "ZCOUNT (with an exclusive bound) counts them",
                                  "SET with NX, then EXPIRE only if it worked", "a list:\n\n- one\n    - nested\n"])
def test_the_code_detector_lets_a_command_name_through(hint):
    assert code_in(hint) == []


@pytest.mark.parametrize("cell", [
    "<details>\n<summary>Hint 1: a nudge</summary>\nr.zcount(k, a, b)\n</details>",
    "<details open><summary>Hint 2: the approach</summary>client.zscore(k, m)</details>",
])
def test_a_hint_spaced_or_opened_differently_is_still_read(cell):
    """Review of 2 Dec: a newline after <details>, or <details open>, hid the hint from code_in."""
    assert code_in(hints_in(cell)) != []
