"""Render matplotlib figures to PNG bytes for an ``ipywidgets.Image``, shown at natural size.

Setting ``image.value`` is safe from a background thread, unlike printing into an
``Output`` widget, so dashboards can redraw while traffic runs.
"""
from __future__ import annotations

import io

import ipywidgets as w
import matplotlib

matplotlib.use("Agg", force=False)
from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)


WIDTH_INCHES, DPI = 6.0, 90


def image() -> w.Image:
    """An image widget the size of the figures drawn here (not stretched to the page)."""
    return w.Image(format="png", layout=w.Layout(width=f"{int(WIDTH_INCHES * DPI)}px"))


def figure(width: float = WIDTH_INCHES, height: float = 2.6) -> Figure:
    """A figure not registered with pyplot: no global state, safe in threads."""
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def to_png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
