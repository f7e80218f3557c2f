"""A workshop's load: thirty attendees at once on one server, and what each one costs in memory.

    python benchmarks/workshop.py [--attendees 30] [--rounds 300] [--no-notebooks]     (make bench)

Part 1, load. A throwaway redis-server, N attendees provisioned by ``patterns.workshop``
(the rules a host's attendees get), and one process per attendee, logged in as that
attendee, running the labs' operations in a loop as fast as it can: the worst case of a
room that presses "run" together. Each round is the mix in ``one_round`` (caching, five
rate limiters, a leaderboard, sessions, pub/sub and a stream, a lock). Reported:

* the server's own latency per command (``INFO latencystats``: time spent inside Redis,
  which is what a busier server makes worse for everyone), for the busiest commands;
* the attendees' round-trip percentiles per operation (client, network and server);
* server CPU (one core is all a Redis server uses for commands) and memory per attendee.

On a small machine the attendees' Python processes use most of the CPU, so operations per
second say more about the clients than about Redis; the server's latency and CPU share
are the figures to size a server with.

Part 2, memory per notebook. For each notebook a fresh server and one attendee who runs it
top to bottom (as ``make lab`` with the attendee's REDIS_URL and WORKBOOK_NAMESPACE would):
the server's peak memory above its empty baseline, and the keys and bytes left behind.

Part 3, the host's progress board. N attendees, each with a record of every exercise and
KEYS other keys (what their labs leave), and the board read as ``python -m patterns.workshop
progress`` reads it: the time per read on the host's side, the commands it sends, and the
server's own time per read (``INFO commandstats``), with what a refresh every 5 s costs the
server's one core.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import time
from pathlib import Path

import patterns
from patterns import progress, workshop
from patterns.cache import Cache
from patterns.leaderboard import Leaderboard
from patterns.lock import Lock
from patterns.pubsub import EventStream, publish_event
from patterns.ratelimit import ALGORITHMS
from patterns.sandbox import LocalServer
from patterns.session import SessionStore

ROOT = Path(__file__).resolve().parent.parent
BUSIEST = 8  # commands shown in the server latency table


def one_round(r, tools: dict, i: int, timings: dict[str, list[float]]) -> None:
    """One attendee's round of lab operations, each timed on the client (milliseconds)."""
    def timed(name, call):
        started = time.perf_counter()
        call()
        timings.setdefault(name, []).append((time.perf_counter() - started) * 1000)

    product = f"product-{i % 50}"
    timed("cache get_or_set", lambda: tools["cache"].get_or_set(product, lambda: {"id": product, "price": i}))
    for name, limiter in tools["limiters"].items():
        timed(f"rate limit {name}", lambda: limiter.hit(f"user-{i % 10}"))
    timed("leaderboard submit", lambda: tools["board"].submit(f"player-{i % 100}", tools["rng"].randint(0, 10_000)))
    timed("leaderboard top 10", lambda: tools["board"].top(10))
    if i % 10 == 0:
        tools["sessions_made"].append(tools["sessions"].create(f"user-{i % 10}", {"cart": [i]}))
    sid = tools["sessions_made"][-1]
    timed("session get", lambda: tools["sessions"].get(sid))
    timed("session update", lambda: tools["sessions"].update(sid, cart=[i, i + 1]))
    timed("publish", lambda: publish_event(r, "ticks", {"i": i}))
    timed("stream append", lambda: tools["stream"].append({"order": i}))
    timed("stream read+ack", lambda: [tools["stream"].ack(m.id) for m in tools["stream"].read("worker", count=1)])

    def lock_cycle():
        with Lock(r, f"job-{i % 5}", ttl=5, timeout=1):
            pass
    timed("lock acquire+release", lock_cycle)


def attendee(url: str, namespace: str, rounds: int, start, results, leave) -> None:
    """One attendee's process: connect as the attendee, wait for the others, run the rounds.

    It stays connected until ``leave`` is set, so the host's status shows the room as it was."""
    r = patterns.connect(url, namespace=namespace)
    tools = {
        "cache": Cache(r, "products", ttl=300),
        "limiters": {name: algorithm(r, 100, 60) for name, algorithm in ALGORITHMS.items()},
        "board": Leaderboard(r, "game"),
        "sessions": SessionStore(r),
        "sessions_made": [],
        "stream": EventStream(r, "orders", maxlen=1000),
        "rng": random.Random(namespace),
    }
    timings: dict[str, list[float]] = {}
    start.wait()
    for i in range(rounds):
        one_round(r, tools, i, timings)
    results.put(timings)
    leave.wait(60)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def server_latencies(host) -> dict[str, dict[str, float]]:
    """INFO latencystats: {command: {"p50": usec, "p99": usec, "p99.9": usec}}."""
    found = {}
    for name, values in host.info("latencystats").items():
        if name.startswith("latency_percentiles_usec_"):
            found[name[len("latency_percentiles_usec_"):]] = {k: float(v) for k, v in values.items()}
    return found


