"""The host's progress board as a widget: attendees × exercises, who is stuck, who is idle.

It shows what ``patterns.progress.read_board`` reads, refreshed by the button or, with
``live`` on, every ``every`` seconds from a background thread (the kernel stays free for
other cells). Driven from code too: ``board.refresh()``, ``board.live.value = True``.
"""
from __future__ import annotations

import html
import threading
from typing import Any, Callable

import ipywidgets as w

from ..progress import EXERCISES, IDLE_SECONDS, Board, Progress

_COLOURS = {"passed": "#c8e6c9", "not yet": "#ffe0b2", None: "#f5f5f5"}


class ProgressBoard:
    """``read()`` gives a Board (``lambda: patterns.workshop.board(admin)`` on a workshop server)."""

    def __init__(self, read: Callable[[], Board], *, every: float = 5.0, idle_seconds: float = IDLE_SECONDS) -> None:
        self.read = read
        self.every = every
        self.idle_seconds = idle_seconds
        self.board: Board | None = None
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.live = w.Checkbox(value=False, description=f"live (every {every:g} s)")
        self.grid = w.HTML("press <i>Refresh</i>")
        self.summary = w.HTML("")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.live.observe(self._live_changed, names="value")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.view = w.VBox([w.HBox([self.refresh_button, self.live]), self.grid, self.summary])

    def refresh(self) -> Board:
        """Read the board now and show it."""
        self.board = board = self.read()
        self.grid.value = _grid(board)
        self.summary.value = _summary(board, self.idle_seconds)
        return board

    def _live_changed(self, change: dict) -> None:
        if change["new"]:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="progress-board", daemon=True)
            self._thread.start()
        else:
            self._stop.set()
            if self._thread is not None:
                self._thread.join(self.every + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception as error:  # a server that went away: say so on the board, try again later
                self.summary.value = f"<b>could not read the board:</b> {html.escape(str(error))}"
            self._stop.wait(self.every)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.view._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = "ProgressBoard: open this notebook in JupyterLab to use it"
        return bundle


def _grid(board: Board) -> str:
    head = "".join(f"<th title='{html.escape(e.title, quote=True)}' style='padding:2px 6px'>{e.column}</th>"
                   for e in EXERCISES)
    rows = []
    for name in board.attendees:
        cells = "".join(_cell(board.progress(name, e.id)) for e in EXERCISES)
        rows.append(f"<tr><th style='text-align:left;padding:2px 6px'>{html.escape(name)}</th>{cells}</tr>")
    return f"<table style='border-collapse:collapse'><tr><th style='text-align:left'>attendee</th>{head}</tr>{''.join(rows)}</table>"


def _cell(p: Progress | None) -> str:
    if p is None:
        return f"<td style='background:{_COLOURS[None]};text-align:center'>·</td>"
    mark = "✓" if p.finished else f"✗ {p.tries}"
    colour = _COLOURS["passed" if p.finished else "not yet"]
    return (f"<td title='{html.escape(p.message, quote=True)}' "
            f"style='background:{colour};text-align:center;padding:2px 6px'>{mark}</td>")


def _summary(board: Board, idle_seconds: float) -> str:
    return "<br>".join(html.escape(line) for line in board.summary(idle_seconds))
