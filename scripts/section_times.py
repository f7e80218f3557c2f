"""How long each section of each chapter takes an attendee: the estimate docs/facilitator.md uses.

    python scripts/section_times.py [notebooks/02_rate_limiting.ipynb ...]
    python scripts/section_times.py --markdown     (the lines docs/facilitator.md holds; a test compares)

An estimate from the committed notebooks, not a stopwatch: a section's prose at 130 words a
minute (technical text read with care), half a minute per code cell (read it, run it, look at what
it printed), and for an exercise section the 10 minutes STYLE.md aims an exercise at (5 to 15). The
time cells take to run is not added: on a laptop it is seconds per section, spent while the reader
reads the output. Sections are the notebook's "## " headings; the cells before the first one are
the chapter's opening.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
WORDS_PER_MINUTE = 130
MINUTES_PER_CODE_CELL = 0.5
MINUTES_PER_EXERCISE = 10


def sections(path: Path) -> list[tuple[str, float]]:
    """(heading, minutes) for each section of the notebook at ``path``."""
    found: list[list] = [["(opening)", 0, 0, False]]  # heading, words, code cells, is an exercise
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":  # a cell may hold several sections: each heading starts one
            for n, part in enumerate(re.split(r"^## (.+)$", cell.source, flags=re.M)):
                if n % 2:
                    found.append([part.strip(), 0, 0, False])
                else:
                    found[-1][1] += len(re.findall(r"\w+", re.sub(r"```.*?```", " ", part, flags=re.S)))
        elif cell.cell_type == "code":
            found[-1][2] += 1
            found[-1][3] |= bool(re.search(r"\bcheck(_stretch)?\(", cell.source))
    return [(heading, words / WORDS_PER_MINUTE + cells * MINUTES_PER_CODE_CELL
             + (MINUTES_PER_EXERCISE if exercise else 0)) for heading, words, cells, exercise in found
            if words or cells]


def markdown() -> str:
    """One line per chapter, as docs/facilitator.md shows them between its section-times marks."""
    lines = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        parts = sections(path)
        shown = " · ".join(f"{heading} {max(1, round(minutes))}" for heading, minutes in parts)
        lines.append(f"- **{path.stem}**, about {round(sum(m for _, m in parts))} min: {shown}")
    return "\n".join(lines)


def main(paths: list[str]) -> None:
    if paths == ["--markdown"]:
        print(markdown())
        return
    chosen = [Path(p) for p in paths] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for path in chosen:
        parts = sections(path)
        print(f"{path.stem}: about {round(sum(m for _, m in parts)):d} min")
        for heading, minutes in parts:
            print(f"  {max(1, round(minutes)):>3} min  {heading}")


if __name__ == "__main__":
    main(sys.argv[1:])