def cpu_seconds(host) -> float:
    cpu = host.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def load(attendees: int, rounds: int) -> None:
    with LocalServer() as server:
        host = workshop.admin_client(server.url)
        # The throwaway server listens on 127.0.0.1 only and is gone after the run: its passwordless
        # 'default' user (the admin here) is no hole in a fence anyone else could reach.
        made = workshop.provision(host, attendees, allow_open_users=True)
        baseline = host.info("memory")["used_memory"]
        start, leave = multiprocessing.Event(), multiprocessing.Event()
        results: multiprocessing.Queue = multiprocessing.Queue()
        processes = [multiprocessing.Process(target=attendee, args=(
            workshop.attendee_url(server.url, a.name, a.password), a.name, rounds, start, results, leave)) for a in made]
        for process in processes:
            process.start()
        time.sleep(2)  # every attendee connected and its objects built (consumer groups, scripts)
        host.config_resetstat()
        cpu_before, started = cpu_seconds(host), time.perf_counter()
        start.set()
        timings: dict[str, list[float]] = {}
        for _ in processes:
            for name, values in results.get(timeout=600).items():
                timings.setdefault(name, []).extend(values)
        elapsed = time.perf_counter() - started
        cpu = (cpu_seconds(host) - cpu_before) / elapsed
        calls = {k.split("_", 1)[1]: v["calls"] for k, v in host.info("commandstats").items()}
        latencies = server_latencies(host)
        status = workshop.status(host)
        used = host.info("memory")["used_memory"]
        version = workshop.server_version(host)
        leave.set()
        for process in processes:
            process.join(30)

    operations = sum(len(v) for v in timings.values())
    print(f"{attendees} attendees x {rounds} rounds, one process each, all at once; Redis {version}, "
          f"{os.cpu_count()} cores shared by server and attendees")
    print(f"{operations:,} operations in {elapsed:.1f} s: {operations / elapsed:,.0f} operations/s, "
          f"{sum(calls.values()) / elapsed:,.0f} commands/s (counting those scripts run); "
          f"server CPU {cpu:.0%} of one core")
    print()
    print(f"{'server latency per command (usec)':36} {'calls':>9} {'p50':>8} {'p99':>8} {'p99.9':>8}")
    for command in sorted(latencies, key=lambda c: -calls.get(c, 0))[:BUSIEST]:
        stats = latencies[command]
        print(f"{command:36} {calls.get(command, 0):>9,} {stats['p50']:>8.1f} {stats['p99']:>8.1f} "
              f"{stats['p99.9']:>8.1f}")
    print()
    print(f"{'attendee round trip per operation (ms)':40} {'p50':>7} {'p99':>7} {'max':>7}")
    for name in sorted(timings):
        values = timings[name]
        print(f"{name:40} {statistics.median(values):>7.2f} {percentile(values, 99):>7.2f} {max(values):>7.2f}")
    print()
    keys_each = [row.keys for row in status.attendees]
    memory_each = [row.memory for row in status.attendees]
    print(f"memory per attendee after the run: {statistics.mean(keys_each):,.0f} keys, "
          f"{statistics.mean(memory_each) / 1024:,.1f} KB by MEMORY USAGE (max {max(memory_each) / 1024:,.1f} KB); "
          f"server used_memory grew {(used - baseline) / attendees / 1024:,.1f} KB per attendee "
          "(keys, scripts, connection buffers)")
    table = status.table().splitlines()
    print()
    print("what `python -m patterns.workshop status` showed after the run:")
    print("\n".join(table[:4] + ["..."] + table[-1:]))


