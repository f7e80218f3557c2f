"""Every notebook also runs clean on a real Redis server (nbval-lax: it must run, outputs may differ).

The strict leg (outputs equal to the committed ones) runs on fakeredis in the main
pytest session; this leg points REDIS_URL at the harness's throwaway server and runs
each notebook in a child pytest, so a failure names the notebook and the cell.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks_to_run():
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_clean_on_a_real_server(notebook, real, redis_server):
    env = {**os.environ, "REDIS_URL": redis_server.url}
    env.pop("WORKBOOK_NAMESPACE", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
         "--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=300", str(notebook)],
        cwd=notebook.parent.parent, env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, f"{notebook.name} failed on {redis_server.url}:\n{result.stdout[-4000:]}"
    assert " passed" in result.stdout.splitlines()[-1]
