"""Audit a keyspace against the seed's production checklist, without disturbing the server.

    python -m patterns.audit [URL] [--json] [--max-value-bytes N] [--match PATTERN]

Walks the keys with SCAN (never KEYS, which blocks the server for the whole walk), in
batches of ``count`` keys, each inspected with one pipeline, and reports:

* keys without a TTL, grouped by prefix (the seed: "TTL on all cache entries");
* big keys: over ``max_value_bytes`` by MEMORY USAGE where the server has it, else by
  string length, and collections over ``max_elements`` members (the seed: "no values
  over 100 KB");
* the type (and, on a real server, encoding) mix per prefix;
* the eviction policy against TTL-less keys: a ``volatile-*`` policy can evict only keys
  with a TTL, so with none it behaves like ``noeviction`` and writes start failing;
* how many clients are connected, and how many connections were ever opened (a high
  count suggests a new connection per request: the seed's "connection pooling").

The exit status of the command line is 0 for a clean report, 1 when it found problems
and 2 when it could not run, so teams can put it in their own CI.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import redis

from . import _cli, keys, validate
from .connection import connect, is_cluster, is_fake
from .scan import scan_batches

SIZE_COMMANDS = {"string": "STRLEN", "list": "LLEN", "hash": "HLEN", "set": "SCARD", "zset": "ZCARD", "stream": "XLEN"}


def prefix_of(key: str) -> str:
    """The group a key belongs to: the part before its {hash tag}, else before its last ':'."""
    if "{" in key:
        return key.split("{", 1)[0].rstrip(":") or key
    return key.rsplit(":", 1)[0] if ":" in key else key


@dataclass
class BigKey:
    key: str
    type: str
    size: int
    measure: str  # "bytes (MEMORY USAGE)", "bytes (string length)" or "elements"


@dataclass
class AuditReport:
    match: str = "*"  # the SCAN pattern sent: a workshop attendee's carries its namespace
    scanned: int = 0
    batches: int = 0
    without_ttl: dict[str, int] = field(default_factory=dict)  # prefix -> keys without a TTL
    examples: dict[str, list[str]] = field(default_factory=dict)  # prefix -> a few such keys
    big_keys: list[BigKey] = field(default_factory=list)
    types: dict[str, dict[str, int]] = field(default_factory=dict)  # prefix -> {type: count}
    encodings: dict[str, dict[str, int]] = field(default_factory=dict)  # real servers only
    eviction_policy: str | None = None
    maxmemory: int | None = None
    connected_clients: int | None = None
    connections_received: int | None = None
    problems: list[str] = field(default_factory=list)
    refused: str | None = None  # why the keys could not be listed (the user may not SCAN)

    @property
    def clean(self) -> bool:
        return not self.problems

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "clean": self.clean}, indent=2)

    def table(self) -> str:
        """The report as text: a line per prefix, then the problems."""
        lines = [f"scanned {self.scanned:,} keys matching {self.match!r} in {self.batches} SCAN batches"]
        lines.append(f"{'prefix':40} {'keys':>7} {'no TTL':>7}  types")
        for prefix in sorted(self.types):
            total = sum(self.types[prefix].values())
            mix = ", ".join(f"{t} {n}" for t, n in sorted(self.types[prefix].items()))
            if prefix in self.encodings:
                mix += " (" + ", ".join(f"{e} {n}" for e, n in sorted(self.encodings[prefix].items())) + ")"
            lines.append(f"{prefix[:40]:40} {total:>7,} {self.without_ttl.get(prefix, 0):>7,}  {mix}")
        for big in self.big_keys:
            lines.append(f"big key: {big.key} ({big.type}, {big.size:,} {big.measure})")
        if self.eviction_policy is not None:
            lines.append(f"eviction policy {self.eviction_policy}, maxmemory {self.maxmemory:,}")
        if self.connected_clients is not None:
            lines.append(f"clients connected {self.connected_clients}, connections ever opened {self.connections_received:,}")
        lines += [f"PROBLEM: {p}" for p in self.problems] or ["no problems found"]
        return "\n".join(lines)


def _server_facts(r: Any, report: AuditReport) -> None:
    """Eviction policy and client counts, where the server (and the user's ACL) allows."""
    if is_fake(r):
        return
    try:
        config = r.config_get("maxmemory*")
        report.eviction_policy = config.get("maxmemory-policy")
        report.maxmemory = int(config.get("maxmemory", 0))
    except redis.ResponseError:  # CONFIG may be denied to this user
        pass
    try:
        info = _info_everywhere(r, "clients") | _info_everywhere(r, "stats")
        report.connected_clients = int(info.get("connected_clients", 0))
        report.connections_received = int(info.get("total_connections_received", 0))
    except redis.ResponseError:
        pass


def _info_everywhere(r: Any, section: str) -> dict[str, Any]:
    """INFO ``section``; on a cluster, asked of every primary and each number added up.

    A cluster client sends INFO to one node unless told otherwise, so a cluster's clients
    would be one node's; its answer per node is then {node: {field: value}}.
    """
    if not is_cluster(r):
        return r.info(section)
    per_node = r.info(section, target_nodes=redis.RedisCluster.PRIMARIES)
    totals: dict[str, Any] = {}
    for fields in per_node.values():
        for name, value in fields.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                totals[name] = totals.get(name, 0) + value
    return totals


def audit(
    r: Any,
    match: str = "*",
    *,
    count: int = 500,
    max_value_bytes: int = 100_000,
    max_elements: int = 10_000,
    progress: Callable[[int], None] | None = None,
) -> AuditReport:
    """Walk the keys matching ``match`` in SCAN batches of ``count`` and report on them.

    ``match`` is relative to the client's namespace: a workshop attendee audits its own keys.
    A user that may not SCAN gets a report that says so (``refused``) instead of an error,
    so a notebook cell shows the reason and the command line exits 2.
    """
    validate.whole(count, "count (keys per batch)", maximum=10_000)
    report = AuditReport(match=keys.plain(r, match))
    without_ttl: Counter = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    types: dict[str, Counter] = defaultdict(Counter)
    encodings: dict[str, Counter] = defaultdict(Counter)
    real = not is_fake(r)

    def inspect(names: list[str]) -> None:
        pipe = r.pipeline(transaction=False)
        for name in names:
            pipe.type(name)
            pipe.pttl(name)
            if real:
                pipe.memory_usage(name)
                pipe.object("encoding", name)
        answers = pipe.execute(raise_on_error=False)
        step = 4 if real else 2
        sizes = r.pipeline(transaction=False)
        typed = []
        for i, name in enumerate(names):
            kind, ttl = answers[i * step], answers[i * step + 1]
            if kind == "none" or isinstance(kind, Exception):
                continue  # expired or deleted since SCAN saw it
            prefix = prefix_of(name)
            types[prefix][kind] += 1
            if ttl == -1:
                without_ttl[prefix] += 1
                if len(examples[prefix]) < 3:
                    examples[prefix].append(name)
            if real and isinstance(answers[i * step + 3], str):
                encodings[prefix][answers[i * step + 3]] += 1
            memory = answers[i * step + 2] if real else None
            if isinstance(memory, int) and memory > max_value_bytes:
                report.big_keys.append(BigKey(name, kind, memory, "bytes (MEMORY USAGE)"))
            elif kind in SIZE_COMMANDS:
                sizes.execute_command(SIZE_COMMANDS[kind], name)
                typed.append((name, kind))
        for (name, kind), size in zip(typed, sizes.execute(raise_on_error=False) if typed else []):
            if not isinstance(size, int):
                continue
            if kind == "string" and size > max_value_bytes and not real:
                report.big_keys.append(BigKey(name, kind, size, "bytes (string length)"))
            elif kind != "string" and size > max_elements:
                report.big_keys.append(BigKey(name, kind, size, "elements"))
        report.scanned += len(names)
        report.batches += 1
        if progress:
            progress(report.scanned)

    try:
        for batch in scan_batches(r, keys.plain(r, match), count):
            inspect(batch)
    except redis.exceptions.NoPermissionError as error:
        report.refused = (f"this Redis user may not run {_refused_command(error)}, so the keys cannot be listed "
                          "(a workshop account: SCAN would show every attendee's key names); the host can run "
                          "`python -m patterns.workshop status`, or provision with --allow-scan")
        report.problems.append(report.refused)
        return report

    report.without_ttl = dict(without_ttl)
    report.examples = dict(examples)
    report.types = {p: dict(c) for p, c in types.items()}
    report.encodings = {p: dict(c) for p, c in encodings.items()}
    _server_facts(r, report)
    _judge(report, max_value_bytes)
    return report


def _refused_command(error: Exception) -> str:
    found = re.search(r"run the '([^']+)' command", str(error))
    return found.group(1).upper() if found else "SCAN"


def _judge(report: AuditReport, max_value_bytes: int) -> None:
    total_without = sum(report.without_ttl.values())
    for prefix, n in sorted(report.without_ttl.items()):
        report.problems.append(f"{n:,} key(s) under '{prefix}' have no TTL, e.g. {report.examples[prefix][0]!r}")
    for big in report.big_keys:
        limit = f"{max_value_bytes:,} bytes" if big.measure != "elements" else "the element limit"
        report.problems.append(f"big key {big.key!r}: {big.size:,} {big.measure}, over {limit}")
    policy = report.eviction_policy or ""
    if policy.startswith("volatile-") and total_without:
        report.problems.append(
            f"eviction policy {policy} evicts only keys with a TTL; {total_without:,} key(s) have none and can never "
            "be evicted: when memory fills, writes fail as with noeviction"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m patterns.audit", description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default=os.environ.get("REDIS_URL"),
                        help="the server to audit (default: REDIS_URL)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--max-value-bytes", type=int, default=100_000)
    parser.add_argument("--max-elements", type=int, default=10_000)
    parser.add_argument("--match", default="*", help="audit only keys matching this SCAN pattern")
    parser.add_argument("--count", type=int, default=500, help="keys per SCAN batch")
    args = parser.parse_args(argv)
    if not args.url:
        print("error: give the URL of the server to audit, or set REDIS_URL", file=sys.stderr)
        return 2
    return _cli.run(lambda: _audit_command(args))


def _audit_command(args: argparse.Namespace) -> int:
    show = _cli.progress("scanned {:,} keys…", enabled=None if not args.json else False)
    report = audit(connect(args.url), args.match, count=args.count, max_value_bytes=args.max_value_bytes,
                   max_elements=args.max_elements, progress=show)
    show.done()
    print(report.to_json() if args.json else report.table())
    return _cli.EXIT_FAILED if report.refused else 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