def notebook_memory(paths: list[Path]) -> None:
    import nbformat
    from run_notebooks import execute  # scripts/run_notebooks.py: what `make notebooks` runs them with

    print()
    print(f"{'notebook, run by one attendee':34} {'peak above empty':>17} {'keys left':>10} {'bytes left':>11}")
    peaks, left_keys, left_bytes = [], 0, 0
    for path in paths:
        with LocalServer() as server:
            host = workshop.admin_client(server.url)
            (a,) = workshop.provision(host, 1, allow_open_users=True)  # a throwaway server, as in load()
            baseline = host.info("memory")["used_memory"]
            url = workshop.attendee_url(server.url, a.name, a.password)
            execute(nbformat.read(path, as_version=4), path, REDIS_URL=url, WORKBOOK_NAMESPACE=a.name)
            peak = host.info("memory")["used_memory_peak"] - baseline
            (row,) = workshop.status(host).attendees
        print(f"{path.stem:34} {peak / 1024 / 1024:>14.2f} MB {row.keys:>10,} {row.memory:>11,}")
        peaks.append(peak)
        left_keys, left_bytes = left_keys + row.keys, left_bytes + row.memory
    print(f"{'all of them (largest peak, sums)':34} {max(peaks) / 1024 / 1024:>14.2f} MB {left_keys:>10,} "
          f"{left_bytes:>11,}")


def board_cost(attendees: int, keys_each: int, reads: int = 20, every: float = 5.0) -> None:
    with LocalServer() as server:
        host = workshop.admin_client(server.url)
        made = workshop.provision(host, attendees, allow_open_users=True)  # a throwaway server, as in load()
        for a in made:
            mine = patterns.connect(workshop.attendee_url(server.url, a.name, a.password), namespace=a.name)
            for n, exercise in enumerate(progress.EXERCISES):
                progress.record_to(mine, exercise.id, n % 3 == 0, f"not yet: the {n}th request in 10 s was allowed")
            pipe = mine.pipeline(transaction=False)
            for n in range(keys_each):
                pipe.set(f"{a.name}:lab:{n}", n)
            pipe.execute()
            mine.connection_pool.disconnect()
        host.config_resetstat()
        cold = time.perf_counter()
        workshop.board(host)  # a first read: the attendee list (ACL users) and every record
        cold = (time.perf_counter() - cold) * 1000
        cold_stats = {k.split("_", 1)[1]: v for k, v in host.info("commandstats").items()}
        read = workshop.board_reader(host)  # what the live board and `progress` use
        read()
        host.config_resetstat()
        times = []
        for _ in range(reads):
            started = time.perf_counter()
            board = read()
            times.append((time.perf_counter() - started) * 1000)
        stats = {k.split("_", 1)[1]: v for k, v in host.info("commandstats").items()}
    stats.pop("config|resetstat", None)
    cold_stats.pop("config|resetstat", None)
    cold_server = sum(v["usec"] for v in cold_stats.values()) / 1000
    commands = sum(v["calls"] for v in stats.values()) / reads
    server_ms = sum(v["usec"] for v in stats.values()) / reads / 1000
    print()
    print(f"the host's progress board: {attendees} attendees, {len(board.records):,} records and "
          f"{attendees * keys_each:,} other keys on the server; {reads} reads")
    print(f"a first read, with the attendee list (an ACL GETUSER per user): {cold:.1f} ms on the host, "
          f"{sum(v['calls'] for v in cold_stats.values()):,} commands, {cold_server:.2f} ms of the server's time")
    print(f"a live refresh: {statistics.median(times):.1f} ms on the host (median, max {max(times):.1f}), "
          f"{commands:,.0f} commands, {server_ms:.2f} ms of the server's time; refreshed every {every:g} s that is "
          f"{server_ms / (every * 1000):.2%} of the server's one core")
    busiest = sorted(stats.items(), key=lambda kv: -kv[1]["usec"])[:4]
    print("  " + ", ".join(f"{name} {v['calls'] / reads:,.0f} calls {v['usec'] / reads / 1000:.2f} ms"
                           for name, v in busiest))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attendees", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--no-notebooks", action="store_true", help="skip part 2 (memory per notebook)")
    parser.add_argument("--board-only", action="store_true", help="run part 3 (the progress board) alone")
    parser.add_argument("--keys", type=int, default=2000, help="other keys per attendee in part 3")
    args = parser.parse_args()
    if not args.board_only:
        load(args.attendees, args.rounds)
        if not args.no_notebooks:
            notebook_memory(sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    board_cost(args.attendees, args.keys)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "scripts"))
    main()
