"""The facilitator's guide stays true to the notebooks it describes."""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import section_times  # noqa: E402  (scripts/ is not a package)

GUIDE = (ROOT / "docs" / "facilitator.md").read_text()
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_the_section_times_are_the_ones_the_notebooks_give_now():
    shown = re.search(r"<!-- section-times:start -->\n(.*?)\n<!-- section-times:end -->", GUIDE, re.S).group(1)
    assert shown == section_times.markdown(), "run: python scripts/section_times.py --markdown, and paste it in"


def test_every_chapter_has_talking_points_and_common_wrong_answers():
    talking = GUIDE[GUIDE.index("## Talking points"):GUIDE.index("## With and without")]
    wrong = GUIDE[GUIDE.index("## Common wrong answers"):GUIDE.index("## Recovering an attendee")]
    for stem in CHAPTERS:
        number = stem[:2]
        assert re.search(rf"^### {number} ", talking, re.M), f"no talking points for {stem}"
        assert re.search(rf"^### {number} ", wrong, re.M), f"no wrong answers for {stem}"
    assert "*ask:*" in talking


def test_every_wrong_answer_it_quotes_is_a_line_a_checker_test_expects():
    """Each quoted checker line must appear in a test of that exercise: a guide cannot drift from them."""
    texts = [node.value for path in (ROOT / "tests").glob("test_exercise_*.py")
             for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Constant)
             and isinstance(node.value, str)]  # adjacent literals are one constant here, as Python joins them
    wrong = GUIDE[GUIDE.index("## Common wrong answers"):GUIDE.index("## Recovering an attendee")]
    quoted = [line.strip("…") for line in re.findall(r"\*\* \"([^\"]+)\" →", wrong)]
    assert len(quoted) >= 30
    missing = [line for line in quoted
               if not any(all(part.strip() in text for part in line.split("…")) for text in texts)]
    assert not missing, missing


def test_the_guide_names_no_reference_solution_code():
    for path in (ROOT / "solutions").glob("*.py"):
        for body in re.findall(r"^def \w+\(.*?(?=^def |\Z)", path.read_text(), re.S | re.M):
            lines = [line.strip() for line in body.splitlines()[1:] if len(line.strip()) > 30]
            assert not [line for line in lines if line in GUIDE], f"{path.name}'s code is in the guide"


def test_a_cell_holding_two_sections_counts_each_of_them():
    sections = [heading for heading, _ in section_times.sections(ROOT / "notebooks" / "07_production_checklist.ipynb")]
    assert "1 The seed's rules" in sections and "2 KEYS vs SCAN" in sections


def test_each_agenda_slot_is_as_long_as_the_estimate_it_gives_and_ends_on_time():
    """A slot "10–35" that says "19.8 → 25" lasts 25 minutes, and 25 is 19.8 × 1¼; each table ends
    within the length its heading states (a review found the taster needed 99 of its 90 minutes)."""
    agendas = GUIDE[GUIDE.index("## Agendas"):GUIDE.index("## How long each section takes")]
    lengths = {"90-minute taster": 90, "half day": 225}
    for title, length in lengths.items():
        table = agendas[agendas.index(title):].split("\n\n", 2)[1]
        ends = []
        for start, end, estimate, planned in re.findall(r"^\| (\d+)–(\d+) \|[^|]*\|(?: ([\d.]+) → (\d+))? \|$",
                                                        table, re.M):
            ends.append(int(end))
            if estimate:
                assert round(float(estimate) * 1.25) == int(planned), (title, start, estimate, planned)
                assert int(end) - int(start) == int(planned), (title, start, end, planned)
        assert ends and max(ends) <= length, (title, ends)
