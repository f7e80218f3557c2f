"""The plumbing of notebook 05's labs: thread deaths recorded per name, a lab server of its own or one line."""
from __future__ import annotations

import threading

import pytest

from patterns.labs import pubsub as pubsub_labs
from patterns.sandbox import NO_SERVER


@pytest.fixture
def restore_excepthook():
    previous = threading.excepthook
    yield
    threading.excepthook = previous


def _die(name: str, error: Exception) -> None:
    def body() -> None:
        raise error

    thread = threading.Thread(target=body, name=name)
    thread.start()
    thread.join()


def test_a_named_thread_s_death_is_recorded_and_other_threads_go_to_the_previous_hook(restore_excepthook):
    others = []
    threading.excepthook = lambda args: others.append(args.thread.name)
    deaths = pubsub_labs.thread_deaths("seed-subscriber")
    _die("seed-subscriber", ValueError("bad json"))
    _die("someone-else", KeyError("x"))
    assert deaths == ["ValueError: bad json"] and others == ["someone-else"]


def test_without_redis_server_a_lab_says_what_it_would_show(monkeypatch, capsys):
    monkeypatch.setattr(pubsub_labs, "redis_server_binary", lambda: None)
    assert pubsub_labs.own_server(without="the subscriber reconnects.") is None
    assert capsys.readouterr().out == f"{NO_SERVER} the subscriber reconnects.\n"


def test_wait_until_says_whether_the_condition_came_true():
    assert pubsub_labs.wait_until(lambda: True) is True
    assert pubsub_labs.wait_until(lambda: False, timeout=0.05) is False
