"""Every notebook also runs clean on a real Redis server (nbval-lax: it must run, outputs may differ),
once as the server's default user, once as a workshop attendee (an ACL user fenced into its
namespace, with exactly the rules ``patterns.workshop provision`` gives), and once on a 3-master
Redis Cluster (one node's URL: ``patterns.connect()`` finds the cluster from it).

The strict leg (outputs equal to the committed ones) runs on fakeredis in the main
pytest session; these legs point REDIS_URL at the harness's throwaway server and run
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


def run_lax(notebook: Path, url: str, namespace: str | None = None) -> subprocess.CompletedProcess:
    # Only nbval in the child: loading every installed plugin cost each of the 27 legs about a second
    # of CPU before its first cell (3.4 s to collect one notebook, 2.2 s without), on a shared machine.
    env = {**os.environ, "REDIS_URL": url, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop("WORKBOOK_NAMESPACE", None)
    if namespace:
        env["WORKBOOK_NAMESPACE"] = namespace
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "nbval", "-p", "no:cacheprovider", "-o", "addopts=",
         "--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=300", str(notebook)],
        cwd=notebook.parent.parent, env=env, capture_output=True, text=True, timeout=900,
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_clean_on_a_real_server(notebook, real, redis_server):
    result = run_lax(notebook, redis_server.url)
    assert result.returncode == 0, f"{notebook.name} failed on {redis_server.url}:\n{result.stdout[-4000:]}"
    assert " passed" in result.stdout.splitlines()[-1]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_clean_on_a_cluster(notebook, cluster_client, redis_cluster):
    cluster_client.flushall()
    result = run_lax(notebook, redis_cluster.url)
    assert result.returncode == 0, f"{notebook.name} failed on the cluster at {redis_cluster.url}:\n{result.stdout[-4000:]}"
    assert " passed" in result.stdout.splitlines()[-1]


# Chapters whose labs write to the attendee's server (00 and 08 use their own servers for the rest).
WRITES_TO_THE_SERVER = {"00_start_here", "01_caching", "02_rate_limiting", "03_leaderboards", "04_sessions",
                        "05_pubsub", "06_locking", "07_production_checklist", "09_web_app"}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_clean_as_a_workshop_attendee(notebook, real, attendee):
    result = run_lax(notebook, attendee.url, attendee.namespace)
    assert result.returncode == 0, f"{notebook.name} failed as attendee {attendee.namespace}:\n{result.stdout[-4000:]}"
    assert " passed" in result.stdout.splitlines()[-1]
    names = list(real.scan_iter(count=1000))
    assert all(name.startswith(f"{attendee.namespace}:") for name in names), \
        [name for name in names if not name.startswith(f"{attendee.namespace}:")][:5]
    if notebook.stem in WRITES_TO_THE_SERVER:
        assert names, f"{notebook.name} left nothing under {attendee.namespace}: did it run as the attendee?"
