"""Rate-limit dashboard for notebook 02: pick an algorithm, fire requests, watch the decisions.

A timeline shows every request as a dot (green allowed, red denied) against the
time it was sent, with the ``remaining`` count each decision reported as a line.
"""
from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import ipywidgets as w

from ..ratelimit import ALGORITHMS, Decision
from . import _chart
from ._traffic import ButtonTask, run_paced


class RateLimitDashboard:
    """The live dashboard of notebook 02. Display it as the last line of a cell."""

    def __init__(self, r: Any, *, algorithm: str = "sliding_log", limit: int = 5, window: float = 10.0) -> None:
        self.r = r
        self.events: list[tuple[float, Decision]] = []  # (seconds since start, decision)
        self._started = time.monotonic()
        self._lock = threading.Lock()

        self.algorithm = w.Dropdown(options=sorted(ALGORITHMS), value=algorithm, description="algorithm")
        self.limit_slider = w.IntSlider(value=limit, min=1, max=50, description="limit")
        self.window_slider = w.FloatSlider(value=window, min=1, max=60, step=1, description="window (s)")
        self.rate_slider = w.IntSlider(value=4, min=1, max=50, description="requests/s")
        self.send_button = w.Button(description="Send 1 request", icon="paper-plane")
        self.burst_button = w.Button(description="Send 10 at once", icon="bolt")
        self.fire_button = w.Button(description="Fire for 5 s", icon="play", button_style="primary")
        self.reset_button = w.Button(description="Reset", icon="refresh")
        self.numbers = w.HTML()
        self.chart = _chart.image()
        self.send_button.on_click(lambda _: self.send(1))
        self.burst_button.on_click(lambda _: self.send(10))
        self._firing = ButtonTask(self.fire_button)
        self.fire_button.on_click(lambda _: self.start_firing(5.0))
        self.reset_button.on_click(lambda _: self.reset())
        for control in (self.algorithm, self.limit_slider, self.window_slider):
            control.observe(lambda _: self.reset(), names="value")  # a new limiter starts empty
        self.view = w.VBox(
            [
                w.HBox([self.algorithm, self.limit_slider, self.window_slider]),
                w.HBox([self.send_button, self.burst_button, self.rate_slider, self.fire_button, self.reset_button]),
                self.numbers,
                self.chart,
            ]
        )
        self.reset()

    def reset(self) -> None:
        """A fresh caller on a limiter with the current settings, and an empty timeline."""
        self.limiter = ALGORITHMS[self.algorithm.value](self.r, self.limit_slider.value, self.window_slider.value,
                                                         name="dashboard")
        self.caller = f"dashboard-{uuid.uuid4().hex[:8]}"
        with self._lock:
            self.events.clear()
        self._started = time.monotonic()
        self._refresh()

    def send(self, count: int = 1) -> list[Decision]:
        """Send ``count`` requests right now, one after another."""
        decisions = [self._one() for _ in range(count)]
        self._refresh()
        return decisions

    def _one(self) -> Decision:
        decision = self.limiter.hit(self.caller)
        with self._lock:
            self.events.append((time.monotonic() - self._started, decision))
        return decision

    def fire(self, seconds: float) -> None:
        """Send requests at the rate slider's pace for ``seconds``, redrawing as it goes."""
        run_paced(seconds, self.rate_slider.value, self._one, self._refresh)

    def start_firing(self, seconds: float) -> None:
        """What the Fire button does: requests from a background thread, so the page stays live."""
        self._firing.start(lambda: self.fire(seconds))

    def wait(self) -> None:
        """Block until background firing has finished (for code-driven cells)."""
        self._firing.wait()

    def counts(self) -> str:
        with self._lock:
            decisions = [d for _, d in self.events]
        allowed = sum(d.allowed for d in decisions)
        return f"{self.limiter!r}: allowed {allowed} · denied {len(decisions) - allowed}"

    def _refresh(self) -> None:
        with self._lock:
            last = self.events[-1][1] if self.events else None
        detail = ""
        if last is not None:
            detail = f" · last: remaining {last.remaining}, retry after {last.retry_after:.2f} s"
        self.numbers.value = f"<b>{self.counts()}</b>{detail}"
        self.chart.value = self._draw()

    def _draw(self) -> bytes:
        fig = _chart.figure()
        ax = fig.add_subplot()
        with self._lock:
            events = list(self.events)
        for allowed, colour, label in ((True, "tab:green", "allowed"), (False, "tab:red", "denied")):
            points = [(t, d.remaining) for t, d in events if d.allowed == allowed]
            if points:
                ax.scatter(*zip(*points), s=14, c=colour, label=label, zorder=3)
        if events:
            ax.step([t for t, _ in events], [d.remaining for _, d in events], where="post", c="grey", lw=0.8)
            ax.legend(loc="upper right")
        ax.set_xlabel("seconds since reset")
        ax.set_ylabel("remaining")
        ax.set_ylim(-0.5, self.limit_slider.value + 0.5)
        ax.set_title(f"{self.algorithm.value}: {self.limit_slider.value} per {self.window_slider.value:g} s")
        return _chart.to_png(fig)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.view._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = "RateLimitDashboard: open this notebook in JupyterLab to use it"
        return bundle
