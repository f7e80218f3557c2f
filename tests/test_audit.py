"""The production-checklist audit: planted problems are found, a clean keyspace is clean."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import redis

import patterns
from patterns import Cache
from patterns.audit import audit, prefix_of
from patterns.scan import scan_batches
from patterns.trace import trace
from helpers import refusing_port

pytestmark = pytest.mark.not_as_attendee("an attendee may not SCAN: its audit is tested in tests/test_workshop.py")


def plant_problems(r):
    Cache(r, "users").get_or_set("1", lambda: {"name": "Ada"})  # fine: has a TTL
    r.set("forever:1", "x")
    r.set("forever:2", "y")
    r.set("big:blob", "x" * 200_000, ex=600)
    r.zadd("board:{huge}", {f"m{i}": i for i in range(12_000)})
    r.expire("board:{huge}", 600)


def test_keys_without_ttl_are_reported_by_prefix(r):
    plant_problems(r)
    report = audit(r)
    assert report.without_ttl == {"forever": 2}
    assert sorted(report.examples["forever"]) == ["forever:1", "forever:2"]
    assert any("2 key(s) under 'forever' have no TTL" in p for p in report.problems)


def test_big_values_and_big_collections_are_reported(r):
    plant_problems(r)
    big = {b.key: b for b in audit(r).big_keys}
    assert set(big) == {"big:blob", "board:{huge}"}
    assert big["big:blob"].size >= 200_000


def test_a_clean_keyspace_is_clean(r):
    Cache(r, "users").get_or_set("1", lambda: {"name": "Ada"})
    r.set("small", "x", ex=60)
    report = audit(r)
    assert report.clean and report.problems == [] and report.scanned == 2
    assert "no problems found" in report.table()


def test_types_are_counted_per_prefix(r):
    plant_problems(r)
    types = audit(r).types
    assert types["forever"] == {"string": 2} and types["board"] == {"zset": 1} and types["cache:users"] == {"hash": 1}


def test_it_scans_in_bounded_batches_and_never_sends_keys(r):
    for i in range(250):
        r.set(f"k:{i}", i, ex=600)
    with trace(r) as t:
        report = audit(r, count=50)
    assert "KEYS" not in t.names
    scans = [c for c in t.commands if c.name == "SCAN"]
    assert scans and all(c.args[c.args.index("COUNT") + 1] == "50" for c in scans)
    per_round_trip = {}
    for command in t.commands:
        per_round_trip[command.round_trip] = per_round_trip.get(command.round_trip, 0) + 1
    assert max(per_round_trip.values()) <= 4 * 50  # no pipeline bigger than one batch
    assert report.scanned == 250 and report.batches == 5


def test_a_volatile_policy_with_ttl_less_keys_is_a_problem(real):
    real.config_set("maxmemory-policy", "volatile-lru")
    try:
        real.set("forever", "x")
        report = audit(real)
    finally:
        real.config_set("maxmemory-policy", "noeviction")
    assert report.eviction_policy == "volatile-lru"
    assert any("volatile-lru evicts only keys with a TTL" in p for p in report.problems)


def test_the_real_server_report_has_encodings_memory_and_clients(real):
    real.set("big:blob", "x" * 200_000, ex=60)
    report = audit(real)
    assert report.encodings["big"] == {"raw": 1}
    assert report.big_keys[0].measure == "bytes (MEMORY USAGE)"
    assert report.connected_clients >= 1 and report.connections_received >= 1


def test_bad_batch_sizes_are_refused(r):
    with pytest.raises(ValueError, match=r"count \(keys per batch\) must be a whole number of at least 1"):
        audit(r, count=0)
    with pytest.raises(ValueError, match="at most 10,000"):
        audit(r, count=10_001)


@pytest.mark.parametrize(("key", "prefix"), [
    ("cache:users:{42}:fill", "cache:users"), ("lab3:seed:17", "lab3:seed"), ("plain", "plain"), ("{tagged}", "{tagged}"),
])
def test_prefixes(key, prefix):
    assert prefix_of(key) == prefix


# -- the command line --------------------------------------------------------------------------------


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "patterns.audit", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def test_the_cli_exits_1_and_lists_problems(real, redis_server):
    plant_problems(real)
    result = run_cli(redis_server.url)
    assert result.returncode == 1
    assert "PROBLEM: 2 key(s) under 'forever' have no TTL" in result.stdout


def test_the_cli_exits_0_on_a_clean_server_and_speaks_json(real, redis_server):
    real.set("small", "x", ex=60)
    result = run_cli(redis_server.url, "--json")
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["clean"] is True and report["scanned"] == 1


@pytest.mark.parametrize(("url", "message"), [
    ("http://nope", "is not a Redis URL"),
    ("redis://127.0.0.1:{port}/0", "Cannot reach Redis"),
])
def test_the_cli_gives_one_line_for_a_bad_or_unreachable_url(url, message):
    with refusing_port() as port:
        result = run_cli(url.format(port=port))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_the_cli_needs_a_url():
    result = run_cli(env={k: v for k, v in os.environ.items() if k != "REDIS_URL"})
    assert result.returncode == 2 and "set REDIS_URL" in result.stderr


class _RepeatingScan:
    """A client whose SCAN returns a key twice, as a real one may while its table is resized."""

    def scan_iter(self, match, count):
        yield from ["a", "b", "a", "c", "b"]


def test_scan_batches_keeps_count_and_drops_repeats_only_when_asked():
    assert list(scan_batches(_RepeatingScan(), "*", 2)) == [["a", "b"], ["a", "c"], ["b"]]
    assert list(scan_batches(_RepeatingScan(), "*", 2, once=True)) == [["a", "b"], ["c"]]


def test_the_cluster_report_counts_the_clients_of_every_primary(cluster_client, redis_cluster):
    cluster_client.flushall()
    extra = [redis.Redis(port=port) for port in redis_cluster.ports]  # one more client on each node
    for client in extra:
        client.ping()
    report = audit(cluster_client)
    # At least the cluster client's own connection and the extra one, on every node: not one node's.
    assert report.connected_clients is not None and report.connected_clients >= len(redis_cluster.ports) * 2
    assert report.connections_received >= len(redis_cluster.ports)
    for client in extra:
        client.close()


def test_the_report_names_the_pattern_it_sent_namespace_included():
    """A workshop attendee's '*' is 'attendee-01:*' on the wire: the report must not read as the whole server."""
    r = patterns.connect(namespace="attendee-01")
    r.set("attendee-01:lab:x", "1", ex=60)
    report = audit(r, "*")
    assert report.match == "attendee-01:*"
    assert report.table().splitlines()[0].startswith("scanned 1 keys matching 'attendee-01:*'")
