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
    """``value`` as an int, or ValueError unless it is an integer >= ``minimum`` (counts, sizes)."""
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value
