"""Every error the patterns raise, under one base class.

Each message says what was wrong and what to do about it, so a learner (or an
on-call engineer reading a log) can act on it without opening the source.
"""
from __future__ import annotations


class PatternError(Exception):
    """Base class: catch this to handle any error raised by `patterns`."""


class BackendUnavailable(PatternError, ConnectionError):
    """The Redis server named by a URL could not be reached (or refused us)."""


class ValueTooLarge(PatternError, ValueError):
    """A value is over the size limit the caller set (the seed's 100 KB rule)."""


class NotSerializable(PatternError, TypeError):
    """A value cannot be stored as JSON (the workbook never uses pickle)."""


class LockNotAcquired(PatternError):
    """A lock was held by someone else and could not be taken in time."""


class LockUnavailable(LockNotAcquired):
    """Redis could not be reached to take a lock: it was not granted (and never is, unverified)."""


class LockLost(PatternError):
    """A lock's lease ran out before it was released or extended: someone else may have held it."""
