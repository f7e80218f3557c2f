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


# -- review of 2 Dec: dashboards the first version did not expect --------------------------------------

def _jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (60, 90), "red").save(out, format="JPEG")
    return out.getvalue()


class View:
    def __init__(self, view: w.Widget) -> None:
        self.view = view


def test_a_jpeg_image_is_drawn_not_raised():
    bare = matplotlib.image.imread(io.BytesIO(snapshot(View(w.VBox([w.HTML("x")]))).png), format="png")
    still = snapshot(View(w.VBox([w.HTML("x"), w.Image(value=_jpeg(), format="jpeg")])))
    drawn = matplotlib.image.imread(io.BytesIO(still.png), format="png")
    assert drawn.shape[0] > bare.shape[0]


def test_the_text_an_output_widget_printed_is_in_the_picture():
    out = w.Output(outputs=({"output_type": "stream", "name": "stdout", "text": "3 of 5 allowed\n"},))
    assert lines_of(w.VBox([out])) == ["3 of 5 allowed"]


def test_a_very_long_text_is_cut_to_a_picture_of_bounded_size():
    still = snapshot(View(w.VBox([w.HTML("<br>".join(f"row {i}" for i in range(8000)))])))
    drawn = matplotlib.image.imread(io.BytesIO(still.png), format="png")
    assert drawn.shape[0] < 20 * _chart.DPI
    assert any("more lines" in line for line in lines_of(w.VBox([w.HTML("<br>".join(["r"] * 8000))])))
