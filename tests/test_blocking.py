"""Every call that waits is bounded, and no single Redis command waits longer than the socket timeout.

A wait longer than the client's socket timeout must be made of short commands: a blocking
command that outlives it ends in a TimeoutError on a real server, however healthy. Here the
client's socket timeout is 1 s and every wait is 2.5 s: each must end normally, on time.
(EventStream.read(block=...) is tested the same way in tests/test_pubsub.py.)
"""
from __future__ import annotations

import threading
import time

from patterns import Cache
from patterns.lock import Lock
from patterns.pubsub import Subscriber, publish_event
from helpers import wait_for

WAIT = 2.5  # longer than the 1 s socket timeout of the client under test


def test_waiting_for_a_held_lock_longer_than_the_socket_timeout_gives_up_normally(one_second_socket_timeout):
    r = one_second_socket_timeout
    assert Lock(r, "job", ttl=30).acquire()
    waiter = Lock(r, "job", ttl=30)
    started = time.monotonic()
    assert waiter.acquire(timeout=WAIT) is False
    assert time.monotonic() - started >= WAIT


def test_waiting_for_another_callers_fill_longer_than_the_socket_timeout_computes_it_here(one_second_socket_timeout):
    r = one_second_socket_timeout
    cache = Cache(r, "t", wait_timeout=WAIT, fill_timeout=30)
    filling, release = threading.Event(), threading.Event()

    def slow_fetch():
        filling.set()
        release.wait(30)
        return "from the slow filler"

    filler = threading.Thread(target=lambda: cache.get_or_set("k", slow_fetch))
    filler.start()
    assert filling.wait(10)
    started = time.monotonic()
    assert cache.get_or_set("k", lambda: "computed here") == "computed here"
    assert time.monotonic() - started >= WAIT and cache.stats.waits == 1
    release.set()
    filler.join(10)


def test_an_idle_subscriber_outlives_the_socket_timeout_without_reconnecting(one_second_socket_timeout):
    r = one_second_socket_timeout
    received = []
    with Subscriber(r, ["orders"], lambda channel, event: received.append(event)) as sub:
        time.sleep(WAIT)  # idle for longer than one socket timeout
        publish_event(r, "orders", "still here")
        assert wait_for(lambda: received == ["still here"])
        assert sub.stats.reconnects == 0 and sub.running
    assert not sub.running  # and stop() ended the thread within its own bound


def test_a_blocking_read_on_a_very_short_socket_timeout_still_returns_normally(real):
    from patterns import connection
    from patterns.pubsub import EventStream

    quick = connection.with_timeout(real, 0.2)  # Redis ends a BLOCK up to 100 ms late (its timer)
    stream = EventStream(quick, "orders", start="0")
    for _ in range(3):
        assert stream.read("c", block=0.6) == []


def test_a_short_socket_timeout_leaves_its_reply_all_but_the_servers_own_tick(real):
    # Redis ends a BLOCK up to 100 ms late; what is left of the socket timeout is all the reply has.
    # A block of a quarter of 0.2 s left it 50 ms, and under CI's load one read timed out.
    from patterns import connection

    for timeout in (0.05, 0.2, 0.5):
        block = connection.longest_block(connection.with_timeout(real, timeout))
        assert timeout - block - 0.1 >= timeout - 0.101
    assert connection.longest_block(connection.with_timeout(real, 2.0)) == 1.75
