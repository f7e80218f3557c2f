"""Build the workbook's static website into ``site/`` from the committed notebooks (``make site``).

    python scripts/build_site.py [--out site]

Sphinx with myst-nb, rather than Jupyter Book 2 (MyST's Node.js tool): both read MyST Markdown
and notebooks, but Sphinx and myst-nb are Python packages from PyPI like the rest of the
workbook, need no Node.js runtime on a newcomer's machine or in CI, and Sphinx's search is a
static index that works from the files alone (no server). myst-nb renders the notebooks with
the outputs they were committed with (``nb_execution_mode = "off"``): the site shows what
``make notebooks`` saved, charts and still pictures of the widgets included, and building it
runs no code.

The pages are assembled in a temporary folder laid out like the repository (README.md,
``docs/``, ``notebooks/``, ``solutions/``), so the links between them work as they do on
GitHub. Each chapter page gains one note under its title: what it needs (the README's table
is the one source), and a link to its solutions "for trainers".
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
GUIDES = ("facilitator.md", "workshop.md", "glossary.md")

CONF = '''
project = "Redis Patterns Workbook"
author = "the workbook's authors"
extensions = ["myst_nb"]
nb_execution_mode = "off"  # the committed outputs, as they are: building runs no code
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3  # [a section](page.md#a-section) links resolve
html_theme = "alabaster"
html_title = project
html_show_sourcelink = False
html_theme_options = {"page_width": "1100px", "sidebar_width": "230px"}
exclude_patterns = ["_build"]
suppress_warnings = ["mystnb.unknown_mime_type"]  # a widget's live view: its text and still picture show instead
'''

INDEX = '''# Redis Patterns Workbook

```{{include}} README.md
:start-line: 2
:end-before: "## How long, and what each chapter needs"
```

**Who it is for:** engineers who are new to Redis or who use it without having seen its pitfalls, in a
workshop or on their own; trainers who run such a workshop (the facilitator's guide); and anyone who
copies a pattern into production code (the `patterns` package).

## The two commands

```sh
make lab     # JupyterLab on the workbook: fakeredis, nothing else to install
make test    # every test
```

`REDIS_URL=redis://host:6379/0 make lab` runs the same notebooks on a real server.

```{{toctree}}
:caption: Chapters
:maxdepth: 1

{chapters}
```

```{{toctree}}
:caption: For trainers and hosts
:maxdepth: 1

docs/facilitator
docs/workshop
notebooks/host_board
solutions/index
```

```{{toctree}}
:caption: Reference
:maxdepth: 1

docs/glossary
The README <README>
```
'''

SOLUTIONS_INDEX = '''# Solutions, for trainers

The reference solutions of every chapter's exercises, one notebook per chapter, for a trainer to hand
out after a session (`make solutions` builds them from `solutions/*.py`, the one source the tests use too).

```{{toctree}}
:maxdepth: 1

{pages}
```
'''


def needs_by_chapter() -> dict[str, str]:
    """The README's table: chapter stem -> what it needs redis-server for ("nothing": fakeredis only)."""
    found = {}
    for stem, needs in re.findall(r"^\| `(\d\d_\w+)` \| [^|]+ \| (.+?) \|$", (ROOT / "README.md").read_text(), re.M):
        found[stem] = needs.strip()
    return found


def chapter_note(stem: str, needs: str) -> str:
    if needs == "nothing":
        runs = "**Runs on:** fakeredis alone, nothing to install (and on a real server with `REDIS_URL`)."
    else:
        runs = (f"**Runs on:** fakeredis, nothing to install. **Needs `redis-server` for:** {needs}. Without it, "
                "each of those cells says what it would have shown, and the rest of the chapter runs.")
    return f"{runs}\n\n**For trainers:** [the solutions of this chapter's exercises](../solutions/{stem}.ipynb)."


def with_note(path: Path, note: str) -> nbformat.NotebookNode:
    """The notebook with ``note`` as a cell of its own right after its title cell."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(note))
    return nb


def assemble(source: Path) -> None:
    """The pages, laid out like the repository, with the index, the notes and Sphinx's conf.py."""
    needs = needs_by_chapter()
    missing = [p.stem for p in CHAPTERS if p.stem not in needs]
    if missing:
        raise SystemExit(f"README.md's chapter table has no row for {missing}: the site says what each chapter needs")
    (source / "notebooks").mkdir(parents=True)
    for path in CHAPTERS:
        nbformat.write(with_note(path, chapter_note(path.stem, needs[path.stem])), source / "notebooks" / path.name)
    shutil.copy(ROOT / "notebooks" / "host_board.ipynb", source / "notebooks")
    (source / "solutions").mkdir()
    solutions = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    for path in solutions:
        shutil.copy(path, source / "solutions")
    (source / "solutions" / "index.md").write_text(SOLUTIONS_INDEX.format(pages="\n".join(p.stem for p in solutions)))
    (source / "docs").mkdir()
    for name in GUIDES:
        shutil.copy(ROOT / "docs" / name, source / "docs")
    shutil.copy(ROOT / "README.md", source / "README.md")
    (source / "index.md").write_text(INDEX.format(chapters="\n".join(f"notebooks/{p.stem}" for p in CHAPTERS)))
    (source / "conf.py").write_text(CONF)


def build(out: Path) -> int:
    from sphinx.cmd.build import build_main

    with tempfile.TemporaryDirectory(prefix="workbook-site-") as temporary:
        source = Path(temporary) / "src"
        assemble(source)
        if out.exists():
            shutil.rmtree(out)
        # -W: a warning (a broken cross-reference, a missing include) fails the build; -q: only those print
        return build_main(["-b", "html", "-q", "-W", "--keep-going", "-d", str(Path(temporary) / "doctrees"),
                           str(source), str(out)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "site", help="where the site goes (default: site/)")
    args = parser.parse_args(argv)
    status = build(args.out.resolve())
    if status == 0:
        print(f"built {args.out}/index.html")
    return status


if __name__ == "__main__":
    sys.exit(main())
