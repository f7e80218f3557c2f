"""Small helpers shared by the test modules."""
from __future__ import annotations

import time
from typing import Any, Callable


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def all_keys(r: Any, match: str = "*") -> list[str]:
    """Every key matching ``match``, seen by an admin: a workshop attendee may not SCAN itself."""
    return sorted(getattr(r, "admin", r).scan_iter(match))
