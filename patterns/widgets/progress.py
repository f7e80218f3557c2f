"""The host's progress board as a widget: attendees × exercises, who is stuck, who is idle.

It shows what ``patterns.progress.read_board`` reads, refreshed by the button or, with
``live`` on, every ``every`` seconds from a background thread (the kernel stays free for
other cells). Driven from code too: ``board.refresh()``, ``board.live.value = True``.

One board refreshes live at a time: a new board (the cell run again) switches the others
off, since their outputs are gone and nobody could switch them off any more. Switching live
off never waits for a read in progress: that read finishes in the background and is the last.
"""
from __future__ import annotations

import html
import threading
import weakref
from typing import Any, Callable

import ipywidgets as w

from ..progress import EXERCISES, IDLE_SECONDS, Board, Progress

_COLOURS = {"passed": "#c8e6c9", "not yet": "#ffe0b2", None: "#f5f5f5"}


class ProgressBoard:
    """``read()`` gives a Board (``patterns.workshop.board_reader(admin)`` on a workshop server)."""

    _boards: "weakref.WeakSet[ProgressBoard]" = weakref.WeakSet()

    def __init__(self, read: Callable[[], Board], *, every: float = 5.0, idle_seconds: float = IDLE_SECONDS) -> None:
        if every < 1:
            raise ValueError(f"every={every}: a refresh reads every record, so at most once a second")
        for other in list(self._boards):
            other.live.value = False
        self._boards.add(self)
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
        self._stop.set()  # the thread running now, if any, ends after its current read
        if change["new"]:
            self._stop = stop = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(stop,), name="progress-board", daemon=True)
            self._thread.start()

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.refresh()
            except Exception as error:  # a server that went away: say so on the board, try again later
                self.summary.value = f"<b>could not read the board:</b> {html.escape(str(error))}"
            stop.wait(self.every)

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
