"""The argument checks every engine module shares, with the messages students see."""

from __future__ import annotations

import math
import operator


def positive(value, name: str) -> float:
    """``value`` as a float, or ValueError unless it is finite and > 0 (std, bandwidth, lr, ...)."""
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def whole_number(value, name: str, minimum: int) -> int:
    """``value`` as an int, or ValueError unless it is a whole number >= ``minimum`` (counts, sizes).

    Integers of any kind (Python, numpy) and integral floats (``3.0``, what a number widget may give)
    pass; fractions, text and booleans (``True`` is an int to Python, never a count here) do not."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        try:
            number = int(value) if float(value).is_integer() else None
        except (TypeError, ValueError, OverflowError):
            number = None
        if number is None:
            raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return number
