"""Execute the notebooks in place on the embedded backend, so committed outputs are reproducible.

    python scripts/run_notebooks.py [notebooks/01_caching.ipynb ...]

Runs each notebook top to bottom in a fresh kernel of this environment, with
REDIS_URL and WORKBOOK_NAMESPACE removed (fakeredis) and a fixed hash seed, then
strips what changes from run to run and means nothing to a reader: widget state,
execution timings and kernel-specific metadata.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from kernels import AsyncSocketFileKernelManager

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CELL_TIMEOUT = 300


def clean(nb: nbformat.NotebookNode) -> None:
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        cell.metadata.pop("scrolled", None)


def execute(nb: nbformat.NotebookNode, path: Path, **env: str) -> None:
    """Run ``nb`` (read from ``path``) in a fresh kernel, without REDIS_URL/WORKBOOK_NAMESPACE unless given."""
    kernel_env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "WORKBOOK_NAMESPACE")}
    kernel_env.update(env)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        kernel_manager_class=AsyncSocketFileKernelManager,
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    # The kernel inherits this process environment: swap it for the run.
    previous = dict(os.environ)
    os.environ.clear()
    os.environ.update(kernel_env)
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(previous)


# What a cell prints where it could not start a throwaway server (patterns.sandbox and the labs' own guards).
NO_SERVER_LINES = ("redis-server is not installed here", "redis-server did not start here")


def _text_of(cell: nbformat.NotebookNode) -> str:
    outputs = cell.get("outputs", []) if cell.cell_type == "code" else []
    return "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)


def run(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as scratch:
        started = Path(scratch) / "servers"
        execute(nb, path, PYTHONHASHSEED="0", WORKBOOK_SERVER_LOG=str(started))
        clean(nb)
        # Its outputs came from throwaway servers: without redis-server they cannot match (tests/conftest.py).
        nb.metadata["workbook"] = {"starts_redis_server": started.exists()}
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    unmeasured = [text for text in map(_text_of, nb.cells) if any(line in text for line in NO_SERVER_LINES)]
    if unmeasured:  # saved, these outputs would fail the strict comparison wherever redis-server runs (CI)
        raise SystemExit(f"{path.name} ran without redis-server (a cell printed: {unmeasured[0].strip()[:120]!r}); "
                         "not saved: run it where redis-server is installed")
    nbformat.write(nb, path)
    if errors:
        raise SystemExit(f"{path.name}: {len(errors)} cell(s) raised: {errors[0].ename}: {errors[0].evalue}")
    print(f"ran {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def main(argv: list[str]) -> None:
    paths = [Path(a).resolve() for a in argv] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        run(path)


if __name__ == "__main__":
    main(sys.argv[1:])
