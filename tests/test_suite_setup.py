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


PROBE = ("import json\nfrom ipykernel.connect import get_connection_info\n"
         "print(json.loads(get_connection_info())['transport'])")


def _probe_notebook(path: Path, expected: str = "ipc") -> Path:
    import nbformat

    cell = nbformat.v4.new_code_cell(PROBE, execution_count=1,
                                     outputs=[nbformat.v4.new_output("stream", name="stdout", text=expected + "\n")])
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    return path


def test_nbvals_kernels_listen_on_socket_files_not_tcp_ports(tmp_path):
    # CI run of 3 Dec: a kernel died with "Address already in use": jupyter_client picks free TCP
    # ports, closes them, and the kernel binds them a moment later, while six workers' Redis
    # connections take ephemeral ports from the same range. nbval checks the printed transport.
    notebook = _probe_notebook(tmp_path / "probe.ipynb")
    # The probe lives outside the checkout, so the root conftest.py is loaded as a plugin (-p): what
    # the suite's notebooks get from it, as files under it.
    result = _pytest("-p", "no:xdist", "-p", "conftest", "-q", "-c", str(ROOT / "pyproject.toml"),
                     "--rootdir", str(ROOT), str(notebook))
    assert result.returncode == 0, result.stdout[-3000:]


def test_make_notebooks_kernels_listen_on_socket_files_not_tcp_ports(tmp_path):
    import nbformat

    sys.path.insert(0, str(ROOT / "scripts"))
    import run_notebooks

    path = _probe_notebook(tmp_path / "probe.ipynb")
    nb = nbformat.read(path, as_version=4)
    run_notebooks.execute(nb, path)
    assert nb.cells[0].outputs[0]["text"].strip() == "ipc"


def test_kernel_sockets_fit_a_unix_socket_path_under_a_long_temporary_directory(tmp_path, monkeypatch):
    # Review of 3 Dec: with a TMPDIR of 66 characters every kernel failed: "File name too long".
    import tempfile

    sys.path.insert(0, str(ROOT / "scripts"))
    import kernels

    long_dir = tmp_path / ("d" * (90 - len(str(tmp_path))))
    long_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(long_dir))
    assert tempfile.gettempdir() == str(long_dir)
    prefix = kernels.SocketFileKernelManager(kernel_name="python3").ip
    assert len((prefix + "-99").encode()) < kernels.SOCKET_PATH_MAX, prefix


def test_the_site_tests_run_on_one_worker_so_the_site_is_built_once():
    # CI run of 4 Dec: the site's module fixture built the site on each worker that drew one of its
    # tests, five builds of 58-64 s each (the slowest-15 list was a third site setups).
    import importlib.util

    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    root_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root_conftest)

    ids = ["tests/test_site.py::test_no_picture_is_missing", "tests/test_site.py::test_the_search_finds_hash_tag",
           "tests/test_site.py::test_every_chapter_page_shows_its_pictures_and_what_it_needs[02_rate_limiting]"]
    assert len({root_conftest._unit_of(nodeid) for nodeid in ids}) == 1
    assert root_conftest._rank(ids[0]) < root_conftest._rank("tests/test_keys.py::test_anything")
