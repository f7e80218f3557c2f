"""Live dashboards for the notebooks: ipywidgets and matplotlib, no Redis logic.

Each chapter's widget drives its pattern only through the public API, and every
control can also be driven from code (``button.click()``, ``slider.value = ...``),
so nbval and the browser test exercise the same paths a learner clicks.
"""
from __future__ import annotations

from ._snapshot import snapshot

__all__ = ["snapshot"]
