"""Leaderboard dashboard for notebook 03: simulated players scoring in rounds.

Each round, every player scores (seeded, so the same rounds replay the same way) and
the simulated clock moves six hours, so days and weeks turn over as you play. Shown:
the top 10 with each player's move since the last round, one player's neighbourhood
("me" view, via ``around``), and a toggle between the all-time, daily and weekly boards.
"""
from __future__ import annotations

import html
import random
from typing import Any

import ipywidgets as w

from ..leaderboard import Board, Entry, Leaderboard

ROUND_HOURS = 6
NAMES = ["ada", "bob", "cy", "dee", "eve", "fay", "gus", "hal", "ivy", "jo", "kai", "lin", "max", "ned", "oz",
         "pat", "quinn", "ray", "sam", "tia", "uma", "vic", "wes", "xia", "yan", "zoe"]


class LeaderboardDashboard:
    """The live dashboard of notebook 03. Display it as the last line of a cell."""

    def __init__(self, r: Any, *, seed: int = 0, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.seed = seed
        self.board = Leaderboard(r, f"dashboard-{seed}", mode="sum", clock=lambda: self.now)
        self.skill = {name: random.Random(f"{seed}:{name}").uniform(0.5, 1.5) for name in NAMES}
        self.rng = random.Random(seed)
        self.rounds = 0
        self.previous: dict[str, int] = {}

        self.round_button = w.Button(description="Play a round", icon="trophy", button_style="primary")
        self.view_toggle = w.ToggleButtons(options=["all time", "today", "this week"], description="board")
        self.me = w.Dropdown(options=NAMES, value="ada", description="me")
        self.table = w.HTML()
        self.neighbourhood = w.HTML()
        self.status = w.HTML()
        self.round_button.on_click(lambda _: self.play_round())
        self.view_toggle.observe(lambda _: self.refresh(), names="value")
        self.me.observe(lambda _: self.refresh(), names="value")
        self.view = w.VBox([w.HBox([self.round_button, self.view_toggle]), self.status,
                            w.HBox([self.table, w.VBox([self.me, self.neighbourhood])])])
        self.refresh()

    def current(self) -> Board:
        return {"all time": self.board, "today": self.board.daily(), "this week": self.board.weekly()}[self.view_toggle.value]

    def play_round(self) -> None:
        """Every player scores once; the clock moves on six hours."""
        self.previous = {e.member: e.rank for e in self.current().top(len(NAMES))}
        if self.rounds:
            self.now += ROUND_HOURS * 3600  # "today" is the day of the latest round
        for name in NAMES:
            self.board.submit(name, round(self.rng.expovariate(1 / 10) * self.skill[name]))
        self.rounds += 1
        self.refresh()

    def top_lines(self, count: int = 3) -> list[str]:
        """The top ``count`` of the current view as text: rank, member, score."""
        return [f"{e.rank:>2}. {e.member:6} {e.score:>5.0f}" for e in self.current().top(count)]

    def _move(self, entry: Entry) -> str:
        before = self.previous.get(entry.member)
        if before is None or before == entry.rank:
            return ""
        return f"▲{before - entry.rank}" if before > entry.rank else f"▼{entry.rank - before}"

    def refresh(self) -> None:
        rows = "".join(
            f"<tr><td>{e.rank}</td><td>{html.escape(e.member)}</td><td>{e.score:.0f}</td><td>{self._move(e)}</td></tr>"
            for e in self.current().top(10)
        )
        self.table.value = f"<table><tr><th>rank</th><th>player</th><th>score</th><th>move</th></tr>{rows}</table>"
        around = self.current().around(self.me.value, 2)
        self.neighbourhood.value = "<br>".join(
            f"{'<b>' if e.member == self.me.value else ''}{e.rank}. {html.escape(e.member)} {e.score:.0f}"
            f"{'</b>' if e.member == self.me.value else ''}" for e in around
        ) or "not on this board yet"
        day = self.board.daily().key.rsplit(":", 1)[1]
        self.status.value = f"round {self.rounds} · day {day} · {self.current().size()} players on '{self.view_toggle.value}'"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.view._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = "LeaderboardDashboard: open this notebook in JupyterLab to use it"
        return bundle
