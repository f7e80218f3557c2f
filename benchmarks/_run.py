"""make bench: every benchmark here, one after the other, then one short table of every ratio and its goal."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _measure import Row, print_rows

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = []
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as summary:
        environment = {**os.environ, "BENCH_SUMMARY": summary.name}
        for script in sorted(HERE.glob("[!_]*.py")):
            print(f"\n=== {script.name} ===", flush=True)
            if subprocess.run([sys.executable, str(script)], env=environment).returncode:
                failed.append(script.name)
        rows = [Row(**json.loads(line)) for line in summary.read().splitlines() if line.strip()]
    if rows:
        print("\n=== summary: ours against the library a user would pick instead ===")
        print_rows(rows)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
