"""Start JupyterLab on the workbook: what `make lab` runs, and what the browser test starts.

    python scripts/lab.py [--port 8888] [--root-dir notebooks] [--no-browser]

Listens on 127.0.0.1 only and keeps Jupyter's token authentication on: it prints
a URL with ``?token=...`` to open. Root is allowed only because containers and CI
machines often run as root; nothing else is relaxed.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lab_command(port: int, root_dir: Path, open_browser: bool = True) -> list[str]:
    command = [
        sys.executable, "-m", "jupyter", "lab",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--ServerApp.root_dir={root_dir}",
    ]
    if not open_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--ServerApp.allow_root=True")
    return command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("LAB_PORT", 8888)))
    parser.add_argument("--root-dir", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    command = lab_command(args.port, args.root_dir.resolve(), open_browser=not args.no_browser)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
