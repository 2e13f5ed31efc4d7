"""Numbers of engine.distributions against scipy.stats, closed forms and invariants."""

import dataclasses
import math
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from scipy.special import logsumexp

from engine.distributions import Mixture, Normal, Uniform, shifted, two_normal_mixture

# Reference values from scipy agree with ours to rounding; 1e-12 relative leaves room for the
# few ulps that different (but correct) formula orderings produce.
RTOL = 1e-12

MIX = Mixture((Normal(-2.0, 0.7), Normal(0.5, 1.2), Normal(3.0, 0.4)), (0.3, 0.5, 0.2))
MIX_U = Mixture((Normal(0.0, 1.0), Uniform(-1.0, 2.0)), (0.6, 0.4))
GAP = Mixture((Uniform(0.0, 1.0), Uniform(2.0, 3.0)), (0.5, 0.5))
NESTED = Mixture((MIX_U, Normal(4.0, 0.5)), (0.7, 0.3))
ALL = [Normal(1.0, 2.0), Uniform(-1.0, 3.0), MIX, MIX_U, GAP, NESTED]

finite = st.floats(-1e3, 1e3)
positive = st.floats(1e-2, 1e2)
# Modest example counts keep the suite fast; no deadline because the first call pays imports.
# (A decorator, not a global profile, so other test modules keep their own settings.)
FEW = settings(max_examples=40, deadline=None)


def test_normal_matches_scipy():
    d, ref = Normal(1.5, 0.3), stats.norm(1.5, 0.3)
    x = np.linspace(-7.5, 10.5, 301)  # out to 30 std: deep tails, but no subnormal densities
    np.testing.assert_allclose(d.pdf(x), ref.pdf(x), rtol=RTOL, atol=0)
    np.testing.assert_allclose(d.logpdf(x), ref.logpdf(x), rtol=RTOL)
    np.testing.assert_allclose(d.cdf(x), ref.cdf(x), rtol=RTOL, atol=0)
    np.testing.assert_allclose(d.sf(x), ref.sf(x), rtol=RTOL, atol=0)
    u = np.linspace(0.0, 1.0, 101)
    np.testing.assert_allclose(d.ppf(u), ref.ppf(u), rtol=RTOL)
    assert d.ppf(0.0) == -math.inf and d.ppf(1.0) == math.inf


def test_sf_is_accurate_in_the_upper_tail():
    # 1 - cdf would be exactly 0 here; the survival function must keep full relative precision.
    assert Normal(0.0, 1.0).sf(30.0) == pytest.approx(stats.norm.sf(30.0), rel=RTOL)
    assert Normal(0.0, 1.0).sf(30.0) > 0
    comps = [(0.3, -2.0, 0.7), (0.5, 0.5, 1.2), (0.2, 3.0, 0.4)]
    expected = sum(w * stats.norm.sf(12.0, m, s) for w, m, s in comps)
    assert MIX.sf(12.0) == pytest.approx(expected, rel=RTOL) and expected < 1e-16


