"""04's Lab 5, proven on every backend with a forced order: one field changed by two requests at once.

The notebook measures the loss with free-running threads (about half of 400 page views are lost).
Here the unlucky order is forced every time: the second request runs just before the first one's
write, so each test has exactly one reason to fail and waits on nothing.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from patterns import keys
from patterns.session import SessionStore, new_session_id
from helpers import before_round_trip, round_trips_of

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "04_sessions.ipynb"


def _lab_script() -> str:
    """The Lua the notebook registers as ``add_if_live`` (one source: the notebook's own cell)."""
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    found = [m.group(1) for c in cells if c.cell_type == "code"
             for m in [re.search(r'add_if_live = r\.register_script\("""(.*?)"""\)', c.source, flags=re.S)] if m]
    assert len(found) == 1, "04 should register add_if_live once"
    return found[0]


@pytest.fixture
def add_if_live(r):
    return r.register_script(_lab_script())


def read_add_write(store: SessionStore, session_id: str) -> None:
    """What a request does without thinking: read the count, write count + 1."""
    views = store.get(session_id)["page_views"]
    store.update(session_id, page_views=views + 1)


def test_two_read_then_write_requests_on_one_field_lose_one_count(r):
    store = SessionStore(r)
    sid = store.create("ada", {"page_views": 0})
    last = round_trips_of(r, lambda: read_add_write(store, sid))  # the write is the last round trip
    store.update(sid, page_views=0)
    with before_round_trip(last, lambda: read_add_write(store, sid)):
        read_add_write(store, sid)
    assert store.get(sid)["page_views"] == 1


def test_two_adds_sent_to_the_server_keep_both_counts(r, add_if_live):
    store = SessionStore(r)
    sid = store.create("ada", {"page_views": 0})
    key = keys.key(r, "session", sid)
    add = lambda: add_if_live(keys=[key], args=["page_views", 1])  # noqa: E731
    add()  # loads the script, so the call below is one round trip
    with before_round_trip(1, add):
        add()
    assert store.get(sid)["page_views"] == 3  # and it still reads back as a number


def test_the_add_creates_nothing_on_an_ended_session(r, add_if_live):
    ended = keys.key(r, "session", new_session_id())
    assert add_if_live(keys=[ended], args=["page_views", 1]) is None
    assert r.exists(ended) == 0


def test_a_bare_hincrby_on_an_ended_session_makes_a_key_that_never_expires(r):
    ended = keys.key(r, "session", new_session_id())
    r.hincrby(ended, "page_views", 1)
    try:
        assert r.ttl(ended) == -1
    finally:
        r.delete(ended)
