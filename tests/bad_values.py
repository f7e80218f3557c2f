"""Hypothesis strategies for arguments that must be refused, shared by every module's tests.

One strategy per kind of argument. Each draws only values that are wrong for that kind:
the wrong type, ``bool`` where a number is wanted (``True`` is an ``int`` in Python), NaN,
infinities, zero, negatives, durations finer than Redis's millisecond, empty text, and
numbers past a stated maximum.
"""
from __future__ import annotations

import math

from hypothesis import strategies as st

NOT_NUMBERS = ["1", b"1", [1], {"s": 1}, object()]
NOT_FINITE = [math.nan, math.inf, -math.inf]
BOOLS = [True, False]


def seconds(*, zero: bool = False, none: bool = False) -> st.SearchStrategy:
    """Wrong for a duration in seconds (``zero``: 0 is allowed; ``none``: None is allowed)."""
    fixed = NOT_NUMBERS + NOT_FINITE + BOOLS + ([] if zero else [0, 0.0]) + ([] if none else [None])
    return st.one_of(
        st.sampled_from(fixed),
        st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False),  # negative
        st.floats(min_value=1e-12, max_value=0.000999, allow_nan=False),  # finer than 1 ms
        st.integers(max_value=-1),
    )


def milliseconds() -> st.SearchStrategy:
    """Wrong for a duration in whole milliseconds (the seed's ttlMs)."""
    return st.one_of(
        st.sampled_from(NOT_NUMBERS + NOT_FINITE + BOOLS + [None, 0, 0.0]),
        st.floats(min_value=1e-9, max_value=0.999, allow_nan=False),
        st.integers(max_value=-1),
    )


def whole(*, minimum: int = 1, maximum: int | None = None, none: bool = False) -> st.SearchStrategy:
    """Wrong for a whole number in [minimum, maximum]."""
    parts = [
        st.sampled_from(NOT_NUMBERS + NOT_FINITE + BOOLS + [1.5, 2.0] + ([] if none else [None])),
        st.integers(max_value=minimum - 1),
    ]
    if maximum is not None:
        parts.append(st.integers(min_value=maximum + 1, max_value=maximum * 1000 + 1000))
    return st.one_of(*parts)


def number() -> st.SearchStrategy:
    """Wrong for any finite number (a score, a weight)."""
    return st.sampled_from(NOT_NUMBERS + NOT_FINITE + BOOLS + [None])


def fraction() -> st.SearchStrategy:
    """Wrong for a fraction in [0, 1)."""
    return st.one_of(
        st.sampled_from(NOT_NUMBERS + NOT_FINITE + BOOLS + [None, 1, 1.0]),
        st.floats(min_value=1.0, max_value=1e6, allow_nan=False),
        st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False),
    )


def name() -> st.SearchStrategy:
    """Wrong for a name (a key, a member, a user id, a channel): not a non-empty str."""
    return st.sampled_from(["", None, 42, 4.2, b"name", ["name"], True])
