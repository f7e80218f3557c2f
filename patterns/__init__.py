"""Redis patterns, done right: one small module per technique.

    import patterns
    r = patterns.connect()        # fakeredis unless REDIS_URL is set
    patterns.describe(r)

Every function takes the client as its first argument; nothing is global.
"""
from __future__ import annotations

from .cache import Cache, CacheStats, get_or_set, invalidate
from .connection import connect, describe, is_cluster, is_fake
from .namespace import reset
from .errors import BackendUnavailable, NotSerializable, PatternError, ValueTooLarge
from .trace import trace

__all__ = [
    "BackendUnavailable",
    "Cache",
    "CacheStats",
    "NotSerializable",
    "PatternError",
    "ValueTooLarge",
    "connect",
    "describe",
    "get_or_set",
    "invalidate",
    "is_cluster",
    "is_fake",
    "reset",
    "trace",
]
