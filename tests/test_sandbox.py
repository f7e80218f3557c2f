"""The harness's throwaway servers hold up on a busy machine: other processes starting servers of their own.

A port found free may be taken by another process before our server binds it. Our server then
exits, while the port answers as a stranger's server; adopting it would let the tests flush a
server they did not start.
"""
from __future__ import annotations

import pytest
import redis

from patterns import sandbox
from patterns.sandbox import LocalServer
from conftest import _started


def test_a_port_taken_by_another_redis_before_ours_binds_it_is_never_adopted(monkeypatch):
    stranger = _started(LocalServer)
    try:
        with redis.Redis(port=stranger.port) as theirs:
            theirs.set("their data", "keep")
        offered = [stranger.port]  # the port our start is told is free: someone took it meanwhile
        original = sandbox.free_ports
        monkeypatch.setattr(sandbox, "free_ports",
                            lambda *args, **kwargs: [offered.pop()] if offered else original(*args, **kwargs))
        ours = LocalServer().start()
        try:
            assert ours.port != stranger.port
            with redis.Redis(port=ours.port) as mine:
                assert int(mine.info("server")["process_id"]) == ours.process.pid
        finally:
            ours.cleanup()
        with redis.Redis(port=stranger.port) as theirs:
            assert theirs.get("their data") == b"keep"
    finally:
        stranger.cleanup()


def test_a_restart_waits_for_its_own_port_to_be_free_again():
    server = _started(LocalServer)
    try:
        port = server.port
        server.restart()
        assert server.port == port and server.running
    finally:
        server.cleanup()


def test_a_cluster_whose_second_node_fails_to_start_stops_the_first(monkeypatch):
    started: list[LocalServer] = []
    original = LocalServer.start

    def start(self, port=None):
        if len(started) == 1:
            raise RuntimeError("the port was taken meanwhile")
        started.append(self)
        return original(self, port)

    monkeypatch.setattr(LocalServer, "start", start)
    cluster = sandbox.LocalCluster(masters=3)
    try:
        cluster._start_once(sandbox.free_ports(3, cluster_bus=True))
    except RuntimeError:
        pass
    cluster.cleanup()
    assert started and not any(node.running for node in started)


def test_a_measurement_runs_on_the_real_server_it_is_given(redis_server):
    from patterns.sandbox import on_a_real_server

    client = redis.Redis(port=redis_server.port)
    assert on_a_real_server(client, lambda c: c.info("server")["tcp_port"],
                            without="n/a") == redis_server.port


def test_a_measurement_on_fakeredis_runs_on_a_throwaway_server_that_is_gone_after():
    import fakeredis

    port = sandbox.on_a_real_server(fakeredis.FakeRedis(), lambda c: c.info("server")["tcp_port"], without="n/a")
    assert isinstance(port, int) and sandbox.port_is_free(port)


def test_without_redis_server_a_measurement_says_what_it_would_have_shown(monkeypatch, capsys):
    import fakeredis

    from patterns import sandbox

    monkeypatch.setattr(sandbox, "redis_server_binary", lambda: None)
    assert sandbox.on_a_real_server(fakeredis.FakeRedis(), lambda c: 1 / 0, without="the bytes per key") is None
    assert capsys.readouterr().out == f"{sandbox.NO_SERVER} the bytes per key\n"


def test_a_throwaway_server_that_fails_to_start_says_why_and_what_it_would_have_shown(monkeypatch, capsys):
    """Review of 2 Dec: with redis-server installed but unable to start, the cell raised a traceback."""
    import fakeredis

    def fail(self, port=None):
        raise RuntimeError("redis-server did not start on 127.0.0.1:12345: no log")

    monkeypatch.setattr(sandbox, "redis_server_binary", lambda: "/usr/bin/redis-server")
    monkeypatch.setattr(sandbox.LocalServer, "start", fail)
    assert sandbox.on_a_real_server(fakeredis.FakeRedis(), lambda c: 1, without="the bytes per key") is None
    out = capsys.readouterr().out
    assert "did not start" in out and out.rstrip().endswith("the bytes per key"), out


def test_an_error_of_the_measurement_itself_is_not_hidden():
    import fakeredis

    with pytest.raises(ZeroDivisionError):
        sandbox.on_a_real_server(fakeredis.FakeRedis(), lambda c: 1 / 0, without="n/a")
