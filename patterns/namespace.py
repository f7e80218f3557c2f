"""Start again: remove every key of one namespace, and nothing outside it.

    patterns.reset(r)                                        # in a notebook: your own keys
    python -m patterns.workshop reset ADMIN_URL attendee-07  # the host, for one attendee

For a learner whose labs left a key space in a state they no longer understand. It walks the
namespace with SCAN (``<namespace>:*``, ``count`` names at a time, never KEYS, so a big key
space does not stall the server) and removes each batch with UNLINK, which frees the memory
in the background. Only names that start with ``<namespace>:`` are removed, whatever SCAN
returns. The workshop's progress records (``patterns.progress``) stay unless asked: they are
the host's view of what the attendee has done, and a fresh start does not undo it.

Without a namespace the whole key space would be "yours" only on the embedded server, so a
real server without a namespace is refused: the keys there may be anyone's.
"""
from __future__ import annotations

from typing import Any

import redis

from . import keys
from .scan import scan_batches
from .connection import describe, is_fake
from .errors import PatternError
from .progress import EXERCISES, key_for

HOST_COMMAND = "python -m patterns.workshop reset ADMIN_URL {namespace}"


def reset(r: Any, *, keep_progress: bool = True, count: int = 500) -> int:
    """Remove every key in ``r``'s namespace (the workshop's progress records kept); how many."""
    namespace = keys.namespace_of(r)
    if not namespace and not is_fake(r):
        raise PatternError(f"reset needs a namespace on a real server ({describe(r)}): without one it would "
                           "remove every key there, anyone's; connect with namespace=... (or WORKBOOK_NAMESPACE)")
    prefix = f"{namespace}:" if namespace else ""
    kept = {key_for(r, exercise.id) for exercise in EXERCISES} if keep_progress else set()
    removed = 0
    try:
        for names in scan_batches(r, keys.pattern(r), count, once=True):
            mine = [name for name in names if name.startswith(prefix) and name not in kept]
            if mine:
                removed += int(r.unlink(*mine))  # on a cluster, redis-py sends one UNLINK per slot
    except redis.exceptions.NoPermissionError:
        raise PatternError(
            f"your user may not run SCAN, so it cannot find your keys (a workshop attendee sees no key names, "
            f"so nobody can read another's): ask the host to run {HOST_COMMAND.format(namespace=namespace)}"
        ) from None
    return removed

