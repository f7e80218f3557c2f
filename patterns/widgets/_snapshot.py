"""A still picture of a dashboard, saved in the notebook for readers without a kernel.

On GitHub, nbviewer or the site, a live widget is only its text fallback. The
picture shows what the cells above drove it to: its charts as they are, and its
text (status lines, tables, verdicts) drawn beside them. It is a PNG, so nbval,
which skips comparing images, stays deterministic.
"""
from __future__ import annotations

import base64
import html
import io
import re
import textwrap
from typing import Any, Iterator

import ipywidgets as w
import numpy as np
from PIL import Image, UnidentifiedImageError

from . import _chart

TEXT_WIDGETS = (w.HTML, w.HTMLMath, w.Label, w.Textarea, w.Text)
WRAP = 96
MOST_LINES = 80  # a longer text is cut: the picture stays a screenful, not a raster of hundreds of MB


def _walk(widget: Any) -> Iterator[Any]:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def _printed(widget: w.Output) -> str:
    """What an Output widget shows as text: its printed lines and its results' plain text."""
    parts = []
    for output in widget.outputs:
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif "text/plain" in output.get("data", {}):
            parts.append(output["data"]["text/plain"])
    return "".join(parts).strip()


def _plain(widget: Any) -> str:
    """A text widget's words without markup: table rows on their own lines, cells apart."""
    if isinstance(widget, w.Output):
        return _printed(widget)
    text = widget.value if not isinstance(widget, (w.Text, w.Textarea)) else f"{widget.description} {widget.value}"
    text = re.sub(r"</(tr|p|div|li|h\d|table)>|<br\s*/?>|<table>", "\n", str(text), flags=re.I)
    text = re.sub(r"</t[dh]>", "   ", text, flags=re.I)
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return "\n".join(line.rstrip() for line in text.strip().splitlines() if line.strip())


def lines_of(view: Any) -> list[str]:
    """The dashboard's text, top to bottom, wrapped to fit the picture."""
    lines: list[str] = []
    for widget in _walk(view):
        if isinstance(widget, (*TEXT_WIDGETS, w.Output)) and _plain(widget):
            for line in _plain(widget).splitlines():
                lines += textwrap.wrap(line, WRAP) or [""]
    if len(lines) > MOST_LINES:
        lines = lines[:MOST_LINES - 1] + [f"... {len(lines) - MOST_LINES + 1:,} more lines"]
    return lines


def _decoded(image: bytes) -> np.ndarray | None:
    """An image widget's pixels, whatever its format PIL reads (PNG, JPEG, GIF); None for others (SVG)."""
    try:
        return np.asarray(Image.open(io.BytesIO(image)).convert("RGBA"))
    except (UnidentifiedImageError, OSError):
        return None


def picture(view: Any) -> bytes:
    """One PNG: the dashboard's text, then each chart it shows now."""
    charts = [c.value for c in _walk(view) if isinstance(c, w.Image) and c.value]
    lines = lines_of(view)
    text_height = 0.18 * len(lines) + 0.2 if lines else 0
    heights = [text_height] if lines else []
    images = [img for img in map(_decoded, charts) if img is not None]
    heights += [img.shape[0] / _chart.DPI for img in images]
    fig = _chart.figure(height=max(sum(heights), 0.5))
    axes = fig.subplots(len(heights) or 1, 1, height_ratios=heights or None, squeeze=False)[:, 0]
    for ax in axes:
        ax.set_axis_off()
    if lines:
        axes[0].text(0, 1, "\n".join(lines), va="top", ha="left", family="monospace", fontsize=7,
                     transform=axes[0].transAxes)
    for ax, img in zip(axes[1:] if lines else axes, images):
        ax.imshow(img)
    return _chart.to_png(fig)


class Still:
    """Displays as a PNG of the dashboard now, with a fixed text line for nbval and text-only readers."""

    def __init__(self, dashboard: Any) -> None:
        self.name = type(dashboard).__name__
        self.png = picture(dashboard.view)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        return {"image/png": base64.b64encode(self.png).decode(),
                "text/plain": f"{self.name}: a picture of its state after the cells above"}


def snapshot(dashboard: Any) -> Still:
    """A still picture of ``dashboard`` (anything with a ``.view`` widget) to show beside the live one."""
    return Still(dashboard)
