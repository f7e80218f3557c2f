"""How the suite spreads over pytest-xdist workers (``make test`` runs ``pytest -n``).

At the root so that every run loads it, ``pytest -n 4 notebooks`` too: pytest reads
``tests/conftest.py`` only when a path under ``tests/`` is run. The backends and fixtures
live in ``tests/conftest.py``.
"""
from __future__ import annotations

import os
import re
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts"))
from kernels import use_socket_files_in_nbval  # noqa: E402  (scripts/ is not a package)

use_socket_files_in_nbval()  # every kernel nbval starts, here and in the real-server legs' child pytests

# The units that each run whole notebooks (the browser, a leg on a server) or a notebook's cells,
# longest first: handed out first, so no worker starts one of them last while the others sit idle.
LONG_FIRST = ("tests/test_browser.py", "tests/test_site.py", "tests/test_notebooks_real.py", "notebooks/",
              "tests/test_notebook_stalls_05_06.py", "tests/test_notebook07_wait_lab.py")
BROWSER_UNITS = 2  # the browser tests in this many units: each worker running one starts JupyterLab and Chromium


def _unit_of(nodeid: str) -> str:
    """What one worker must run whole: a notebook's cells (nbval runs them in order in one kernel,
    each cell one test); the site's tests (they share one build of the site, a module fixture that
    each worker would otherwise build again: six builds of 40-60 s under load); the browser tests in
    BROWSER_UNITS shares (so only that many JupyterLabs and browsers start, not one per worker); else
    the single test."""
    path = nodeid.split("::", 1)[0]
    if path.endswith(".ipynb") or path == "tests/test_site.py":
        return path
    if path == "tests/test_browser.py":
        chapter = re.search(r"\[(\d+)_", nodeid)
        return f"browser-{int(chapter.group(1)) % BROWSER_UNITS if chapter else 0}"
    return nodeid


def _rank(nodeid: str) -> int:
    """Where a test's unit goes in the queue: by LONG_FIRST, everything else after."""
    for rank, start in enumerate(LONG_FIRST):
        if nodeid.startswith(start):
            return rank
    return len(LONG_FIRST)


@pytest.hookimpl(optionalhook=True)  # the hook exists only while pytest-xdist is loaded (-p no:xdist runs too)
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's scope scheduler with our units (``--dist loadgroup`` cannot keep a notebook's
    cells together under pytest 9, whose node ids ignore the group suffix xdist adds), queued in the
    collection's order, which each worker has sorted longest first (xdist's own reordering, by
    number of tests, would put the nine notebooks' cells before the browser's few long tests)."""
    from xdist.scheduler import LoadScopeScheduling

    class WorkbookScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit_of(nodeid)

    config.option.loadscopereorder = False
    return WorkbookScheduling(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """On an xdist worker, sort the long units first (every worker collects, and so sorts, the same
    way; the sort is stable, so a notebook's cells keep their order)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: _rank(item.nodeid))
