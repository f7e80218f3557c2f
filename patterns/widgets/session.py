"""Sessions dashboard for notebook 04: log simulated users in and out, watch their sessions age.

Each login is a new device (a new session). The table shows every live session with
its owner and the time left before it ends when idle and at the latest (absolute);
*Refresh* re-reads the countdowns. Act on the selected session (touch, rotate, log
out) or on the selected user (log out everywhere).
"""
from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from ..session import SessionStore

USERS = ["ada", "bob", "cy"]


class SessionDashboard:
    """The live dashboard of notebook 04. Display it as the last line of a cell."""

    def __init__(self, r: Any, *, idle_ttl: float = 30, absolute_ttl: float = 120) -> None:
        self.store = SessionStore(r, idle_ttl=idle_ttl, absolute_ttl=absolute_ttl)
        self.sessions: list[str] = []  # ids this dashboard created, newest last
        self.user = w.Dropdown(options=USERS, value="ada", description="user")
        self.selected = w.Dropdown(options=[], description="session")
        buttons = {
            "Log in (new device)": self.log_in,
            "Touch": self.touch,
            "Rotate": self.rotate,
            "Log out": self.log_out,
            "Log out everywhere": self.log_out_everywhere,
            "Refresh": self.refresh,
        }
        self.buttons = {}
        for label, action in buttons.items():
            button = w.Button(description=label)
            button.on_click(lambda _, act=action: act())
            self.buttons[label] = button
        self.buttons["Log out everywhere"].button_style = "danger"
        self.table = w.HTML()
        self.message = w.HTML()
        self.view = w.VBox([
            w.HBox([self.user, self.buttons["Log in (new device)"], self.buttons["Log out everywhere"]]),
            w.HBox([self.selected, self.buttons["Touch"], self.buttons["Rotate"], self.buttons["Log out"],
                    self.buttons["Refresh"]]),
            self.message,
            self.table,
        ])
        self.refresh()

    @staticmethod
    def short(session_id: str) -> str:
        return session_id[:8] + "…"

    def log_in(self) -> str:
        session_id = self.store.create(self.user.value, {"device": len(self.sessions) + 1})
        self.sessions.append(session_id)
        self.message.value = f"{self.user.value} logged in: session {self.short(session_id)}"
        self.refresh(select=session_id)
        return session_id

    def touch(self) -> None:
        if self.selected.value:
            alive = self.store.get(self.selected.value) is not None
            self.message.value = f"touched {self.short(self.selected.value)}" if alive else "that session has ended"
        self.refresh()

    def rotate(self) -> None:
        old = self.selected.value
        new = self.store.rotate(old) if old else None
        if new:
            self.sessions[self.sessions.index(old)] = new
            self.message.value = f"rotated {self.short(old)} → {self.short(new)}; the old id no longer works"
        self.refresh(select=new)

    def log_out(self) -> None:
        if self.selected.value and self.store.destroy(self.selected.value):
            self.message.value = f"logged out {self.short(self.selected.value)}"
        self.refresh()

    def log_out_everywhere(self) -> None:
        ended = self.store.destroy_all(self.user.value)
        self.message.value = f"{self.user.value} logged out everywhere: {ended} session(s) ended"
        self.refresh()

    def live(self) -> dict[str, Any]:
        """{session id: SessionInfo} for this dashboard's sessions that are still live."""
        found = {sid: self.store.info(sid) for sid in self.sessions}
        return {sid: info for sid, info in found.items() if info is not None}

    def counts(self) -> str:
        """Live sessions per user, as one line."""
        owners = [info.user_id for info in self.live().values()]
        return " · ".join(f"{user}: {owners.count(user)}" for user in USERS)

    def refresh(self, select: str | None = None) -> None:
        live = self.live()
        self.sessions = [sid for sid in self.sessions if sid in live]
        self.selected.options = [(f"{self.short(sid)} ({live[sid].user_id})", sid) for sid in self.sessions]
        if select in live:
            self.selected.value = select
        rows = "".join(
            f"<tr><td>{html.escape(info.user_id)}</td><td><code>{self.short(sid)}</code></td>"
            f"<td>{info.idle_left:.0f} s</td><td>{info.absolute_left:.0f} s</td></tr>"
            for sid, info in live.items()
        )
        self.table.value = (f"<b>live sessions: {len(live)}</b> ({self.counts()})<table><tr><th>user</th>"
                            f"<th>session</th><th>idle left</th><th>absolute left</th></tr>{rows}</table>")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.view._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = "SessionDashboard: open this notebook in JupyterLab to use it"
        return bundle
