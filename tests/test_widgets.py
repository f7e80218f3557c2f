"""Widgets behave as their notebooks say, driven from code (the browser test clicks them for real)."""
from __future__ import annotations

import threading
import time
import types

import fakeredis
import pytest
import redis
from redis.cluster import key_slot

from patterns import keys
from patterns.lock import Lock
from patterns.widgets import lock as lock_widget
from patterns.widgets.audit import AuditExplorer
from patterns.widgets.cache import CacheDashboard
from patterns.widgets.cluster import SlotExplorer, hashed_part
from patterns.widgets.leaderboard import NAMES, LeaderboardDashboard
from patterns.widgets.lock import FencedResource, LockTimeline
from patterns.widgets.pubsub import PubSubDashboard
from patterns.widgets.ratelimit import RateLimitDashboard
from patterns.widgets.session import SessionDashboard


@pytest.fixture
def fake():
    return fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)


@pytest.mark.parametrize(
    ("name", "hashed"),
    [("{user1000}.following", "user1000"), ("foo{}{bar}", "foo{}{bar}"), ("foo{{bar}}zap", "{bar"),
     ("foo{bar}{zap}", "bar"), ("plain", "plain"), ("open{only", "open{only")],
)
def test_hashed_part_follows_the_cluster_spec(name, hashed):
    assert hashed_part(name) == hashed
    assert key_slot(name.encode()) == key_slot(hashed.encode())


def test_slot_explorer_says_whether_keys_share_a_slot():
    explorer = SlotExplorer()
    explorer.names.value = "{a}1, {a}2"
    assert explorer.verdict.value.startswith("✓ one slot")
    explorer.names.value = "{a}1, {b}2"
    assert explorer.verdict.value.startswith("✗ 2 slots")
    assert [row[3] for row in explorer.rows()] == [explorer.owner(key_slot(b"a")), explorer.owner(key_slot(b"b"))]


def test_cache_dashboard_counts_hits_misses_and_queries(fake):
    dashboard = CacheDashboard(fake, ttl=60, latency_ms=0)
    dashboard.send(50)
    stats = dashboard.cache.stats
    assert stats.hits + stats.misses == 50 and stats.misses == dashboard.db.queries
    assert f"requests 50 · hits {stats.hits}" in dashboard.numbers.value
    dashboard.reset_button.click()
    assert dashboard.counts() == "requests 0 · hits 0 · misses 0 · DB queries 0"
    assert bytes(dashboard.chart.value).startswith(b"\x89PNG")


def test_cache_dashboard_price_change_invalidates_the_entry(fake):
    dashboard = CacheDashboard(fake, ttl=60, latency_ms=0)
    dashboard.cache.get_or_set("product-0", lambda: dashboard.db.read("product-0"))
    old_price = dashboard.db.prices["product-0"]
    dashboard.change_button.click()
    assert dashboard.db.prices["product-0"] == old_price + 1
    value = dashboard.cache.get_or_set("product-0", lambda: dashboard.db.read("product-0"))
    assert value["price"] == old_price + 1


def test_rate_limit_dashboard_counts_decisions_and_resets_on_new_settings(fake):
    dashboard = RateLimitDashboard(fake, algorithm="fixed_window", limit=3, window=60)
    dashboard.burst_button.click()
    assert dashboard.counts() == "FixedWindow(limit=3, window=60s, name='dashboard'): allowed 3 · denied 7"
    assert "retry after" in dashboard.numbers.value
    dashboard.limit_slider.value = 5  # a new limiter, a new caller, an empty timeline
    assert dashboard.counts().endswith("allowed 0 · denied 0")
    dashboard.send_button.click()
    assert dashboard.counts() == "FixedWindow(limit=5, window=60s, name='dashboard'): allowed 1 · denied 0"
    assert bytes(dashboard.chart.value).startswith(b"\x89PNG")


def test_rate_limit_dashboard_fires_in_the_background(fake):
    dashboard = RateLimitDashboard(fake, limit=2, window=60)
    dashboard.rate_slider.value = 50
    dashboard.start_firing(0.5)
    assert dashboard.fire_button.disabled
    dashboard.wait()
    assert not dashboard.fire_button.disabled
    assert dashboard.counts().startswith("SlidingLog(limit=2, window=60s, name='dashboard'): allowed 2 · denied ")


