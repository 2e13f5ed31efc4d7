"""The points a student drew on the compare page: one store per session, shared by every page's data picker.

The compare page's canvas writes them here (``store``); the live sections' data pickers
(``dashboard.shared.points_upload``) then offer "your drawing" beside their named sets and the CSV
upload, so a shape drawn once trains every family on every page. A drawing of at most ``LINK_POINTS``
points also travels in the page's link as ``?drawn=`` (``encode``: each coordinate rounded to 0.01 and
packed as two 16-bit integers, base64url), so an instructor can hand out the exact shape.
"""

from __future__ import annotations

import base64
from collections.abc import MutableMapping

import numpy as np

KEY = "drawn_points"  # session_state: the drawing, (n, 2) float64, or absent
LINK = "drawn"  # the URL parameter
LINK_POINTS = 600  # at most this many points go into a link (4 bytes each: about 3,200 characters)
SCALE = 100.0  # coordinates in steps of 0.01
LIMIT = 300.0  # |coordinate| <= 300 fits an int16 at that scale
MOST = 5000  # points a drawing keeps (the canvas stops there; a session's store is bounded by it)
MIN_POINTS = 64  # fewer leave under 16 held-out points (a quarter) to score the models on


def get(state: MutableMapping) -> np.ndarray | None:
    points = state.get(KEY)
    return None if points is None or len(points) < MIN_POINTS else points


def store(state: MutableMapping, points) -> None:
    array = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    state[KEY] = array[np.all(np.isfinite(array), axis=1)][:MOST]


def encode(points: np.ndarray) -> str | None:
    """The link's text for ``points``, or None when there are too many for a link."""
    if len(points) > LINK_POINTS:
        return None
    packed = np.round(np.clip(points, -LIMIT, LIMIT) * SCALE).astype("<i2")
    return base64.urlsafe_b64encode(packed.tobytes()).decode().rstrip("=")


def decode(text: str) -> np.ndarray | None:
    """Points from a link's text; None for anything that is not a drawing (the page shows a notice)."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        return None
    if len(raw) % 4 or not raw or len(raw) // 4 > LINK_POINTS:
        return None
    return np.frombuffer(raw, dtype="<i2").reshape(-1, 2).astype(np.float64) / SCALE
