"""Make this machine as busy as a shared CI host, to prove the test suite does not depend on a quiet one.

    python scripts/busy_machine.py [--seconds N] [--burners 2]

Until stopped (Ctrl-C, or after --seconds), it keeps two CPU-bound processes running and a loop
that starts and stops redis-servers of its own on random free ports, as other projects' test
suites on the same machine would. Run it beside `make test`:

    python scripts/busy_machine.py --seconds 3600 & make test; kill %1

It touches no server it did not start: each of its servers has its own port and directory, and
no persistence.
"""
from __future__ import annotations

import argparse
import multiprocessing
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def burn() -> None:
    while True:
        pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))  # any free port, as an unrelated program would take one
        return probe.getsockname()[1]


def churn(stop_at: float) -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    directory = tempfile.mkdtemp(prefix="busy-machine-")
    running: list[subprocess.Popen] = []
    started = 0
    try:
        while time.monotonic() < stop_at:
            port = random.choice([free_port(), random.randrange(12000, 32768)])  # some in the harness's range
            running.append(subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", directory], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            started += 1
            if len(running) > 4:
                running.pop(0).terminate()
            time.sleep(random.uniform(0.05, 0.3))
    finally:
        for process in running:
            process.terminate()
        for process in running:
            process.wait(10)
        shutil.rmtree(directory, ignore_errors=True)
        print(f"busy_machine: started and stopped {started} redis-servers", flush=True)


def _stop(*_: object) -> None:
    raise KeyboardInterrupt  # `kill` ends the run as Ctrl-C does: servers stopped, burners ended


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3600)
    parser.add_argument("--burners", type=int, default=2)
    args = parser.parse_args()
    burners = [multiprocessing.Process(target=burn, daemon=True) for _ in range(args.burners)]
    for process in burners:
        process.start()
    signal.signal(signal.SIGTERM, _stop)
    try:
        churn(time.monotonic() + args.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        for process in burners:
            process.terminate()


if __name__ == "__main__":
    main()
