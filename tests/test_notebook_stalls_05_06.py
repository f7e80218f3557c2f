"""Notebooks 05 and 06: two cells whose committed output must hold on a machine that stalls.

A loaded machine (other notebooks running, a 2-core CI host) can pause any step for a second or
more. Each test injects such a stall on purpose, runs the notebook's own cell, and compares what
it prints, with the nbval sanitizer's masks, to the committed output: a cell whose text depends on
the machine's speed fails here.

- 05, the quiet stream's TTL: a command right after the appends stalls 1.5 s.
- 06, Lab 5's delayed restart: starting a server, or B's first attempt, stalls 1.5 s.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import time
from pathlib import Path

import pytest

from patterns.exercises import fresh_client
from patterns.sandbox import redis_server_binary

from helpers import nbval_sanitized

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = Path(os.environ.get("STALL_NOTEBOOKS", ROOT / "notebooks"))  # another copy's, to show a fix was needed
STALL = 1.5  # seconds: longer than the old cells' margins (1 s TTL, 1 s lease)


def _cells(name: str) -> list[dict]:
    return json.loads((NOTEBOOKS / name).read_text())["cells"]


def _code(cell: dict) -> str:
    return "".join(cell["source"])


def _committed(cell: dict) -> str:
    return "".join("".join(o["text"]) for o in cell["outputs"]
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


def _run(source: str, scope: dict) -> str:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(source, scope)
    return printed.getvalue()


def _stall_first_command(r, command: str) -> list[int]:
    """Make ``r``'s first ``command`` (EventStream sends its commands through execute_command) sleep
    STALL seconds before it is sent; returns a counter of that command's calls."""
    real, calls = r.execute_command, []

    def stalled(*args, **kwargs):
        if args and args[0] == command:
            calls.append(1)
            if len(calls) == 1:
                time.sleep(STALL)
        return real(*args, **kwargs)

    r.execute_command = stalled
    return calls


@pytest.mark.parametrize("command", ["XREADGROUP", "XPENDING"])
def test_05_the_quiet_stream_cell_prints_its_committed_output_when_a_command_stalls(command):
    cells = _cells("05_pubsub.ipynb")
    lab = next(c for c in cells if c["cell_type"] == "code" and '"demo-quiet"' in _code(c))
    from patterns.pubsub import EventStream
    from patterns.labs.pubsub import wait_until

    r = fresh_client()  # the notebook's fakeredis, on a server of its own
    calls = _stall_first_command(r, command)
    scope = {"time": time, "r": r, "EventStream": EventStream, "wait_until": wait_until}
    printed = _run(_code(lab), scope)
    assert calls, f"the cell never sent {command}: the stall was not injected"
    assert nbval_sanitized(printed) == nbval_sanitized(_committed(lab))


@pytest.mark.skipif(redis_server_binary() is None, reason="needs redis-server")
@pytest.mark.parametrize("stall", ["a server starts slowly", "B's first attempt"])
def test_06_the_delayed_restart_cell_prints_its_committed_output_when_a_step_stalls(monkeypatch, stall):
    from patterns import lock
    from patterns.labs import lock as lock_lab

    cells = _cells("06_locking.ipynb")
    code = [_code(c) for c in cells if c["cell_type"] == "code"]
    lab = next(c for c in cells if c["cell_type"] == "code" and "HAVE_SERVER" in _code(c)
               and "crash_and_stay_out_for_a_lease(" in _code(c) and "def " not in _code(c))
    scope: dict = {"time": time, "Redlock": lock.Redlock}
    exec(next(c for c in code if "HAVE_SERVER =" in c), scope)
    exec(next(c for c in code if "def crash_and_stay_out_for_a_lease" in c), scope)

    if stall == "a server starts slowly":
        real_start = lock_lab.Servers.start
        starts: list[int] = []

        def slow_start(self, *numbers):
            starts.append(1)
            if len(starts) == 1:  # the partition heals: the first server brought back takes 1.5 s more
                time.sleep(STALL)
            return real_start(self, *numbers)

        monkeypatch.setattr(lock_lab.Servers, "start", slow_start)
        injected = starts
    else:
        real_acquire = lock.Redlock.acquire
        attempts: list[int] = []

        def slow_acquire(self):
            attempts.append(1)
            if len(attempts) == 2:  # A's attempt is the first, B's the second
                time.sleep(STALL)
            return real_acquire(self)

        monkeypatch.setattr(lock.Redlock, "acquire", slow_acquire)
        injected = attempts
    printed = _run(_code(lab), scope)
    assert injected, "the stall was not injected"
    assert nbval_sanitized(printed) == nbval_sanitized(_committed(lab))
