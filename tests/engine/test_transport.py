"""engine.transport against scipy.stats.wasserstein_distance, linear programs and brute force."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from scipy.stats import wasserstein_distance

from engine.transport import parallel_lines, parallel_lines_divergences, sliced_wasserstein, wasserstein_samples

# Modest example counts keep the suite fast; no deadline because the first call pays imports.
# (A decorator, not a global profile, so other test modules keep their own settings.)
FEW = settings(max_examples=40, deadline=None)

# Both sides are exact algorithms in float64; 1e-12 covers summation-order rounding.
REL = 1e-12

samples = st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=30).map(np.array)


def _check_plan(t, n, m):
    assert t.rows.shape == t.cols.shape == t.mass.shape
    assert np.all(t.mass >= 0) and t.mass.sum() == pytest.approx(1.0, rel=1e-14)
    np.testing.assert_allclose(np.bincount(t.rows, t.mass, minlength=n), np.full(n, 1.0 / n), rtol=1e-12)
    np.testing.assert_allclose(np.bincount(t.cols, t.mass, minlength=m), np.full(m, 1.0 / m), rtol=1e-12)


@FEW
@given(samples, samples)
def test_1d_matches_scipy_equal_and_unequal_sizes(x, y):
    t = wasserstein_samples(x, y, 1)
    assert t.distance == pytest.approx(wasserstein_distance(x, y), rel=REL, abs=1e-9)
    _check_plan(t, x.size, y.size)
    # The plan's own cost is the reported distance.
    assert np.sum(t.mass * np.abs(x[t.rows] - y[t.cols])) == pytest.approx(t.distance, rel=REL, abs=1e-9)


def test_1d_fixed_seeds_equal_and_unequal():
    rng = np.random.default_rng(0)
    for n, m in [(50, 50), (37, 91), (1, 5)]:
        x, y = rng.normal(size=n), rng.exponential(size=m)
        assert wasserstein_samples(x, y).distance == pytest.approx(wasserstein_distance(x, y), rel=REL)


def _lp_w(x, y, order):
    """W_order by solving the transport linear program directly (reference for small sizes)."""
    n, m = len(x), len(y)
    cost = np.abs(x[:, None] - y[None, :]) ** order
    a_eq = np.vstack([np.kron(np.eye(n), np.ones(m)), np.kron(np.ones(n), np.eye(m))])
    b_eq = np.concatenate([np.full(n, 1.0 / n), np.full(m, 1.0 / m)])
    res = linprog(cost.ravel(), A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    return res.fun ** (1.0 / order)


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("n, m", [(4, 4), (3, 5), (6, 2)])
def test_1d_matches_linear_program(order, n, m):
    rng = np.random.default_rng(n * 10 + m)
    x, y = rng.normal(size=n), rng.normal(1.0, 2.0, size=m)
    t = wasserstein_samples(x, y, order)
    # HiGHS solves to ~1e-9 feasibility; that bounds the comparison, not our sort.
    assert t.distance == pytest.approx(_lp_w(x, y, order), rel=1e-8)
    _check_plan(t, n, m)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("n", [1, 2, 4, 6])
def test_2d_assignment_matches_brute_force(order, n):
    rng = np.random.default_rng(100 + n)
    x, y = rng.normal(size=(n, 2)), rng.normal(0.5, 1.0, size=(n, 2))
    cost = np.linalg.norm(x[:, None, :] - y[None, :, :], axis=2) ** order
    best = min(cost[np.arange(n), list(perm)].mean() for perm in itertools.permutations(range(n)))
    t = wasserstein_samples(x, y, order)
    assert t.distance == pytest.approx(best ** (1.0 / order), rel=REL)
    _check_plan(t, n, n)
    assert sorted(t.cols) == list(range(n))  # a permutation


def test_1d_and_2d_agree_on_a_line():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=30), rng.normal(size=30)
    flat = wasserstein_samples(x, y, 2).distance
    lifted = wasserstein_samples(np.column_stack([x, np.zeros(30)]), np.column_stack([y, np.zeros(30)]), 2)
    assert lifted.distance == pytest.approx(flat, rel=REL)


def test_shifted_samples():
    x = np.random.default_rng(1).normal(size=100)
    assert wasserstein_samples(x, x + 2.5, 1).distance == pytest.approx(2.5, rel=REL)
    assert wasserstein_samples(x, x + 2.5, 2).distance == pytest.approx(2.5, rel=REL)


@pytest.mark.parametrize("theta", [-2.0, 0.5, 1.0])
def test_parallel_lines_sample_w1_approaches_theta(theta):
    p0, pt = parallel_lines(theta, 400, 0)
    assert p0.shape == pt.shape == (400, 2)
    assert np.all(p0[:, 0] == 0.0) and np.all(pt[:, 0] == theta)
    d = wasserstein_samples(p0, pt, 1).distance
    # Every matched pair costs sqrt(theta^2 + dz^2) >= |theta|; with n = 400 the z-mismatch of
    # the optimal matching is ~1/sqrt(n) at worst, so the excess is < dz^2 / (2|theta|) < 0.01.
    assert abs(theta) - 1e-12 <= d <= abs(theta) + 0.01


def test_parallel_lines_same_segment_is_near_zero():
    p0, p1 = parallel_lines(0.0, 400, 3)
    assert wasserstein_samples(p0, p1, 1).distance < 0.1  # empirical W1 on [0,1] ~ 1/sqrt(n)


def test_parallel_lines_deterministic():
    a, b = parallel_lines(1.0, 10, 42)
    c, d = parallel_lines(1.0, 10, np.random.default_rng(42))
    assert np.array_equal(a, c) and np.array_equal(b, d)
    assert not np.array_equal(a[:, 1], b[:, 1])  # independent draws for the two segments


def test_parallel_lines_divergences_exact_values():
    d = parallel_lines_divergences(0.7)
    assert (d.kl_pq, d.kl_qp, d.js, d.tv, d.w1, d.w2) == (math.inf, math.inf, math.log(2), 1.0, 0.7, 0.7)
    assert parallel_lines_divergences(-0.3).w1 == 0.3
    z = parallel_lines_divergences(0.0)
    assert (z.kl_pq, z.kl_qp, z.js, z.tv, z.w1, z.w2) == (0.0,) * 6


@pytest.mark.parametrize(
    "x, y, order, message",
    [
        ([], [1.0], 1, "x is empty"),
        ([1.0], np.empty((0, 2)), 1, "y is empty"),
        ([1.0, np.nan], [1.0], 1, "NaN or inf"),
        ([1.0], [np.inf], 1, "NaN or inf"),
        (np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), 1, "must be 1D"),
        (np.zeros((3, 2)), np.zeros((4, 2)), 1, "equal sizes"),
        (np.zeros((3, 2)), np.zeros((3, 3)), 1, "same dimension"),
        (np.zeros(3), np.zeros((3, 1)), 1, "both be 1D"),
        ([1.0], [2.0], 0.5, "order must be"),
        ([1.0], [2.0], "two", "order must be"),
        (["a"], [2.0], 1, "array of numbers"),
    ],
)
def test_invalid_inputs(x, y, order, message):
    with pytest.raises(ValueError, match=message):
        wasserstein_samples(x, y, order)


def test_invalid_parallel_lines_arguments():
    with pytest.raises(ValueError):
        parallel_lines(1.0, 0, 0)
    with pytest.raises(ValueError):
        parallel_lines(float("nan"), 10, 0)
    with pytest.raises(ValueError):
        parallel_lines_divergences(float("inf"))


# ---------------------------------------------------------------- sliced Wasserstein
def test_sliced_wasserstein_in_1d_is_exact_w_p():
    # On a line every direction is +-1 and W_p is symmetric under reflection: SW_p = W_p exactly.
    rng = np.random.default_rng(7)
    for n, m in [(40, 40), (37, 91)]:
        x, y = rng.normal(size=n), rng.exponential(size=m)
        for p in (1, 2, 3):
            assert sliced_wasserstein(x, y, 5, p, rng=0) == pytest.approx(wasserstein_samples(x, y, p).distance,
                                                                          rel=REL)


def test_sliced_wasserstein_of_a_shift_in_2d():
    # x vs x + v: every projection is shifted by <v, theta>, so SW_p^p = mean |<v, theta>|^p.
    # Over uniform directions in 2D: E <v, theta>^2 = |v|^2 / 2 and E |<v, theta>| = 2 |v| / pi.
    # 20,000 directions: Monte Carlo error ~0.5% (std of <v, theta>^2 / |v|^2 is 0.35 / sqrt(20000)).
    x = np.random.default_rng(1).normal(size=(300, 2))
    v = np.array([3.0, 4.0])
    assert sliced_wasserstein(x, x + v, 20_000, 2, rng=2) == pytest.approx(5.0 / math.sqrt(2.0), rel=0.01)
    assert sliced_wasserstein(x, x + v, 20_000, 1, rng=2) == pytest.approx(10.0 / math.pi, rel=0.01)


def test_sliced_wasserstein_sizes_symmetry_scale_and_bounds():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(60, 2)), rng.normal(1.0, 2.0, size=(60, 2))
    assert sliced_wasserstein(x, x, 50, rng=0) == 0.0
    assert sliced_wasserstein(x, np.vstack([x, x, x]), 50, rng=0) == pytest.approx(0.0, abs=1e-12)  # unequal sizes
    d = sliced_wasserstein(x, y, 50, rng=0)
    assert sliced_wasserstein(y, x, 50, rng=0) == pytest.approx(d, rel=REL)
    assert sliced_wasserstein(2.5 * x, 2.5 * y, 50, rng=0) == pytest.approx(2.5 * d, rel=REL)
    # Projections are 1-Lipschitz, so every slice costs at most the full transport: SW_2 <= W_2.
    assert d <= wasserstein_samples(x, y, 2).distance + 1e-12
    # Unequal sizes against the exact 1D solver on one direction (the first the rng draws).
    z = rng.normal(size=(25, 2))
    theta = np.random.default_rng(9).standard_normal((1, 2))
    theta /= np.linalg.norm(theta)
    exact = wasserstein_samples(x @ theta[0], z @ theta[0], 2).distance
    assert sliced_wasserstein(x, z, 1, 2, rng=9) == pytest.approx(exact, rel=REL)
    for bad in (dict(n_directions=0), dict(p=0.5), dict(n_directions=2.5)):
        with pytest.raises(ValueError):
            sliced_wasserstein(x, y, **{"n_directions": 10, **bad})
    with pytest.raises(ValueError):
        sliced_wasserstein(x, rng.normal(size=(5, 3)))
