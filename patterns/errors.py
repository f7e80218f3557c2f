"""Every error the patterns raise, under one base class.

Each message says what was wrong and what to do about it, so a learner (or an
on-call engineer reading a log) can act on it without opening the source.
"""
from __future__ import annotations

import redis


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


class ReplyLost(PatternError, redis.exceptions.ConnectionError):
    """The connection failed after a command was sent, before its reply arrived.

    The command may or may not have run on the server, so it is not sent again: a resent
    rate-limit hit would count twice, a resent release would report a lost lease. Patterns
    that can degrade treat it like an unreachable server; the others raise it.
    """


class ReplyTimeout(ReplyLost, redis.exceptions.TimeoutError):
    """No reply within the socket timeout, after the command was sent (it may have run)."""