def test_cache_dashboard_runs_traffic_in_the_background(fake):
    dashboard = CacheDashboard(fake, ttl=60, latency_ms=0)
    dashboard.rate_slider.value = 100
    dashboard.start_traffic(1.0)  # long enough for several requests between chart redraws on a busy machine
    assert dashboard.run_button.disabled
    dashboard.wait()
    assert not dashboard.run_button.disabled and len(dashboard.latencies) > 5


def test_leaderboard_dashboard_plays_rounds_and_switches_boards(fake):
    dashboard = LeaderboardDashboard(fake, seed=1)
    for _ in range(4):  # 18 hours: the last round lands on the next day
        dashboard.round_button.click()
    assert dashboard.board.size() == len(NAMES)
    all_time = dashboard.top_lines(3)
    dashboard.view_toggle.value = "today"
    assert dashboard.top_lines(3) != all_time
    assert "on 'today'" in dashboard.status.value
    dashboard.me.value = "zoe"
    assert "<b>" in dashboard.neighbourhood.value and "zoe" in dashboard.neighbourhood.value
    assert dashboard.table.value.count("<tr>") == 11


def test_session_dashboard_logs_in_rotates_and_logs_out(fake):
    dashboard = SessionDashboard(fake)
    first = dashboard.log_in()
    dashboard.log_in()
    assert dashboard.counts() == "ada: 2 · bob: 0 · cy: 0"
    dashboard.selected.value = first
    dashboard.buttons["Rotate"].click()
    assert first not in dashboard.sessions and dashboard.store.get(first) is None
    dashboard.buttons["Log out"].click()
    assert dashboard.counts() == "ada: 1 · bob: 0 · cy: 0"
    dashboard.buttons["Log out everywhere"].click()
    assert dashboard.counts() == "ada: 0 · bob: 0 · cy: 0" and "1 session(s) ended" in dashboard.message.value
    assert "idle left" in dashboard.table.value


def test_pubsub_dashboard_shows_what_pubsub_loses_and_the_stream_keeps(fake):
    dashboard = PubSubDashboard(fake)
    try:
        dashboard.publish_button.click()
        dashboard.online["subscriber A"].value = False
        dashboard.online["stream consumer"].value = False
        for _ in range(3):
            dashboard.publish_button.click()
        assert dashboard.counts() == "published 4 · subscriber A got 1 · subscriber B got 4 · stream consumer got 1"
        dashboard.online["subscriber A"].value = True
        dashboard.online["stream consumer"].value = True
        assert dashboard.counts() == "published 4 · subscriber A got 1 · subscriber B got 4 · stream consumer got 4"
        assert "missed" in dashboard.board.value
    finally:
        dashboard.close()


def test_fenced_resource_refuses_older_tokens():
    resource = FencedResource()
    assert resource.write(5) and resource.write(7) and not resource.write(6) and resource.write(7)
    assert (resource.accepted, resource.rejected) == (3, 1)


def test_lock_timeline_shows_a_lease_running_out_during_a_pause(fake):
    timeline = LockTimeline(fake, workers=2, ttl=0.3, pause=1.0)
    timeline.run(1.5)
    assert timeline.lost == 1 and timeline.resource.rejected == 1
    assert "lease ran out under a worker 1" in timeline.summary.value
    assert any(kind == "lease ran out" for _, kind, _, _ in timeline.spans)


def test_audit_explorer_runs_the_audit_on_its_pattern(fake):
    fake.set("legacy:1", "no ttl")
    fake.set("fine:1", "x", ex=60)
    explorer = AuditExplorer(fake, match="fine:*")
    explorer.run_button.click()
    assert explorer.report.clean and "no problems found" in explorer.output.value
    explorer.match.value = "*"
    explorer.run_button.click()
    assert not explorer.report.clean and "legacy" in explorer.output.value