def test_uniform_matches_scipy():
    d, ref = Uniform(-1.0, 3.0), stats.uniform(-1.0, 4.0)
    x = np.linspace(-2.0, 4.0, 241)
    np.testing.assert_allclose(d.pdf(x), ref.pdf(x), rtol=RTOL, atol=0)
    np.testing.assert_allclose(d.cdf(x), ref.cdf(x), rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(d.sf(x), ref.sf(x), rtol=RTOL, atol=1e-15)
    u = np.linspace(0.0, 1.0, 101)
    np.testing.assert_allclose(d.ppf(u), ref.ppf(u), rtol=RTOL, atol=1e-15)
    assert (d.mean, d.var) == (ref.mean(), pytest.approx(ref.var(), rel=RTOL))


@pytest.mark.parametrize("d", ALL, ids=repr)
def test_logpdf_is_never_nan_and_minus_inf_off_support(d):
    x = np.array([-np.inf, -1e150, -50.0, -1.0, 0.0, 0.5, 1.5, 2.5, 50.0, 1e150, np.inf])
    lp = d.logpdf(x)
    assert not np.any(np.isnan(lp))
    for xi, li in zip(x, lp):
        inside = any(lo <= xi <= hi for lo, hi in d.support_intervals())
        assert (li > -np.inf) == (inside and np.isfinite(xi))


def test_mixture_logpdf_is_finite_where_pdf_underflows():
    x = 60.0  # exp(-0.5 * 60^2) underflows to 0; the log-sum-exp must not
    assert MIX.pdf(x) == 0.0
    comps = [(0.3, -2.0, 0.7), (0.5, 0.5, 1.2), (0.2, 3.0, 0.4)]
    expected = logsumexp([math.log(w) + stats.norm.logpdf(x, m, s) for w, m, s in comps])
    assert MIX.logpdf(x) == pytest.approx(expected, rel=RTOL)


@pytest.mark.parametrize("d", [MIX, MIX_U, NESTED], ids=repr)
def test_mixture_pdf_cdf_are_weighted_sums(d):
    x = np.linspace(-6.0, 7.0, 131)
    pdf = sum(w * c.pdf(x) for c, w in zip(d.components, d.weights))
    cdf = sum(w * c.cdf(x) for c, w in zip(d.components, d.weights))
    np.testing.assert_allclose(d.pdf(x), pdf, rtol=RTOL, atol=0)
    np.testing.assert_allclose(np.exp(d.logpdf(x)), pdf, rtol=1e-12, atol=0)
    np.testing.assert_allclose(d.cdf(x), cdf, rtol=RTOL, atol=1e-16)
    np.testing.assert_allclose(d.sf(x), 1.0 - cdf, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("d", ALL, ids=repr)
def test_mean_and_var_by_quadrature(d):
    # Independent of the law of total variance: integrate x p(x) and x^2 p(x) with quad.
    pts = d.breakpoints()
    m1 = sum(integrate.quad(lambda x: x * d.pdf(x), a, b, epsrel=1e-13)[0] for a, b in pairwise(pts))
    m2 = sum(integrate.quad(lambda x: (x - m1) ** 2 * d.pdf(x), a, b, epsrel=1e-13)[0]
             for a, b in pairwise(pts))
    # Breakpoints reach +-12 std; the mass outside is ~1e-33, so 1e-10 is quad's accuracy, not ours.
    assert d.mean == pytest.approx(m1, rel=1e-10, abs=1e-12)
    assert d.var == pytest.approx(m2, rel=1e-10)


def test_two_normal_mixture_closed_form_moments():
    d = two_normal_mixture(center=1.0, scale=0.5, weight=0.3, separation=4.0)
    assert d.components == (Normal(-1.0, 0.5), Normal(3.0, 0.5)) and d.weights == (0.3, 0.7)
    assert d.mean == pytest.approx(0.3 * -1.0 + 0.7 * 3.0, rel=RTOL)
    assert d.var == pytest.approx(0.25 + 0.3 * 0.7 * 16.0, rel=RTOL)  # s^2 + w (1 - w) sep^2


@pytest.mark.parametrize("d", ALL, ids=repr)
def test_sample_moments_match(d):
    n = 200_000
    x = d.sample(n, 12345)
    assert x.shape == (n,) and x.dtype == np.float64
    # 5 standard errors: with the seed fixed this is deterministic; 5 SE would fail by chance
    # with probability ~6e-7 for a fresh seed. SE of the variance uses the sample 4th moment.
    se_mean = math.sqrt(d.var / n)
    se_var = math.sqrt(np.mean((x - d.mean) ** 4) - d.var**2) / math.sqrt(n)
    assert abs(x.mean() - d.mean) < 5 * se_mean
    assert abs(x.var() - d.var) < 5 * se_var


def test_mixture_samples_follow_the_cdf():
    x = NESTED.sample(20_000, np.random.default_rng(7))
    # A wrong component choice shifts whole chunks of mass and gives p ~ 0; 1e-3 is a loose bar
    # for a correct sampler with a fixed seed.
    assert stats.kstest(x, NESTED.cdf).pvalue > 1e-3


def test_sampling_is_deterministic():
    assert np.array_equal(MIX.sample(50, 3), MIX.sample(50, 3))
    assert not np.array_equal(MIX.sample(50, 3), MIX.sample(50, 4))
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    assert np.array_equal(MIX.sample(10, g1), MIX.sample(10, g2))
    assert MIX.sample(0, 1).shape == (0,)


@FEW
@given(
    st.lists(st.tuples(finite, positive), min_size=1, max_size=4),
    st.lists(st.floats(0.05, 1.0), min_size=4, max_size=4),
    st.floats(-4.0, 4.0),
)
def test_mixture_ppf_inverts_cdf(params, raw_w, z):
    comps = tuple(Normal(m, s) for m, s in params)
    w = np.array(raw_w[: len(comps)]) / sum(raw_w[: len(comps)])
    d = Mixture(comps, tuple(w))
    x = d.mean + z * math.sqrt(d.var)
    u = d.cdf(x)
    # Where the density is tiny relative to F, the quantile is ill-conditioned: dx = dF / f.
    # Test the round trip where the conditioning allows 1e-12 relative, and F itself everywhere.
    if 1e-6 < u < 1 - 1e-6 and d.pdf(x) * math.sqrt(d.var) > 1e-3:
        assert d.ppf(u) == pytest.approx(x, rel=1e-12, abs=1e-12 * math.sqrt(d.var))
    # ppf solves to its documented bracket, 4e-14 |x| + 1e-14 sd (engine.quadrature.solve_increasing), so F
    # round-trips to 1e-12 relative plus what that bracket is worth in F: far from 0 (a component at
    # x = 321), 4e-14 |x| is ~1e-11 and F moves by f(x) times it (hypothesis found 1.4e-12 there).
    bracket = 4e-14 * abs(x) + 1e-14 * math.sqrt(d.var)
    assert d.cdf(d.ppf(u)) == pytest.approx(u, rel=1e-12, abs=1e-15 + 2 * d.pdf(x) * bracket)


def test_mixture_ppf_on_a_grid_and_at_the_ends():
    x = np.linspace(-3.0, 4.5, 76)
    np.testing.assert_allclose(MIX_U.ppf(MIX_U.cdf(x)), x, rtol=1e-12, atol=1e-12)
    assert MIX_U.ppf(0.0) == -math.inf and MIX_U.ppf(1.0) == math.inf
    assert GAP.ppf(0.0) == 0.0 and GAP.ppf(1.0) == 3.0
    assert np.isnan(MIX.ppf(1.5)) and np.isnan(MIX.ppf(-0.1))


def test_mixture_ppf_with_a_gap_returns_left_end_of_the_flat_part():
    # F = 1/2 on all of [1, 2]; inf{x : F(x) >= 1/2} = 1.
    assert GAP.ppf(0.5) == pytest.approx(1.0, abs=1e-12)
    u = np.array([0.1, 0.25, 0.5, 0.5 + 1e-9, 0.75, 0.9])
    expected = np.array([0.2, 0.5, 1.0, 2.0 + 2e-9, 2.5, 2.8])
    np.testing.assert_allclose(GAP.ppf(u), expected, rtol=1e-12, atol=1e-12)
    uneven = Mixture((Uniform(0.0, 1.0), Uniform(5.0, 6.0)), (0.3, 0.7))
    assert uneven.ppf(uneven.cdf(3.0)) == pytest.approx(1.0, abs=1e-12)


def test_nested_mixture_equals_flattened():
    flat = Mixture((Normal(0.0, 1.0), Uniform(-1.0, 2.0), Normal(4.0, 0.5)), (0.42, 0.28, 0.3))
    x = np.linspace(-5.0, 7.0, 97)
    np.testing.assert_allclose(NESTED.pdf(x), flat.pdf(x), rtol=1e-13)
    np.testing.assert_allclose(NESTED.cdf(x), flat.cdf(x), rtol=1e-13, atol=1e-16)
    u = np.linspace(0.01, 0.99, 50)
    np.testing.assert_allclose(NESTED.ppf(u), flat.ppf(u), rtol=1e-11, atol=1e-12)
    assert NESTED.mean == pytest.approx(flat.mean, rel=RTOL)
    assert NESTED.var == pytest.approx(flat.var, rel=RTOL)


@pytest.mark.parametrize("d", ALL, ids=repr)
def test_shift_translates(d):
    theta = 1.75
    s = shifted(d, theta)
    assert s == d.shift(theta)
    x = np.linspace(-5.0, 6.0, 45)
    np.testing.assert_allclose(s.cdf(x + theta), d.cdf(x), rtol=1e-12, atol=1e-14)
    assert s.mean == pytest.approx(d.mean + theta, rel=RTOL)
    assert s.var == pytest.approx(d.var, rel=1e-12)


@pytest.mark.parametrize("d", ALL, ids=repr)
def test_supports_and_effective_support(d):
    lo, hi = d.effective_support
    assert math.isfinite(lo) and math.isfinite(hi)
    outside = d.cdf(lo) + d.sf(hi)
    assert outside <= 2e-12  # "all but ~1e-12 of the mass"
    s_lo, s_hi = d.support
    assert s_lo <= lo < hi <= s_hi
    pts = d.breakpoints()
    assert np.all(np.diff(pts) > 0)
    for a, b in d.support_intervals():  # every support end is a panel edge
        for end in (a, b):
            assert not math.isfinite(end) or np.any(pts == end)


def test_normal_effective_support_is_not_too_wide():
    lo, hi = Normal(0.0, 1.0).effective_support
    assert 1e-13 < Normal(0.0, 1.0).cdf(lo) < 1e-12 and hi == -lo


def test_breakpoints():
    np.testing.assert_allclose(Normal(1.0, 2.0).breakpoints(), 1.0 + 2.0 * np.arange(-12, 13))
    b = Uniform(2.0, 4.0).breakpoints()
    assert b[0] == 2.0 and b[-1] == 4.0 and len(b) >= 3
    assert set(GAP.breakpoints()) >= {0.0, 1.0, 2.0, 3.0}
    assert GAP.support_intervals() == ((0.0, 1.0), (2.0, 3.0))
    touching = Mixture((Uniform(0.0, 1.0), Uniform(1.0, 2.0)), (0.5, 0.5))
    assert touching.support_intervals() == ((0.0, 2.0),)


@pytest.mark.parametrize("d", [Normal(0.3, 0.8), MIX, NESTED], ids=repr)
def test_score_is_derivative_of_logpdf(d):
    x = np.linspace(-3.0, 3.0, 25) + 0.01  # avoid the Uniform's ends, where logpdf jumps
    h = 1e-5
    fd = (d.logpdf(x + h) - d.logpdf(x - h)) / (2 * h)
    # Central differences: truncation ~h^2 |f'''| ~ 1e-10, rounding ~1e-16 / h ~ 1e-11.
    np.testing.assert_allclose(d.score(x), fd, rtol=1e-7, atol=1e-7)


def test_immutable_and_hashable():
    a = Mixture([Normal(0, 1), Uniform(0, 1)], [0.5, 0.5])  # lists become tuples
    b = Mixture((Normal(0.0, 1.0), Uniform(0.0, 1.0)), (0.5, 0.5))
    assert isinstance(a.components, tuple) and isinstance(a.weights, tuple)
    assert a == b and hash(a) == hash(b) and {a: 1}[b] == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.weights = (1.0, 0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Normal(0, 1).std = 2.0


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Normal(0.0, 0.0), "std must be > 0, got 0.0"),
        (lambda: Normal(0.0, -1.0), "std must be > 0, got -1.0"),
        (lambda: Normal(float("nan"), 1.0), "mean must be finite"),
        (lambda: Normal(0.0, float("inf")), "std must be finite"),
        (lambda: Normal("a", 1.0), "mean must be a real number"),
        (lambda: Uniform(1.0, 1.0), "low must be < high"),
        (lambda: Uniform(2.0, 1.0), "low must be < high"),
        (lambda: Uniform(0.0, float("inf")), "high must be finite"),
        (lambda: Mixture((), ()), "at least one component"),
        (lambda: Mixture((Normal(0, 1),), (0.5, 0.5)), "one per component"),
        (lambda: Mixture((Normal(0, 1), Normal(1, 1)), (1.5, -0.5)), "weights must be >= 0"),
        (lambda: Mixture((Normal(0, 1), Normal(1, 1)), (0.5, 0.4)), "sum to 1"),
        (lambda: Mixture((Normal(0, 1), Normal(1, 1)), (0.5, float("nan"))), "weights[1] must be finite"),
        (lambda: two_normal_mixture(0.0, 1.0, 1.5, 2.0), "weight must be in [0, 1]"),
        (lambda: two_normal_mixture(0.0, -1.0, 0.5, 2.0), "std must be > 0"),
        (lambda: Normal(0, 1).sample(-1, 0), "n must be a whole number >= 0"),
        (lambda: Normal(0, 1).sample(2.5, 0), "n must be a whole number >= 0"),
        (lambda: Normal(0, 1).shift(float("inf")), "theta must be finite"),
    ],
)
def test_invalid_parameters_raise(make, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make()


def test_non_distribution_component_is_a_type_error():
    with pytest.raises(TypeError, match=r"components\[1\]"):
        Mixture((Normal(0, 1), 3.0), (0.5, 0.5))


def test_weights_sum_tolerance_is_1e_9():
    Mixture((Normal(0, 1), Normal(1, 1)), (0.5, 0.5 + 5e-10))  # within 1e-9: accepted
    with pytest.raises(ValueError):
        Mixture((Normal(0, 1), Normal(1, 1)), (0.5, 0.5 + 5e-9))


def test_zero_weight_component_is_ignored():
    d = Mixture((Normal(0.0, 1.0), Uniform(5.0, 6.0)), (1.0, 0.0))
    assert d.support == (-math.inf, math.inf) and d.effective_support == Normal(0.0, 1.0).effective_support
    assert d.var == pytest.approx(1.0, rel=RTOL)
    zero = Mixture((Uniform(0.0, 1.0), Uniform(5.0, 6.0)), (1.0, 0.0))
    assert np.all(zero.sample(1000, 0) <= 1.0) and zero.support == (0.0, 1.0)
    x = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(d.ppf(Normal(0, 1).cdf(x)), x, rtol=1e-12, atol=1e-12)
