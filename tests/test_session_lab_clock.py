"""04's Lab 2 runs on real seconds: its sessions must start their clocks in the cell that times them.

A reader who runs the cell that creates the sessions, reads the prose, and runs the timed reads a
second later would otherwise find every session already gone (/tmp/review348/r04_lab2_pause.py showed
all eight reads False after a 1.5 s pause). So the timed cell creates the three sessions itself.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "04_sessions.ipynb"


def test_lab_2_creates_its_sessions_in_the_cell_that_times_them():
    cells = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    timed = [source for source in cells if "naive_alive" in source and "time.sleep(0.6)" in source]
    assert len(timed) == 1, "04 should time Lab 2's reads in one cell"
    assert re.search(r"^naive_id, robust_id, quiet_id = ", timed[0], flags=re.M), timed[0]
