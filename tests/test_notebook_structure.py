"""What every chapter gives a newcomer: prerequisites and an honest time, key points, terms explained, short cells."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
GLOSSARY = ROOT / "docs" / "glossary.md"
LONGEST_TEACHING_CELL = 15
# A term, and where the workbook first shows it (in code or output): its first mention must link the glossary.
TERMS = {"hash tag": "hash-tag", "GCRA": "gcra", "full jitter": "full-jitter", "listpack": "listpack",
         "skiplist": "skiplist", "XFetch": "xfetch", "EVALSHA": "evalsha", "WATCH": "watch"}
FIRST_SHOWN = {"hash-tag": "01_caching"}  # hash tags appear in 01's traces, long before 08 explains them


def _cells(path: Path) -> list[nbformat.NotebookNode]:
    return nbformat.read(path, as_version=4).cells


def _markdown(path: Path) -> list[str]:
    return [c.source for c in _cells(path) if c.cell_type == "markdown"]


def anchors() -> set[str]:
    """GitHub's anchors of the glossary's headings: lower case, spaces to dashes, punctuation dropped."""
    headings = re.findall(r"^#{2,4} (.+)$", GLOSSARY.read_text(), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def minutes(path: Path) -> int:
    found = re.search(r"\*\*Time:\*\* about (\d+) min", _markdown(path)[0])
    assert found, f"{path.stem}: its first cell has no '**Time:** about N min'"
    return int(found.group(1))


def test_every_chapter_is_checked():
    assert len(NOTEBOOKS) == 10


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_chapter_opens_with_its_prerequisites_and_time(path):
    first = _markdown(path)[0]
    assert "**Prerequisites:**" in first, path.stem
    assert minutes(path) >= 20


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_chapter_closes_with_its_key_points(path):
    last = _markdown(path)[-1]
    assert re.search(r"^## Key points$", last, flags=re.M), path.stem
    assert len(re.findall(r"^- ", last.split("## Key points")[1], flags=re.M)) >= 3


def test_the_readme_states_the_total_the_chapters_add_up_to():
    total = sum(minutes(p) for p in NOTEBOOKS)
    readme = (ROOT / "README.md").read_text()
    stated = re.search(r"about (\d+(?:\.\d)?) hours", readme)
    assert stated, "README says nothing of 'about N hours'"
    assert abs(float(stated.group(1)) * 60 - total) <= 30, (stated.group(0), total)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_long_code_cell_is_plumbing_and_collapsed(path):
    long = [c.source.splitlines()[0] for c in _cells(path) if c.cell_type == "code"
            and len(c.source.strip().splitlines()) > LONGEST_TEACHING_CELL
            and not c.metadata.get("jupyter", {}).get("source_hidden")]
    assert long == [], f"{path.stem}: cells over {LONGEST_TEACHING_CELL} lines: {long}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_glossary_link_has_its_entry(path):
    links = set(re.findall(r"glossary\.md#([\w-]+)", "\n".join(_markdown(path))))
    assert links - anchors() == set()


@pytest.mark.parametrize(("term", "anchor"), TERMS.items())
def test_a_term_is_linked_to_the_glossary_where_it_first_appears(term, anchor):
    assert anchor in anchors()
    pattern = re.compile(rf"\b{re.escape(term)}", flags=re.I if term.islower() else 0)
    for path in NOTEBOOKS:
        mentions = [m for m in _markdown(path) if pattern.search(m)]
        if mentions or FIRST_SHOWN.get(anchor) == path.stem:
            assert any(f"glossary.md#{anchor}" in m for m in _markdown(path)), f"{path.stem} never links {anchor}"
            if mentions:
                assert f"glossary.md#{anchor}" in mentions[0], (path.stem, mentions[0][:200])
            return
    pytest.fail(f"no chapter mentions {term}")


WIDGET = "application/vnd.jupyter.widget-view+json"


def widgets_without_a_still(cells: list[nbformat.NotebookNode]) -> list[str]:
    """The live widgets (by the cell's last line) with no picture after them: `snapshot(<that name>)`."""
    cells = [c for c in cells if c.cell_type == "code"]
    shown = [i for i, c in enumerate(cells) if any(WIDGET in o.get("data", {}) for o in c.get("outputs", []))]
    stills = [(i, set(re.findall(r"snapshot\((\w+)\)", c.source))) for i, c in enumerate(cells)
              if "snapshot(" in c.source and any("image/png" in o.get("data", {}) for o in c.get("outputs", []))]
    missing = []
    for w in shown:
        last = cells[w].source.strip().splitlines()[-1]
        name = re.fullmatch(r"(?:display\()?(\w+)\)?", last.strip())  # `dash` or `display(dash)`: its still names it
        if not any(s > w and (name is None or name.group(1) in names) for s, names in stills):
            missing.append(last)
    return missing


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_live_widget_has_a_still_picture_after_it_for_readers_without_a_kernel(path):
    cells = _cells(path)
    code = [c for c in cells if c.cell_type == "code"]
    assert any(WIDGET in o.get("data", {}) for c in code for o in c.get("outputs", [])), \
        f"{path.stem} shows no live widget"
    assert widgets_without_a_still(cells) == [], path.stem


def test_a_still_of_one_dashboard_does_not_stand_for_another():
    """Review of 2 Dec: one snapshot at the end counted for every widget shown before it."""
    def shows(source: str, data: str) -> nbformat.NotebookNode:
        cell = nbformat.v4.new_code_cell(source)
        cell.outputs = [nbformat.NotebookNode(output_type="display_data", data={data: {}}, metadata={})]
        return cell

    cells = [shows("rates = RateDashboard(r)\nrates", WIDGET), shows("locks = LockTimeline(r)\nlocks", WIDGET),
             shows("snapshot(locks)", "image/png")]
    assert widgets_without_a_still(cells) == ["rates"]
