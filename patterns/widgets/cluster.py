"""Slot explorer for notebook 08: type key names, see each key's hash tag, slot and master.

Pure computation (CRC16 via redis-py's ``key_slot``) over the slot ranges the notebook
passes in, so it needs no Redis logic of its own and works without a cluster.
"""
from __future__ import annotations

import html
from typing import Any, Sequence

import ipywidgets as w
from redis.cluster import key_slot

SLOTS = 16384
EVEN_SPLIT = [(0, 5460, "master 1"), (5461, 10922, "master 2"), (10923, 16383, "master 3")]


def hashed_part(name: str) -> str:
    """What the cluster hashes: the first non-empty {tag}, else the whole name."""
    start = name.find("{")
    if start != -1:
        end = name.find("}", start + 1)
        if end > start + 1:
            return name[start + 1 : end]
    return name


class SlotExplorer:
    """A text box of comma-separated key names and a table of where each would live."""

    def __init__(self, ranges: Sequence[tuple[int, int, str]] = EVEN_SPLIT, keys: str = "user:1, {user:1}:plan") -> None:
        self.ranges = list(ranges)
        self.names = w.Text(value=keys, description="keys", layout=w.Layout(width="70%"))
        self.table = w.HTML()
        self.verdict = w.HTML()
        self.names.observe(lambda _: self.refresh(), names="value")
        self.view = w.VBox([self.names, self.table, self.verdict])
        self.refresh()

    def owner(self, slot: int) -> str:
        return next(name for start, end, name in self.ranges if start <= slot <= end)

    def rows(self) -> list[tuple[str, str, int, str]]:
        names = [n.strip() for n in self.names.value.split(",") if n.strip()]
        return [(n, hashed_part(n), key_slot(n.encode()), self.owner(key_slot(n.encode()))) for n in names]

    def refresh(self) -> None:
        rows = self.rows()
        cells = "".join(
            f"<tr><td><code>{html.escape(n)}</code></td><td><code>{html.escape(h)}</code></td>"
            f"<td>{s}</td><td>{o}</td></tr>"
            for n, h, s, o in rows
        )
        self.table.value = (
            "<table><tr><th>key</th><th>hashed part</th><th>slot</th><th>master</th></tr>" + cells + "</table>"
        )
        slots = {s for _, _, s, _ in rows}
        if len(rows) < 2:
            self.verdict.value = "type two or more key names, separated by commas"
        elif len(slots) == 1:
            self.verdict.value = "✓ one slot: a single command or script may touch all of these keys"
        else:
            self.verdict.value = f"✗ {len(slots)} slots: a script touching all of them fails with CROSSSLOT"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.view._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = "SlotExplorer: open this notebook in JupyterLab to use it"
        return bundle
