"""scripts/run_notebooks.py notes in a notebook whether its run started a throwaway redis-server."""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import run_notebooks  # noqa: E402

from patterns.sandbox import redis_server_binary  # noqa: E402

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _run(tmp_path: Path, source: str) -> dict:
    path = tmp_path / "probe.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)]), path)
    run_notebooks.run(path)
    return nbformat.read(path, as_version=4).metadata["workbook"]


@pytest.mark.skipif(redis_server_binary() is None, reason="needs redis-server to start one")
def test_a_notebook_that_starts_a_server_is_marked_as_needing_one(tmp_path):
    started = _run(tmp_path, "from patterns.sandbox import LocalServer\nwith LocalServer() as s:\n    s.port")
    assert started == {"starts_redis_server": True}


def test_a_notebook_on_fakeredis_alone_is_marked_as_not_needing_one(tmp_path):
    assert _run(tmp_path, "import patterns\npatterns.connect().ping()") == {"starts_redis_server": False}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_committed_notebook_says_whether_it_needs_a_server(path):
    assert isinstance(nbformat.read(path, as_version=4).metadata["workbook"]["starts_redis_server"], bool)


def test_a_run_without_redis_server_is_refused_not_saved(tmp_path):
    """Review of 2 Dec: it saved the "not installed" lines as outputs and marked the notebook as needing no
    server, so the strict comparison then failed on every machine that has one (CI among them)."""
    source = ("from patterns import sandbox\nimport fakeredis\nsandbox.redis_server_binary = lambda: None\n"
              "sandbox.on_a_real_server(fakeredis.FakeRedis(), len, without='its bytes')")
    path = tmp_path / "probe.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)]), path)
    with pytest.raises(SystemExit, match="without redis-server"):
        run_notebooks.run(path)
    assert nbformat.read(path, as_version=4).cells[0].outputs == []
