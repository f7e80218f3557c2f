"""Audit explorer for notebook 07: run the checklist audit on demand and browse what it found."""
from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from ..audit import AuditReport, audit


class AuditExplorer:
    """A match pattern, a batch size and a button; the report as a table. Display it last in a cell."""

    def __init__(self, r: Any, match: str = "*") -> None:
        self.r = r
        self.match = w.Text(value=match, description="match")
        self.count = w.IntSlider(value=500, min=10, max=2000, step=10, description="batch")
        self.run_button = w.Button(description="Run the audit", icon="search", button_style="primary")
        self.output = w.HTML("press <i>Run the audit</i>")
        self.report: AuditReport | None = None
        self.run_button.on_click(lambda _: self.run())
        self.view = w.VBox([w.HBox([self.match, self.count, self.run_button]), self.output])

    def run(self) -> AuditReport:
        self.report = audit(self.r, self.match.value or "*", count=self.count.value)
        self.output.value = f"<pre>{html.escape(self.report.table())}</pre>"
        return self.report

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.view._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = "AuditExplorer: open this notebook in JupyterLab to use it"
        return bundle
