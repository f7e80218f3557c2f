"""A still picture of a dashboard: its charts and its text, as a PNG a browsing reader sees."""
from __future__ import annotations

import io

import ipywidgets as w
import matplotlib.image

from patterns.widgets import _chart, snapshot
from patterns.widgets._snapshot import lines_of


class Dashboard:
    def __init__(self, chart: bytes | None) -> None:
        image = _chart.image()
        if chart:
            image.value = chart
        self.view = w.VBox([w.HTML("<b>3 of 5</b> allowed<table><tr><td>ada</td><td>2</td></tr></table>"),
                            w.HBox([w.Label("worker 1 holds")]), image])


def _chart_png(height: float) -> bytes:
    fig = _chart.figure(height=height)
    fig.subplots().plot([0, 1], [0, 1])
    return _chart.to_png(fig)


def test_the_picture_holds_the_text_without_markup_each_row_on_its_own_line():
    assert lines_of(Dashboard(None).view) == ["3 of 5 allowed", "ada   2", "worker 1 holds"]


def test_the_picture_is_a_png_as_tall_as_its_chart_and_its_text():
    bare = matplotlib.image.imread(io.BytesIO(snapshot(Dashboard(None)).png), format="png")
    with_chart = matplotlib.image.imread(io.BytesIO(snapshot(Dashboard(_chart_png(2.6))).png), format="png")
    assert with_chart.shape[0] - bare.shape[0] >= 2.6 * _chart.DPI - 5


def test_the_still_shows_as_an_image_with_a_fixed_line_of_text():
    bundle = snapshot(Dashboard(_chart_png(2.0)))._repr_mimebundle_()
    assert set(bundle) == {"image/png", "text/plain"}
    assert bundle["text/plain"] == "Dashboard: a picture of its state after the cells above"