def test_audit_explorer_matches_inside_the_clients_namespace(fake):
    keys.set_namespace(fake, "alice")
    fake.set("alice:proof:1", "x", ex=60)
    fake.set("alice:legacy:1", "no ttl")
    fake.set("bob:legacy:1", "no ttl")  # another attendee's key: never audited, never shown
    explorer = AuditExplorer(fake, match="proof:*")
    explorer.run_button.click()
    assert explorer.report.scanned == 1 and explorer.report.clean
    explorer.match.value = "*"
    explorer.run_button.click()
    assert explorer.report.scanned == 2 and "alice:legacy" in explorer.output.value
    assert "bob" not in explorer.output.value


def test_audit_explorer_shows_why_the_keys_could_not_be_listed(fake, monkeypatch):
    def no_scan(*args, **kwargs):
        raise redis.exceptions.NoPermissionError("User alice has no permissions to run the 'scan' command")

    monkeypatch.setattr(fake, "scan_iter", no_scan)
    explorer = AuditExplorer(fake)
    explorer.run_button.click()
    assert explorer.report.refused and not explorer.report.clean
    assert "may not run SCAN" in explorer.output.value and "--allow-scan" in explorer.output.value


def _rows_drawn(timeline, monkeypatch):
    """Redraw the timeline and return {worker row: bars of non-zero width in the figure}."""
    figures = []
    to_png = lock_widget._chart.to_png
    monkeypatch.setattr(lock_widget._chart, "to_png", lambda fig: figures.append(fig) or to_png(fig))
    timeline._draw()
    rows: dict[int, int] = {}
    for bar in figures[-1].axes[0].patches:
        if bar.get_width() > 0:
            row = round(bar.get_y() + bar.get_height() / 2)
            rows[row] = rows.get(row, 0) + 1
    return rows


def test_lock_timeline_draws_every_worker_after_a_long_pause(fake, monkeypatch):
    # The notebook's driven run: before the fix a waiter could sleep through every turn (backoff up to
    # 0.5 s against 0.05-0.15 s critical sections) and its 3 s wait was never drawn: an empty row.
    timeline = LockTimeline(fake, workers=3, ttl=0.5, pause=2.0)
    timeline.run(3.0)
    assert timeline.lost == 1 and timeline.resource.rejected == 1
    assert sorted(_rows_drawn(timeline, monkeypatch)) == [1, 2, 3]
    assert {number for number, kind, _, _ in timeline.spans if kind != "waiting"} == {1, 2, 3}


def test_lock_timeline_draws_the_wait_of_a_worker_that_never_gets_the_lock(fake, monkeypatch):
    timeline = LockTimeline(fake, workers=2, ttl=0.5)
    outsider = Lock(fake, timeline.name, ttl=5)
    assert outsider.acquire()  # held all along by someone outside the timeline
    timeline.run(0.5)
    assert sorted(number for number, _, _, _ in timeline.spans) == [1, 2]
    assert all(kind == "waiting" and start < 0.05 and end >= 0.5 for _, kind, start, end in timeline.spans)
    assert _rows_drawn(timeline, monkeypatch) == {1: 1, 2: 1}
    assert "critical sections 0" in timeline.summary.value


def test_lock_timeline_tries_once_when_under_a_millisecond_is_left(fake, monkeypatch):
    # On a loaded machine a worker reached Lock(...) with 0 < time left < 1 ms: Lock refused the timeout
    # with a ValueError, the thread died and its traceback landed in 06's committed output as stderr.
    # Each thread's clock steps 0.4 ms per reading, so every worker is 0.2 ms from the end when it asks.
    clocks = threading.local()

    def monotonic() -> float:
        clocks.now = getattr(clocks, "now", -0.0004) + 0.0004
        return clocks.now

    monkeypatch.setattr(lock_widget, "time", types.SimpleNamespace(monotonic=monotonic, sleep=time.sleep))
    timeline = LockTimeline(fake, workers=2, ttl=0.5)
    assert Lock(fake, timeline.name, ttl=5).acquire()  # held by someone else: the single try fails
    died: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda hook: died.append(hook.exc_value))
    timeline.run(0.001)
    assert died == []
    assert sorted((number, kind) for number, kind, _, _ in timeline.spans) == [(1, "waiting"), (2, "waiting")]
