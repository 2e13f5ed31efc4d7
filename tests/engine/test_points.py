"""engine.data.points: every error code from a hand-made CSV, good files with and without a header, standardize."""

import numpy as np
import pytest

from engine.data.points import (
    MAX_BYTES,
    MAX_POINTS,
    MIN_POINTS,
    VIEW_HALF_WIDTH,
    PointsError,
    parse_points_csv,
    standardize,
)

ROWS = [(i * 0.5, -i + 0.25) for i in range(12)]
GOOD = "\n".join(f"{a},{b}" for a, b in ROWS).encode()


def _code(data: bytes) -> PointsError:
    with pytest.raises(PointsError) as info:
        parse_points_csv(data)
    return info.value


def test_good_csv_with_and_without_header():
    expected = np.array(ROWS)
    np.testing.assert_array_equal(parse_points_csv(GOOD), expected)
    np.testing.assert_array_equal(parse_points_csv(b"x,y\n" + GOOD), expected)
    # BOM, semicolons, spaces, blank lines and a trailing newline are fine too.
    text = "\ufeffx ; y\n\n" + "\n".join(f" {a} ; {b} " for a, b in ROWS) + "\n\n"
    np.testing.assert_array_equal(parse_points_csv(text.encode()), expected)
    tabbed = "\n".join(f"{a}\t{b}" for a, b in ROWS).encode()
    np.testing.assert_array_equal(parse_points_csv(tabbed), expected)
    assert parse_points_csv(GOOD).dtype == np.float64


@pytest.mark.parametrize("data, code, detail", [
    (b"x" * (MAX_BYTES + 1), "too_large", {"size": MAX_BYTES + 1, "limit": MAX_BYTES}),
    (b"1,2\n\xff\xfe,3\n", "encoding", {}),
    (b"", "empty", {}),
    (b"x,y\n\n", "empty", {}),
    (GOOD + b"\n1,2,3", "columns", {"line": 13, "found": 3, "expected": 2}),
    (b"x,y\n1\n" + GOOD, "columns", {"line": 2, "found": 1, "expected": 2}),
    (b"1,2\n3,abc\n" + GOOD, "not_numeric", {"line": 2, "value": "abc"}),
    (b"1,2\n3,nan\n" + GOOD, "non_finite", {"line": 2, "value": "nan"}),
    (b"1,2\n-inf,4\n" + GOOD, "non_finite", {"line": 2, "value": "-inf"}),
    (b"x,y\n1,2\n3,4\n", "too_few", {"count": 2, "minimum": MIN_POINTS}),
    (b"1,1\n" * (MAX_POINTS + 1), "too_many", {"count": MAX_POINTS + 1, "maximum": MAX_POINTS}),
])
def test_each_error_code(data, code, detail):
    err = _code(data)
    assert err.code == code and err.detail == detail
    assert all(isinstance(v, str | int | float) for v in err.detail.values())  # message placeholders


def test_a_header_is_only_two_names():
    # "x,1" is neither a header (one field is a number) nor a point.
    assert _code(b"x,1\n" + GOOD).code == "not_numeric"


def test_standardize_properties():
    rng = np.random.default_rng(0)
    x = rng.normal([30.0, -7.0], [5.0, 0.5], size=(400, 2))
    s = standardize(x)
    np.testing.assert_allclose(s.mean(axis=0), 0.0, atol=1e-12)  # centred
    assert np.max(np.abs(s)) == pytest.approx(0.9 * VIEW_HALF_WIDTH, rel=1e-12)  # fits the +-4 view
    # One scale factor for both axes: the shape (aspect ratio, correlations) is kept.
    ratio = s.std(axis=0) / x.std(axis=0)
    assert ratio[0] == pytest.approx(ratio[1], rel=1e-12)
    np.testing.assert_allclose(standardize(3.0 * x + 11.0), s, atol=1e-12)  # affine-invariant
    with pytest.raises(PointsError) as info:
        standardize(np.ones((20, 2)))
    assert info.value.code == "degenerate"
    with pytest.raises(ValueError):
        standardize(np.array([[np.nan, 1.0]]))
