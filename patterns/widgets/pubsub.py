"""Pub/sub vs streams dashboard for notebook 05: take a receiver offline, publish, bring it back.

Every published event goes both ways: to the pub/sub channel (two subscribers) and
to a stream (one consumer of a consumer group). Switch any receiver offline, publish,
switch it back, and compare: a subscriber missed what was published while it was
away; the stream consumer catches up on all of it.
"""
from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import ipywidgets as w

from ..pubsub import EventStream, Subscriber, publish_event

SUBSCRIBERS = ["subscriber A", "subscriber B"]


class PubSubDashboard:
    """The live dashboard of notebook 05. Display it as the last line of a cell."""

    def __init__(self, r: Any) -> None:
        self.r = r
        self.run = uuid.uuid4().hex[:6]  # a fresh channel and stream for every dashboard
        self.channel = f"dashboard-{self.run}"
        self.stream = EventStream(r, f"dashboard-{self.run}", group="dashboard", start="0", retention=3600)
        self.published = 0
        self.received: dict[str, list[int]] = {name: [] for name in SUBSCRIBERS}
        self.consumed: list[int] = []
        self._lock = threading.Lock()
        self.subscribers: dict[str, Subscriber] = {}

        self.publish_button = w.Button(description="Publish an event", icon="bullhorn", button_style="primary")
        self.online = {name: w.ToggleButton(value=True, description=f"{name} online", icon="plug")
                       for name in [*SUBSCRIBERS, "stream consumer"]}
        self.board = w.HTML()
        self.publish_button.on_click(lambda _: self.publish())
        for name, toggle in self.online.items():
            toggle.observe(lambda change, n=name: self._set_online(n, change["new"]), names="value")
        self.view = w.VBox([w.HBox([self.publish_button, *self.online.values()]), self.board])
        for name in SUBSCRIBERS:
            self._set_online(name, True)

    def _receiver(self, name: str):
        def handle(channel: str, event: int) -> None:
            with self._lock:
                self.received[name].append(event)
        return handle

    def _set_online(self, name: str, online: bool) -> None:
        self.online[name].description = f"{name} {'online' if online else 'OFFLINE'}"
        if name in SUBSCRIBERS:
            if online and name not in self.subscribers:
                self.subscribers[name] = Subscriber(self.r, [self.channel], self._receiver(name)).start()
            elif not online and name in self.subscribers:
                self.subscribers.pop(name).stop()
        self._catch_up()
        self.refresh()

    def _catch_up(self) -> None:
        """The stream consumer, when online, reads what it missed and acknowledges it."""
        if not self.online["stream consumer"].value:
            return
        while batch := self.stream.read("consumer", count=100):
            self.consumed.extend(m.event for m in batch)
            self.stream.ack(*[m.id for m in batch])

    def publish(self) -> None:
        """Publish the next event on the channel and append it to the stream."""
        self.published += 1
        expected = {name: len(self.received[name]) + 1 for name in self.subscribers}
        publish_event(self.r, self.channel, self.published)
        self.stream.append(self.published)
        deadline = time.monotonic() + 2.0  # let online subscribers receive it before redrawing
        while time.monotonic() < deadline and any(len(self.received[n]) < c for n, c in expected.items()):
            time.sleep(0.01)
        self._catch_up()
        self.refresh()

    def counts(self) -> str:
        parts = [f"published {self.published}"]
        parts += [f"{name} got {len(self.received[name])}" for name in SUBSCRIBERS]
        parts.append(f"stream consumer got {len(self.consumed)}")
        return " · ".join(parts)

    def refresh(self) -> None:
        missed = {name: self.published - len(self.received[name]) for name in SUBSCRIBERS}
        rows = "".join(
            f"<tr><td>{name}</td><td>{len(self.received[name])}</td><td>{missed[name]}</td>"
            f"<td>{self.received[name][-5:]}</td></tr>" for name in SUBSCRIBERS
        )
        rows += (f"<tr><td>stream consumer</td><td>{len(self.consumed)}</td>"
                 f"<td>{self.published - len(self.consumed)} (waiting in the stream)</td><td>{self.consumed[-5:]}</td></tr>")
        self.board.value = (f"<b>{self.counts()}</b><table><tr><th>receiver</th><th>got</th><th>missed</th>"
                            f"<th>last events</th></tr>{rows}</table>")

    def close(self) -> None:
        """Stop the subscribers' threads."""
        for subscriber in self.subscribers.values():
            subscriber.stop()
        self.subscribers.clear()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.view._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = "PubSubDashboard: open this notebook in JupyterLab to use it"
        return bundle
