"""Keyspace explorer for notebook 00: type a Redis command, run it, see the keys, their types and TTLs.

A text box, a Run button, a line that says what the typed command would send (or why
it is refused) as you type, the last command's reply and what it changed, and a table
of the keys under the explorer's prefix. The commands run through
``patterns.console.Console``, which keeps them inside the learner's namespace and
refuses the ones that reach past it; this module only draws.
"""
from __future__ import annotations

import html
import time
from typing import Any

import ipywidgets as w

from ..console import Console, Outcome, State, joined


class Row:
    """One key in the table: its name under the prefix, type, TTL (whole seconds; None: none) and contents."""

    def __init__(self, name: str, state: State) -> None:
        self.name, self.type, self.size = name, state.type, state.size
        self.ttl = None if state.ttl_ms is None else round(state.ttl_ms / 1000)

    def __repr__(self) -> str:
        return f"Row({self.name!r}, {self.type!r}, ttl={self.ttl!r}, {self.size!r})"


class KeyspaceExplorer:
    """The command box, the Run button, the reply and changes, and the table of keys. Display it last in a cell."""

    def __init__(self, r: Any, prefix: str = "explore", command: str = "", limit: int = 50) -> None:
        self.console = Console(r, prefix=prefix, limit=limit)
        self.last: Outcome | None = None
        self.command = w.Text(value=command, description="command", placeholder="SET greeting hello EX 60",
                              layout=w.Layout(width="60%"))
        self.run_button = w.Button(description="Run", icon="play", button_style="primary")
        self.preview = w.HTML()
        self.reply = w.HTML("type a command and press <i>Run</i>")
        self.table = w.HTML()
        for widget, role in [(self.command, "command"), (self.run_button, "run"), (self.preview, "preview"),
                             (self.reply, "reply"), (self.table, "table")]:
            widget.add_class(f"keyspace-{role}")  # for the browser test to find each part
        self.command.observe(lambda _: self._show_preview(), names="value")
        self.run_button.on_click(lambda _: self.run())
        self.view = w.VBox([w.HBox([self.command, self.run_button]), self.preview, self.reply, self.table])
        self._show_preview()
        self.refresh()

    def run(self, command: str | None = None) -> Outcome:
        """Type ``command`` into the box (if given), press Run, and return what it did."""
        if command is not None:
            self.command.value = command
        outcome = self.console.run(self.command.value)
        if outcome.after is not None:
            self._show_table(outcome.after)
        self.last = outcome
        self.reply.value = f"<pre>{html.escape(str(outcome))}</pre>"
        return outcome

    def refresh(self) -> None:
        """Read the keys again (one may have expired since) and redraw the table."""
        self._show_table(self.console.read())

    def wait_until_gone(self, name: str, timeout: float = 10.0) -> None:
        """Wait until Redis has deleted key ``name`` (under the prefix) by itself, its TTL run out; then redraw.

        It asks the server every 20 ms, so it ends as soon as the key is gone, however slow the machine.
        A key without a TTL would never go: that is a ValueError, not a wait.
        """
        full, deadline = self.console.root + name, time.monotonic() + timeout
        while True:
            left = self.console.r.pttl(full)
            if left == -2:  # gone
                break
            if left == -1:
                raise ValueError(f"{name} has no TTL, so Redis will never delete it by itself")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} still exists after {timeout} s (its TTL: {left} ms)")
            time.sleep(0.02)
        self.refresh()

    def rows(self) -> list[Row]:
        """The keys as the table shows them, by name."""
        return [Row(name, state) for name, state in sorted(self.console.read().items())]

    def _show_preview(self) -> None:
        sent, refused = self.console.prepare(self.command.value)
        if refused:
            self.preview.value = f"<span>refused: {html.escape(refused)}</span>"
            return
        effect = "it writes" if self.console.writes(sent) else "it only reads"
        self.preview.value = f"<span>sends <code>{html.escape(joined(sent))}</code> · {effect}</span>"

    def _show_table(self, states: dict[str, State]) -> None:
        header = f"<p>keys under <code>{html.escape(self.console.root)}</code>, shown without it</p>"
        note = f"<p>{html.escape(self.console.note)}</p>" if self.console.note else ""
        if not states:
            self.table.value = header + note + "<p>no keys yet</p>"
            return
        cells = "".join(
            f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(state.type)}</td>"
            f"<td>{state.ttl}</td><td>{html.escape(state.size)}</td></tr>"
            for name, state in sorted(states.items())
        )
        self.table.value = (header + note + "<table><tr><th>key</th><th>type</th><th>TTL</th><th>holds</th></tr>"
                            + cells + "</table>")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.view._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = "KeyspaceExplorer: open this notebook in JupyterLab to use it"
        return bundle
