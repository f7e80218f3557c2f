"""Paced traffic in a background thread, shared by the dashboards' "run" buttons.

The loop sends requests at a steady rate while a second thread redraws a few times a
second (drawing costs more than a request). It runs in a daemon thread so the page stays live, with
its button disabled meanwhile; ``wait()`` lets code-driven cells block until it ends.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

REDRAWS_PER_SECOND = 4


def run_paced(seconds: float, per_second: float, step: Callable[[], Any], redraw: Callable[[], None]) -> None:
    """Call ``step`` ``per_second`` times a second for ``seconds``, redrawing as it goes.

    Requests are due on a fixed schedule (a slow one is followed by the ones that fell due
    meanwhile), and the chart is redrawn on a thread of its own: drawing a figure takes a
    good part of a second's budget, and it must not slow the traffic it shows.
    """
    interval = 1.0 / per_second
    finished = threading.Event()

    def paint() -> None:
        while not finished.wait(1.0 / REDRAWS_PER_SECOND):
            redraw()

    painter = threading.Thread(target=paint, name="dashboard-painter", daemon=True)
    painter.start()
    due = time.monotonic()
    deadline = due + seconds
    try:
        while time.monotonic() < deadline:
            step()
            due += interval
            time.sleep(max(0.0, due - time.monotonic()))
    finally:
        finished.set()
        painter.join()
    redraw()


class ButtonTask:
    """One background run at a time, started by a button that stays disabled while it runs."""

    def __init__(self, button: Any) -> None:
        self.button = button
        self.thread: threading.Thread | None = None

    def start(self, work: Callable[[], None]) -> None:
        if self.thread and self.thread.is_alive():
            return
        self.button.disabled = True

        def body() -> None:
            try:
                work()
            finally:
                self.button.disabled = False

        self.thread = threading.Thread(target=body, daemon=True)
        self.thread.start()

    def wait(self) -> None:
        """Block until the run has finished (for code-driven cells)."""
        if self.thread:
            self.thread.join()
