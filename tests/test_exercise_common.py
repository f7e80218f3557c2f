"""The helpers every checker shares: threads that start together, and calls that may never return."""
from __future__ import annotations

import threading
import time

import pytest

from patterns.exercises import NotYet, call_within, run_at_once


def test_threads_that_never_return_cost_one_timeout_in_total_and_never_block_the_kernel_from_exiting():
    never = threading.Event()
    before = set(threading.enumerate())
    started = time.monotonic()
    finished = run_at_once(8, lambda: never.wait(), timeout=1.0)
    took = time.monotonic() - started
    left = [t for t in threading.enumerate() if t not in before]
    never.set()
    assert finished is False
    assert took < 6.0  # one deadline for all: 8 joins of 1 s each would take 8 s
    assert left and all(t.daemon for t in left)


def test_threads_that_finish_are_waited_for():
    done = []
    assert run_at_once(4, lambda: done.append(1)) is True
    assert done == [1, 1, 1, 1]


def test_a_call_that_returns_gives_its_value_and_one_that_raises_raises_here():
    assert call_within(5, "late", lambda a, b: a + b, 2, 3) == 5
    with pytest.raises(KeyError):
        call_within(5, "late", lambda: {}["x"])


def test_a_call_that_never_returns_is_reported_with_the_checkers_words():
    never = threading.Event()
    with pytest.raises(NotYet, match="^it hangs$"):
        call_within(0.2, "it hangs", never.wait)
    never.set()


# -- review of 2 Dec --------------------------------------------------------------------------------

def test_an_exception_in_a_thread_is_raised_in_the_checker_not_printed_as_a_traceback(capsys):
    """It went to threading.excepthook (a traceback under the checker's one line) and the checker
    then blamed a timeout for the requests that never came back."""
    calls = []

    def work() -> None:
        calls.append(1)
        raise ValueError("the learner's bug")

    with pytest.raises(ValueError, match="the learner's bug"):
        run_at_once(4, work, timeout=30)
    assert len(calls) == 4
    assert "Traceback" not in capsys.readouterr().err


def test_a_thread_that_cannot_start_frees_the_ones_waiting_at_the_barrier(monkeypatch):
    started: list[threading.Thread] = []
    real_start = threading.Thread.start

    def start(self):
        if len(started) == 2:
            raise RuntimeError("can't start new thread")
        started.append(self)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    with pytest.raises(RuntimeError, match="can't start new thread"):
        run_at_once(4, lambda: None, timeout=30)
    monkeypatch.undo()
    for thread in started:
        thread.join(30)
    assert not any(thread.is_alive() for thread in started)
