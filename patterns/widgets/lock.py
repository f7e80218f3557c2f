"""Lock timeline for notebook 06: worker threads contending for one lock, drawn over time.

Each worker loops: wait for the lock, work a little, write to a protected resource with
its fencing token, release. Worker 1 can be given one long pause (a GC pause, simulated)
in the middle of its work: when the pause is longer than the lease, the lock expires
under it, another worker takes over, and worker 1's late write carries an old token,
which the resource rejects.
"""
from __future__ import annotations

import random
import threading
import time
from typing import Any

import ipywidgets as w

from .. import validate
from ..errors import LockLost
from ..lock import Lock
from . import _chart
from ._traffic import ButtonTask


WAIT_POLL = 0.05  # seconds: the longest a waiting worker sleeps between tries (shorter than any critical section)


class FencedResource:
    """The protected resource: remembers the highest fencing token and refuses older ones."""

    def __init__(self) -> None:
        self.highest = 0
        self.accepted = self.rejected = 0
        self._lock = threading.Lock()

    def write(self, token: int) -> bool:
        with self._lock:
            if token < self.highest:
                self.rejected += 1
                return False
            self.highest = token
            self.accepted += 1
            return True


class LockTimeline:
    """The live dashboard of notebook 06. Display it as the last line of a cell."""

    def __init__(self, r: Any, *, workers: int = 3, ttl: float = 1.0, pause: float = 0.0, seed: int = 0) -> None:
        self.r, self.seed = r, seed
        self.name = f"timeline-{random.Random().getrandbits(32):08x}"
        self.workers_slider = w.IntSlider(value=workers, min=2, max=5, description="workers")
        self.ttl_slider = w.FloatSlider(value=ttl, min=0.2, max=2.0, step=0.1, description="lease (s)")
        self.pause_slider = w.FloatSlider(value=pause, min=0.0, max=2.0, step=0.1, description="pause (s)")
        self.run_button = w.Button(description="Run 3 s", icon="play", button_style="primary")
        self.summary = w.HTML()
        self.chart = _chart.image()
        self._task = ButtonTask(self.run_button)
        self.run_button.on_click(lambda _: self._task.start(lambda: self.run(3.0)))
        self.view = w.VBox([w.HBox([self.workers_slider, self.ttl_slider, self.pause_slider, self.run_button]),
                            self.summary, self.chart])
        self.spans: list[tuple[int, str, float, float]] = []
        self.resource = FencedResource()
        self.lost = 0
        self._draw()

    def run(self, seconds: float) -> None:
        """Let the workers contend for ``seconds``, then draw the timeline."""
        self.spans, self.resource, self.lost = [], FencedResource(), 0
        started = time.monotonic()
        stop_at = started + seconds
        lock_spans = threading.Lock()
        ttl, pause = self.ttl_slider.value, self.pause_slider.value

        def worker(number: int) -> None:
            rng = random.Random(self.seed * 100 + number)
            paused = False
            while time.monotonic() < stop_at:
                # Waiters poll at least every WAIT_POLL s. With Lock's default cap (0.5 s, as long as
                # the notebook's lease) a waiter slept through whole critical sections while the
                # worker that had just released came back within 50 ms and won again: a worker
                # could wait out all 3 s without a single turn.
                # Under 1 ms left is a wait Redis cannot express (Lock refuses it with a ValueError, which
                # killed this thread on a loaded machine and printed its traceback): try once instead.
                left = stop_at - time.monotonic()
                lock = Lock(self.r, self.name, ttl=ttl, timeout=left if left >= validate.MILLISECOND else 0.0,
                            max_backoff=WAIT_POLL)
                waited = time.monotonic()
                if not lock.acquire():
                    with lock_spans:  # it waited until the end without a turn: draw that wait too
                        self.spans.append((number, "waiting", waited - started, time.monotonic() - started))
                    return
                got = time.monotonic()
                work = rng.uniform(0.05, 0.15)
                if number == 1 and pause and not paused:
                    work += pause  # the pause hits in the middle of the work
                    paused = True
                time.sleep(work)
                self.resource.write(lock.fencing_token)
                done = time.monotonic()
                try:
                    lock.release()
                    kind = "held"
                except LockLost:
                    kind = "lease ran out"
                    self.lost += 1
                with lock_spans:
                    self.spans.append((number, "waiting", waited - started, got - started))
                    self.spans.append((number, kind, got - started, done - started))
                time.sleep(rng.uniform(0, 0.05))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(1, self.workers_slider.value + 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self._draw()

    def wait(self) -> None:
        self._task.wait()

    def counts(self) -> str:
        held = sum(1 for _, kind, _, _ in self.spans if kind != "waiting")
        return (f"critical sections {held} · lease ran out under a worker {self.lost} · "
                f"writes accepted {self.resource.accepted} · stale writes rejected {self.resource.rejected}")

    def _draw(self) -> None:
        self.summary.value = f"<b>{self.counts()}</b>"
        fig = _chart.figure(height=0.6 + 0.45 * self.workers_slider.value)
        ax = fig.add_subplot()
        colours = {"waiting": "lightgrey", "held": "tab:green", "lease ran out": "tab:red"}
        for number, kind, start, end in self.spans:
            ax.barh(number, end - start, left=start, color=colours[kind], height=0.6)
        for kind, colour in colours.items():
            ax.barh(0, 0, color=colour, label=kind)
        ax.set_yticks(range(1, self.workers_slider.value + 1), [f"worker {n}" for n in range(1, self.workers_slider.value + 1)])
        ax.set_ylim(0.5, self.workers_slider.value + 0.5)
        ax.set_xlabel("seconds")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=7, ncols=3, frameon=False)
        self.chart.value = _chart.to_png(fig)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.view._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = "LockTimeline: open this notebook in JupyterLab to use it"
        return bundle
