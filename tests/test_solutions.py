"""The reference solutions: one source (solutions/*.py) for the tests and the trainers' notebooks."""
from __future__ import annotations

import ast
import copy
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


def _shape(function: ast.AST) -> str:
    """A function's code with its own names numbered in order and its docstring dropped: renaming hides nothing."""
    function = copy.deepcopy(function)
    body = function.body if isinstance(function.body, list) else [ast.Return(function.body)]
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and len(body) > 1:
        body = body[1:]
    names: dict[str, str] = {}
    nodes = [a for a in ast.walk(function.args)] + [n for stmt in body for n in ast.walk(stmt)]
    for node in nodes:
        if isinstance(node, ast.arg):
            node.arg = names.setdefault(node.arg, f"v{len(names)}")
        elif isinstance(node, ast.Name):
            node.id = names.setdefault(node.id, f"v{len(names)}")
    return ast.dump(ast.Module(body=body, type_ignores=[])) + ast.dump(function.args)


def _functions(source: str) -> list[ast.AST]:
    """Every def and lambda in a cell (its IPython magics and shell lines left out)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return []
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))]


def reference_solutions_in(book: nbformat.NotebookNode, cells: list) -> list:
    """The reference solutions (``cells``) that a chapter notebook (``book``) shows: as lines, or renamed."""
    page = "\n".join(c.source for c in book.cells)
    shapes = {_shape(f) for c in book.cells if c.cell_type == "code" for f in _functions(c.source)}
    found = []
    for cell in cells:
        if cell.cell_type == "code" and cell.source.startswith(("def ", "async def ")):
            body = [line.strip() for line in cell.source.splitlines()[1:] if line.strip()
                    and not line.strip().startswith(('"""', "#"))]
            code = [line for line in body if len(line) > 25 and line in page]
            if len(code) >= 2:
                found += code
        if cell.cell_type == "code":
            found += [f"def {f.name}" for f in _functions(cell.source)
                      if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and _shape(f) in shapes]
    return found


CHAPTER_NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_no_chapter_notebook_contains_a_reference_solution(path):
    """Not its own chapter, nor any other (a solution pasted into the next chapter is on the page too)."""
    _, cells = cells_of(path)
    shown = {book.stem: reference_solutions_in(nbformat.read(book, as_version=4), cells) for book in CHAPTER_NOTEBOOKS}
    assert {stem: found for stem, found in shown.items() if found} == {}


RENAMED = '''def rank(client, board, who):
    s = client.zscore(board, who)
    if s is None:
        return None
    return client.zcount(board, f"({s}", "+inf") + 1
'''


@pytest.mark.parametrize("pasted", ["verbatim", "renamed"])
def test_a_solution_pasted_into_its_chapter_is_found(pasted):
    """Review of 2 Dec: the line-by-line match missed the reference with its names changed."""
    chapter, cells = cells_of(ROOT / "solutions" / "leaderboard.py")
    book = nbformat.read(ROOT / "notebooks" / f"{chapter}.ipynb", as_version=4)
    solution = next(c.source for c in cells if c.source.startswith("def rank_of"))
    book.cells.append(nbformat.v4.new_code_cell(solution if pasted == "verbatim" else RENAMED))
    assert reference_solutions_in(book, cells) != []


# -- review of 2 Dec: ways a solutions notebook could drift from its module -----------------------------

FAKE = '''"""# A chapter: solutions"""
from solutions.leaderboard import rank_of

CHAPTER = "03_leaderboards"


def helper(r):
    """A function no check names."""
    return r


CHECKS = [("rank_of", "patterns.exercises.leaderboard", "check"), ("helper", "patterns.exercises.leaderboard", "check"),
          ("helper", "patterns.exercises.ratelimit", "check")]
'''


def _fake_module(tmp_path, monkeypatch):
    import types

    path = tmp_path / "reviewfw_fake.py"
    path.write_text(FAKE)
    module = types.ModuleType("solutions.reviewfw_fake")
    exec(compile(FAKE, str(path), "exec"), module.__dict__)
    monkeypatch.setitem(sys.modules, "solutions.reviewfw_fake", module)
    return path


def test_a_check_naming_a_function_the_module_does_not_define_is_refused(tmp_path, monkeypatch):
    """An imported name passed its test but its notebook never showed it or ran its checker."""
    with pytest.raises(ValueError, match="rank_of"):
        cells_of(_fake_module(tmp_path, monkeypatch))


def test_every_check_of_a_solution_gets_its_cell(tmp_path, monkeypatch):
    """Two checks of one function showed as one cell: the last one."""
    path = _fake_module(tmp_path, monkeypatch)
    monkeypatch.setattr(sys.modules["solutions.reviewfw_fake"], "CHECKS",
                        sys.modules["solutions.reviewfw_fake"].CHECKS[1:])
    path.write_text(FAKE.replace('("rank_of", "patterns.exercises.leaderboard", "check"), ', ""))
    _, cells = cells_of(path)
    assert [c.source.splitlines()[0] for c in cells if c.source.startswith("from patterns")] == [
        "from patterns.exercises.leaderboard import check", "from patterns.exercises.ratelimit import check"]


def test_every_solutions_notebook_has_its_module():
    made = {notebook_path(path).name for path in MODULES}
    assert sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb") if p.name not in made) == []


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_no_cell_of_a_solutions_notebook_shows_an_error(path):
    committed = nbformat.read(notebook_path(path), as_version=4)
    assert [c.source for c in committed.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if o.output_type == "error"] == []
