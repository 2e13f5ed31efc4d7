"""Uploaded 2D point sets: parse and validate a CSV of two numeric columns, then standardise.

    from engine.data.points import parse_points_csv, standardize, PointsError

    try:
        points = standardize(parse_points_csv(uploaded.getvalue()))   # (N, 2) float64
    except PointsError as err:
        st.error(t(f"gan_live.csv.{err.code}", **err.detail))          # the page translates codes

Accepted: UTF-8 text (a BOM is allowed), comma-separated (semicolons and tabs too), exactly two
columns per row, an optional header row of non-numeric names first, blank lines ignored.
Errors carry a machine-readable ``code`` and primitive ``detail`` values for the message's
placeholders (``line`` is 1-based, as a text editor counts):

    code          detail                         when
    too_large     size, limit (bytes)            the file is over MAX_BYTES
    encoding      -                              not UTF-8 text
    empty         -                              no rows (after a header, if any)
    columns       line, found, expected          a row without exactly two fields
    not_numeric   line, value                    a field that is not a number
    non_finite    line, value                    nan / inf
    too_few       count, minimum                 fewer than MIN_POINTS rows
    too_many      count, maximum                 more than MAX_POINTS rows
    degenerate    -                              all points equal (nothing to standardise)
"""

from __future__ import annotations

import csv
import math

import numpy as np

MAX_BYTES = 2_000_000  # ~100k short rows: bigger files are not point clouds to draw live
MIN_POINTS = 10  # fewer points are not a distribution to learn
MAX_POINTS = 50_000  # minibatches are drawn from memory; more adds nothing a student can see
VIEW_HALF_WIDTH = 4.0  # standardize maps into [-4, 4], the view GAN Lab uses
_DELIMITERS = ",;\t"


class PointsError(ValueError):
    """A bad upload: ``code`` (module docstring) and ``detail`` for the translated message."""

    def __init__(self, code: str, **detail):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code, self.detail = code, detail


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_points_csv(data: bytes) -> np.ndarray:
    """The (N, 2) float64 points of a CSV upload, or PointsError (module docstring)."""
    if len(data) > MAX_BYTES:
        raise PointsError("too_large", size=len(data), limit=MAX_BYTES)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PointsError("encoding") from None
    lines = text.splitlines()
    sample = next((ln for ln in lines if ln.strip()), "")
    delimiter = max(_DELIMITERS, key=sample.count) if any(d in sample for d in _DELIMITERS) else ","
    rows = [(i + 1, [f.strip() for f in row]) for i, row in enumerate(csv.reader(lines, delimiter=delimiter))
            if any(f.strip() for f in row)]
    if rows and len(rows[0][1]) == 2 and all(_number(f) is None for f in rows[0][1]):
        rows = rows[1:]  # a header: two names
    if not rows:
        raise PointsError("empty")
    points = np.empty((len(rows), 2))
    for k, (line, fields) in enumerate(rows):
        if len(fields) != 2:
            raise PointsError("columns", line=line, found=len(fields), expected=2)
        for j, field in enumerate(fields):
            value = _number(field)
            if value is None:
                raise PointsError("not_numeric", line=line, value=field[:40])
            if not math.isfinite(value):
                raise PointsError("non_finite", line=line, value=field[:40])
            points[k, j] = value
    if len(points) < MIN_POINTS:
        raise PointsError("too_few", count=len(points), minimum=MIN_POINTS)
    if len(points) > MAX_POINTS:
        raise PointsError("too_many", count=len(points), maximum=MAX_POINTS)
    return points


def standardize(points) -> np.ndarray:
    """Points centred on their mean and scaled by one factor (the aspect ratio kept) so that the
    farthest point sits at 0.9 * VIEW_HALF_WIDTH in the max norm: the whole set fits the +-4 view
    with a margin. Raises PointsError("degenerate") when every point is the same."""
    x = np.asarray(points, dtype=float)
    if x.ndim != 2 or x.shape[1] != 2 or len(x) == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"points must be a finite non-empty (N, 2) array, got shape {x.shape}")
    centred = x - x.mean(axis=0)
    reach = float(np.max(np.abs(centred)))
    if reach == 0.0:
        raise PointsError("degenerate")
    return centred * (0.9 * VIEW_HALF_WIDTH / reach)
