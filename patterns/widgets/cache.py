"""Caching dashboard: a slow pretend database behind a ``Cache``, with live numbers.

Controls: TTL, request rate and database latency sliders; buttons to send one
request, run a few seconds of traffic, change a price (write + invalidate) and reset.
Shown live: hit ratio, database queries, latency percentiles, and a chart of each
request's latency (hits are fast, misses pay the database).
"""
from __future__ import annotations

import random
import statistics
import threading
import time
from typing import Any

import ipywidgets as w

from ..cache import Cache
from . import _chart
from ._traffic import ButtonTask, run_paced


class SlowDatabase:
    """A pretend product database: every read takes ``latency`` seconds and is counted.

    ``reads`` lists the products read, in order, so a lab can say which misses were first
    requests and which were refetches after an invalidation.
    """

    def __init__(self, products: int = 50, latency: float = 0.05, seed: int = 0) -> None:
        rng = random.Random(seed)
        self.prices = {f"product-{i}": round(rng.uniform(1, 100), 2) for i in range(products)}
        self.latency = latency
        self.queries = 0
        self.reads: list[str] = []
        self._lock = threading.Lock()

    def read(self, product_id: str) -> dict | None:
        with self._lock:
            self.queries += 1
            self.reads.append(product_id)
        time.sleep(self.latency)
        price = self.prices.get(product_id)
        return None if price is None else {"id": product_id, "price": price}

    def write(self, product_id: str, price: float) -> None:
        self.prices[product_id] = price


class CacheDashboard:
    """The live dashboard of notebook 01. Display it as the last line of a cell."""

    def __init__(self, r: Any, *, ttl: float = 5.0, rate: int = 40, latency_ms: int = 50, seed: int = 0) -> None:
        self.r = r
        self.seed = seed
        self.db = SlowDatabase(latency=latency_ms / 1000, seed=seed)
        self.cache = Cache(r, "dashboard", ttl=ttl, rng=random.Random(seed))
        self.rng = random.Random(seed)
        self.latencies: list[tuple[bool, float]] = []  # (hit, ms) per request
        self._lock = threading.Lock()

        self.ttl_slider = w.FloatSlider(value=ttl, min=0.5, max=60, step=0.5, description="TTL (s)")
        self.rate_slider = w.IntSlider(value=rate, min=1, max=200, description="requests/s")
        self.latency_slider = w.IntSlider(value=latency_ms, min=0, max=300, step=10, description="DB ms")
        self.send_button = w.Button(description="Send 1 request", icon="paper-plane")
        self.run_button = w.Button(description="Run 3 s of traffic", icon="play", button_style="primary")
        self.change_button = w.Button(description="Change a price", icon="pencil")
        self.reset_button = w.Button(description="Reset", icon="refresh")
        self.numbers = w.HTML()
        self.chart = _chart.image()
        self.send_button.on_click(lambda _: self.send(1))
        self._traffic = ButtonTask(self.run_button)
        self.run_button.on_click(lambda _: self.start_traffic(3.0))
        self.change_button.on_click(lambda _: self.change_price())
        self.reset_button.on_click(lambda _: self.reset())
        self.ttl_slider.observe(lambda change: setattr(self.cache, "ttl", float(change["new"])), names="value")
        self.latency_slider.observe(lambda change: setattr(self.db, "latency", change["new"] / 1000), names="value")
        self.view = w.VBox(
            [
                w.HBox([self.ttl_slider, self.rate_slider, self.latency_slider]),
                w.HBox([self.send_button, self.run_button, self.change_button, self.reset_button]),
                self.numbers,
                self.chart,
            ]
        )
        self._refresh()

    # -- what the buttons do (also callable from code) -------------------------------------------------
    def _product(self) -> str:
        # Popular products are asked for far more often (Zipf-like), as in real traffic.
        weights = [1 / (i + 1) for i in range(len(self.db.prices))]
        return self.rng.choices(list(self.db.prices), weights)[0]

    def _one_request(self) -> None:
        product = self._product()
        hits_before = self.cache.stats.hits
        started = time.perf_counter()
        self.cache.get_or_set(product, lambda: self.db.read(product))
        elapsed_ms = (time.perf_counter() - started) * 1000
        with self._lock:
            self.latencies.append((self.cache.stats.hits > hits_before, elapsed_ms))

    def send(self, count: int = 1) -> None:
        """Send ``count`` requests one after another, then redraw."""
        for _ in range(count):
            self._one_request()
        self._refresh()

    def run_traffic(self, seconds: float) -> None:
        """Send requests at the rate slider's pace for ``seconds``, redrawing as it goes."""
        run_paced(seconds, self.rate_slider.value, self._one_request, self._refresh)

    def start_traffic(self, seconds: float) -> None:
        """What the Run button does: traffic in a background thread, so the page stays live."""
        self._traffic.start(lambda: self.run_traffic(seconds))

    def wait(self) -> None:
        """Block until background traffic has finished (for code-driven cells)."""
        self._traffic.wait()

    def change_price(self, product: str = "product-0") -> float:
        """Write a new price to the database and invalidate the cache entry, as a writer would."""
        new_price = round(self.db.prices[product] + 1, 2)
        self.db.write(product, new_price)
        self.cache.invalidate(product)
        self._refresh()
        return new_price

    def reset(self) -> None:
        for product in self.db.prices:
            self.cache.invalidate(product)
        self.cache.stats = type(self.cache.stats)()
        self.db.queries = 0
        self.db.reads.clear()
        self.rng = random.Random(self.seed)
        with self._lock:
            self.latencies.clear()
        self._refresh()

    # -- what is shown -----------------------------------------------------------------------------
    def counts(self) -> str:
        """The deterministic numbers, as one line: requests, hits, misses, database queries."""
        s = self.cache.stats
        return f"requests {len(self.latencies)} · hits {s.hits} · misses {s.misses} · DB queries {self.db.queries}"

    def latency_summary(self) -> str:
        with self._lock:
            ms = sorted(m for _, m in self.latencies)
        if not ms:
            return "no requests yet"
        p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
        return f"latency p50 ≈{statistics.median(ms):.1f} ms · p95 ≈{p95:.1f} ms"

    def _refresh(self) -> None:
        s = self.cache.stats
        self.numbers.value = (
            f"<b>hit ratio {s.hit_ratio:.0%}</b> · {self.counts()} · {self.latency_summary()}"
        )
        self.chart.value = self._draw()

    def _draw(self) -> bytes:
        fig = _chart.figure()
        ax = fig.add_subplot()
        with self._lock:
            points = list(self.latencies[-400:])
        start = max(0, len(self.latencies) - len(points))
        for hit, colour, label in ((True, "tab:green", "hit"), (False, "tab:red", "miss (database)")):
            xs = [start + i for i, (h, _) in enumerate(points) if h == hit]
            ys = [m for h, m in points if h == hit]
            ax.scatter(xs, ys, s=8, c=colour, label=label)
        ax.set_xlabel("request #")
        ax.set_ylabel("latency (ms)")
        ax.set_title("each request's latency")
        if points:
            ax.legend(loc="upper right")
        return _chart.to_png(fig)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.view._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = "CacheDashboard: open this notebook in JupyterLab to use it"
        return bundle
