"""Checks of the numbers a user gives the fake (Python API, control API, CLI), in one place.

Every number that comes in, at every entry, goes through one of these: it must be a real number (not a bool, not
NaN, not an infinity) within its range, else :class:`ValueError` (or :class:`TypeError` for a value of the wrong
type) naming the parameter. The control API turns the error into a 400 naming the JSON field, the CLI into a
usage error naming the option.
"""

from __future__ import annotations

import math
import threading
from datetime import datetime, timedelta

MAX_DURATION_SECONDS = (datetime.max - datetime.min).total_seconds()
"""The longest span a datetime can move by (about 10,000 years): a longer duration reaches no date."""

MAX_TIMEOUT_SECONDS = float(threading.TIMEOUT_MAX)
"""The longest a thread can wait (about 292 years): timeouts, intervals and leases are at most this."""

MAX_INT64 = 2**63 - 1
"""The largest whole number a field takes (seeds, counts, steps): what a 64-bit integer holds."""


def finite(value: object, name: str, *, minimum: float | None = None, maximum: float | None = None,
           positive: bool = False) -> float:
    """``value`` as a float: a real number (int or float, not bool), finite, at least ``minimum`` (above 0 when
    ``positive``) and at most ``maximum``. ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number; got {_shown(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        raise ValueError(f"{name} is out of range; got {_shown(value)}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number; got {_shown(value)}")
    if positive and number <= 0:
        raise ValueError(f"{name} must be positive; got {_shown(value)}")
    if minimum is not None and number < minimum:
        if minimum == 0:
            raise ValueError(f"{name} must not be negative; got {_shown(value)}")
        raise ValueError(f"{name} must be at least {minimum:g}; got {_shown(value)}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be at most {maximum:g}; got {_shown(value)}")
    return number


def seconds(value: object, name: str, *, positive: bool = False, maximum: float = MAX_DURATION_SECONDS) -> float:
    """A duration given as a timedelta or a number of seconds, as seconds: finite, not negative (above 0 when
    ``positive``), at most ``maximum``."""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a timedelta or a number of seconds; got {_shown(value)}")
    return finite(value, name, minimum=0.0, maximum=maximum, positive=positive)


def duration(value: object, name: str, *, positive: bool = False, maximum: float = MAX_DURATION_SECONDS) -> timedelta:
    """Like :func:`seconds`, as a timedelta (a timedelta given is returned as it is)."""
    amount = seconds(value, name, positive=positive, maximum=maximum)
    return value if isinstance(value, timedelta) else timedelta(seconds=amount)


def timeout(value: object, name: str = "timeout") -> float | None:
    """A wait's timeout in seconds: None (no limit) or a finite number from 0 to :data:`MAX_TIMEOUT_SECONDS`."""
    if value is None:
        return None
    return seconds(value, name, maximum=MAX_TIMEOUT_SECONDS)


def whole(value: object, name: str, *, minimum: int = 0, maximum: int = MAX_INT64) -> int:
    """``value`` as an int from ``minimum`` to ``maximum`` (a float is taken when it is a whole number, as JSON
    numbers may be)."""
    if isinstance(value, float):
        finite(value, name)
        if not value.is_integer():
            raise ValueError(f"{name} must be a whole number; got {_shown(value)}")
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number; got {_shown(value)}")
    if not minimum <= value <= maximum:
        raise ValueError(f"{name} must be a whole number from {minimum} to {maximum}; got {_shown(value)}")
    return value


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
