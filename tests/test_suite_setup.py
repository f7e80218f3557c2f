"""How the suite runs: on pytest-xdist workers (make test) and without them (one leg at a time)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pytest(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "CI"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_the_suite_still_runs_without_pytest_xdist():
    # The scheduler hook exists only while xdist is loaded: without optionalhook every run with
    # -p no:xdist stopped at "unknown hook 'pytest_xdist_make_scheduler'".
    result = _pytest("-p", "no:xdist", "-q", "tests/test_keys.py")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_a_notebook_run_alone_on_two_workers_keeps_its_cells_on_one():
    # pytest reads tests/conftest.py only when a path under tests/ is run: with the scheduler there,
    # `pytest -n 2 notebooks/...` dealt the cells out to both workers, each in its own kernel.
    result = _pytest("-n", "2", "-v", "notebooks/00_start_here.ipynb")
    assert result.returncode == 0, result.stdout[-3000:]
    workers = {line.split("]", 1)[0] for line in result.stdout.splitlines() if line.startswith("[gw") and "PASSED" in line}
    assert len(workers) == 1, workers
