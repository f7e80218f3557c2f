"""Render matplotlib figures to PNG bytes for an ``ipywidgets.Image``.

Setting ``image.value`` is safe from a background thread, unlike printing into an
``Output`` widget, so dashboards can redraw while traffic runs.
"""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg", force=False)
from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)


def figure(width: float = 6.0, height: float = 2.6) -> Figure:
    """A figure not registered with pyplot: no global state, safe in threads."""
    return Figure(figsize=(width, height), dpi=90, layout="constrained")


def to_png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
