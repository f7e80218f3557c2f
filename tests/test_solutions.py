"""The reference solutions: one source (solutions/*.py) for the tests and the trainers' notebooks."""
from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import nbformat
import pytest

import patterns.exercises

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from make_solutions import cells_of, modules, notebook_path  # noqa: E402

MODULES = modules()


def _checks():
    for path in MODULES:
        module = importlib.import_module(f"solutions.{path.stem}")
        for name, checker, function in module.CHECKS:
            yield pytest.param(getattr(module, name), checker, function, id=f"{path.stem}.{name}")


@pytest.mark.parametrize(("solution", "checker", "function"), list(_checks()))
def test_each_reference_solution_earns_its_check(capsys, solution, checker, function):
    getattr(importlib.import_module(checker), function)(solution)
    out = capsys.readouterr().out
    assert out.startswith("✓ "), out


def test_every_checker_has_a_reference_solution():
    checked = {(checker, function) for path in MODULES
               for _, checker, function in importlib.import_module(f"solutions.{path.stem}").CHECKS}
    for info in pkgutil.iter_modules(patterns.exercises.__path__):
        module = importlib.import_module(f"patterns.exercises.{info.name}")
        for function in [n for n in vars(module) if n.startswith("check") and callable(getattr(module, n))]:
            assert (module.__name__, function) in checked, f"{module.__name__}.{function} has no solution"


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_the_solutions_notebook_is_made_from_its_module_and_shows_each_check_passing(path):
    chapter, cells = cells_of(path)
    committed = nbformat.read(notebook_path(path), as_version=4)
    assert [c.source for c in committed.cells] == [c.source for c in cells], "run `make solutions`"
    checks = [c for c in committed.cells if c.cell_type == "code" and "\ncheck" in "\n" + c.source.split("\n")[-1]]
    assert checks, f"{chapter}'s solutions run no checker"
    for cell in checks:
        text = "".join(o.get("text", "") for o in cell.outputs)
        assert text.startswith("✓ "), (cell.source, text)


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_no_chapter_notebook_contains_a_reference_solution(path):
    chapter, cells = cells_of(path)
    book = nbformat.read(ROOT / "notebooks" / f"{chapter}.ipynb", as_version=4)
    page = "\n".join(c.source for c in book.cells)
    for cell in cells:
        if cell.cell_type == "code" and cell.source.startswith("def "):
            body = [line.strip() for line in cell.source.splitlines()[1:] if line.strip()
                    and not line.strip().startswith(('"""', "#"))]
            code = [line for line in body if len(line) > 25 and line in page]
            assert len(code) < 2, (chapter, code)
