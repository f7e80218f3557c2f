"""What every benchmark here measures: operations per second and round trips per operation."""
from __future__ import annotations

import time
from typing import Any, Callable

from patterns.trace import trace


def measure(operation: Callable[[str], Any], count: int, names: int) -> tuple[float, float]:
    """(operations per second, round trips per operation) for ``operation(name)`` over ``names`` names.

    A warm-up pass first (scripts loaded, connections open), so neither side pays set-up costs.
    """
    for i in range(names):
        operation(f"name-{i}")
    with trace() as t:
        started = time.perf_counter()
        for i in range(count):
            operation(f"name-{i % names}")
        elapsed = time.perf_counter() - started
    return count / elapsed, t.round_trips / count
