"""Argument checks every module shares: one set of rules, one wording.

A bad argument must fail here, before anything reaches Redis, with a message that names
the argument, says what it must be and shows what it got. Wrong types (a ``str``, or a
``bool`` where a number is wanted: ``True`` is an ``int`` in Python) raise ``TypeError``;
values of the right type that cannot work (NaN, infinity, zero, negative, finer than Redis
can express, empty, too large) raise ``ValueError``.

Durations are seconds in Python and milliseconds in Redis (``PX``, ``PEXPIRE``): a duration
below one millisecond would reach Redis as 0, which means "no TTL", "expire now" or "block
forever" depending on the command, so it is refused.
"""
from __future__ import annotations

import math
from typing import Any

MILLISECOND = 0.001
# The longest duration any argument may have: a century. Longer is a mistake, and Redis refuses
# a PEXPIRE past its integer range only after a script's earlier writes (which stay).
MAX_SECONDS = 100 * 365 * 86400.0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number(value: Any, name: str, *, minimum: float | None = None, maximum: float | None = None,
           above: float | None = None, below: float | None = None, unit: str = "") -> float:
    """A finite number within the given bounds (``minimum``/``maximum`` inclusive, ``above``/``below`` not)."""
    what = f"a number{f' of {unit}' if unit else ''}"
    if not _is_number(value):
        raise TypeError(f"{name} must be {what}, got {value!r} ({type(value).__name__})")
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{name} must be a finite number{f' of {unit}' if unit else ''}, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum:g}{f' {unit}' if unit else ''}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum:g}{f' {unit}' if unit else ''}, got {value!r}")
    if above is not None and not value > above:
        raise ValueError(f"{name} must be more than {above:g}{f' {unit}' if unit else ''}, got {value!r}")
    if below is not None and not value < below:
        raise ValueError(f"{name} must be less than {below:g}{f' {unit}' if unit else ''}, got {value!r}")
    return float(value)


def seconds(value: Any, name: str, *, zero: bool = False, maximum: float = MAX_SECONDS) -> float:
    """A duration in seconds that Redis can express: finite, and 0 (when ``zero``) or at least 1 ms."""
    if not _is_number(value):
        raise TypeError(f"{name} must be a {'' if zero else 'positive '}number of seconds, "
                        f"got {value!r} ({type(value).__name__})")
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not zero):
        raise ValueError(f"{name} must be {'>= 0' if zero else 'a positive number of'} seconds, got {value!r}")
    if 0 < value < MILLISECOND:
        raise ValueError(f"{name} must be at least 0.001 seconds (1 ms, the finest unit Redis expires or "
                         f"blocks in){' or 0' if zero else ''}, got {value!r}")
    if value > maximum:
        raise ValueError(f"{name} must be at most {maximum:g} seconds, got {value!r}")
    return float(value)


def optional_seconds(value: Any, name: str, **options: Any) -> float | None:
    """``seconds()``, or None where None means "no limit" (no TTL, no blocking)."""
    return None if value is None else seconds(value, name, **options)


def milliseconds(value: Any, name: str) -> int:
    """A duration in whole milliseconds of at least 1 (the seed's ``ttlMs``)."""
    if not _is_number(value):
        raise TypeError(f"{name} must be a number of milliseconds, got {value!r} ({type(value).__name__})")
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{name} must be a finite number of milliseconds, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1 millisecond (Redis cannot express less), got {value!r}")
    return int(value)


def whole(value: Any, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """A whole number (an ``int``, never a ``bool`` or a ``float``) within bounds."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum:,}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be a whole number of at most {maximum:,}, got {value!r}")
    return value


def text(value: Any, name: str, *, max_length: int | None = None) -> str:
    """A non-empty ``str`` that is not only whitespace."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {value!r} ({type(value).__name__})")
    if not value.strip():
        raise ValueError(f"{name} must not be empty, got {value!r}")
    if max_length is not None and len(value) > max_length:
        raise ValueError(f"{name} must be at most {max_length:,} characters, got {len(value):,}")
    return value


def function(value: Any, name: str, takes: str) -> Any:
    """A callable: the message says what it is called with."""
    if not callable(value):
        raise TypeError(f"{name} must be a function taking {takes}, got {value!r}")
    return value


def choice(value: Any, name: str, options: tuple[Any, ...]) -> Any:
    """One of ``options``."""
    if value not in options:
        shown = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} must be one of {shown}, got {value!r}")
    return value
