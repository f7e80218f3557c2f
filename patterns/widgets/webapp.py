"""Traffic dashboard for notebook 09: concurrent clients against the shop's rate-limited endpoint.

Press "Run 3 s" and ``clients`` tasks hammer ``/api/quote``, each as a client of its own, while
the table shows requests per second, the status codes, the latency percentiles and the 429s as
they come in. The limit slider changes the app's limiter while it serves (the next request
uses the new one). The traffic runs on an event loop in a thread of its own, so the page stays
live; ``run()`` from code waits for it to end.
"""
from __future__ import annotations

import asyncio
import html
import secrets
import threading
from typing import Any

import ipywidgets as w

from ..web.load import Load, load
from ._traffic import REDRAWS_PER_SECOND, ButtonTask


class TrafficDashboard:
    """The live dashboard of notebook 09. Display it as the last line of a cell."""

    def __init__(self, served: Any, *, clients: int = 10, limit: int = 20) -> None:
        self.served = served
        self.clients = w.IntSlider(value=clients, min=1, max=50, description="clients")
        self.limit = w.IntSlider(value=limit, min=5, max=100, step=5, description="limit / 10 s")
        self.run_button = w.Button(description="Run 3 s", icon="play", button_style="primary")
        self.table = w.HTML()
        self.last: Load | None = None
        self._task = ButtonTask(self.run_button)
        self.run_button.on_click(lambda _: self._task.start(lambda: self._run(3.0)))
        self.limit.observe(lambda change: self._shop().set_limit(change["new"]), names="value")
        self.view = w.VBox([w.HBox([self.clients, self.limit, self.run_button]), self.table])
        self._draw(None)

    def _shop(self) -> Any:
        return self.served.app.state.shop

    def run(self, seconds: float = 3.0) -> Load:
        """Run the traffic for ``seconds`` from code, as the button does, and return what it measured.

        Each client goes on until the limit has refused it once, so the 200s are the clients times
        the limit even where a loaded machine could not send that many in ``seconds``."""
        self._task.start(lambda: self._run(seconds))
        self._task.wait()
        assert self.last is not None
        return self.last

    def _run(self, seconds: float) -> None:
        if not self.served.running:
            self.table.value = "<pre>the shop is not serving (served.stop() ran): start it again to send traffic</pre>"
            return
        self._shop().set_limit(self.limit.value)
        measured = self.last = Load()
        done = threading.Event()

        def paint() -> None:
            while not done.wait(1.0 / REDRAWS_PER_SECOND):
                self._draw(measured)

        painter = threading.Thread(target=paint, name="traffic-painter", daemon=True)
        painter.start()
        prefix = f"dash-{secrets.token_hex(4)}"  # client ids of this run's own: each starts with a full limit
        try:
            asyncio.run(load(f"{self.served.url}/api/quote", clients=self.clients.value, seconds=seconds,
                             headers=lambda n: {"X-Client-Id": f"{prefix}-{n}"}, into=measured,
                             until_refused=True))
        finally:
            done.set()
            painter.join()
            self._draw(measured)

    def _draw(self, measured: Load | None) -> None:
        if measured is None:
            self.table.value = "<pre>press Run: the clients send as fast as the app answers</pre>"
            return
        codes = measured.statuses
        rows = [("requests per second", f"{measured.per_second:.0f}"),
                ("answered", f"{measured.answered}"),
                ("200 (allowed)", f"{codes.get(200, 0)}"),
                ("429 (limited)", f"{codes.get(429, 0)}"),
                ("other", f"{sum(n for c, n in codes.items() if c not in (200, 429)) + measured.errors}"),
                ("latency p50 / p95 / p99", f"{measured.percentile(50):.1f} / {measured.percentile(95):.1f} / "
                                            f"{measured.percentile(99):.1f} ms")]
        body = "\n".join(f"{name:<24} {value}" for name, value in rows)
        self.table.value = f"<pre>{html.escape(body)}</pre>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.view._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = "TrafficDashboard: open this notebook in JupyterLab to use it"
        return bundle
