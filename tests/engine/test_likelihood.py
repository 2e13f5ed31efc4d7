"""engine.likelihood, engine.gaussians and engine.kde against closed forms, scipy, brute force and invariants.

Tolerances (each says why it is what it is):
* EXACT_REL = 1e-12 where the code and the reference do the same arithmetic in another order
  (MLE moments, scipy's Gaussian densities): rounding is ~1e-15, so 1e-12 only absorbs ordering.
* QUAD = 1e-9 for quadrature against closed forms: the engine's Gauss-Legendre panels reach
  ~1e-14 on these integrands; 1e-9 still catches a lost panel or a wrong sign in the tails.
* KL_IDENTITY = 1e-6 is the product promise for cross-entropy - entropy == divergences.kl
  (observed <= 1e-15 for Normal/Mixture models and for KDEs with h down to 0.005, where both
  sides use the KDE's kink-graded breakpoints; a brute-force h/8 grid agrees to ~1e-10).
* Statistical checks use fixed seeds (the tests are deterministic) and bounds of >= 4 standard
  errors, so a correct implementation passes for all but a ~1e-4 fraction of seeds, while a
  wrong constant (a missing sqrt, a factor 2) moves the statistic by many standard errors.
"""

import math
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from engine import divergences as dv
from engine.capacity import CapacityCurve, kde_capacity_curve, mixture_capacity_curve, nearest_distances
from engine.distributions import Mixture, Normal, Uniform
from engine.gaussians import GaussianMixture, MultivariateNormal
from engine.kde import GaussianKDE, MultivariateKDE
from engine.likelihood import (
    VAR_FLOOR,
    KLDecomposition,
    em_mixture,
    entropy,
    expected_log_likelihood,
    fit_gaussian,
    fit_mixture,
    kde,
    kl_decomposition,
    log_likelihood_variance,
    mc_log_likelihood,
    mean_log_likelihood,
    standard_error_curve,
)

EXACT_REL = 1e-12
QUAD = 1e-9
KL_IDENTITY = 1e-6

P_MIX = Mixture((Normal(-2.0, 0.5), Normal(1.0, 1.0)), (0.4, 0.6))
P_WIDE = Mixture((Normal(0.0, 1.0), Uniform(-1.0, 2.0)), (0.6, 0.4))


def _gl_integral(f, lo, hi, width):
    """Composite 16-node Gauss-Legendre of f on [lo, hi] with panels of the given width
    (an independent reference: a plain uniform grid, not the engine's breakpoints)."""
    gx, gw = np.polynomial.legendre.leggauss(16)
    edges = np.linspace(lo, hi, math.ceil((hi - lo) / width) + 1)
    a, b = edges[:-1, None], edges[1:, None]
    x = 0.5 * (a + b) + 0.5 * (b - a) * gx
    return float(np.sum(0.5 * (b - a) * gw * f(x.ravel()).reshape(x.shape)))


# ---------------------------------------------------------------- closed-form MLE
def test_fit_gaussian_1d_is_sample_mean_and_biased_std():
    x = np.random.default_rng(0).normal(3.0, 2.0, 257)
    fit = fit_gaussian(x)
    assert isinstance(fit, Normal)
    assert fit.mean == pytest.approx(np.mean(x), rel=EXACT_REL)
    assert fit.std == pytest.approx(np.std(x, ddof=0), rel=EXACT_REL)
    assert fit.std < np.std(x, ddof=1)  # the MLE is the biased one


def test_fit_gaussian_2d_matches_biased_covariance_and_scipy():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 3)) @ np.array([[1.0, 0.4, 0.0], [0.0, 0.7, 0.3], [0.0, 0.0, 0.2]]) + [1.0, -2.0, 0.5]
    fit = fit_gaussian(x)
    assert isinstance(fit, MultivariateNormal)
    np.testing.assert_allclose(fit.mean, x.mean(axis=0), rtol=EXACT_REL)
    np.testing.assert_allclose(fit.cov, np.cov(x, rowvar=False, bias=True), rtol=EXACT_REL)
    q = rng.normal(size=(50, 3))
    ref = stats.multivariate_normal(fit.mean, fit.cov).logpdf(q)
    np.testing.assert_allclose(fit.logpdf(q), ref, rtol=EXACT_REL, atol=1e-12)
    np.testing.assert_allclose(fit.pdf(q), np.exp(ref), rtol=1e-11)
    assert fit.logpdf(q[0]) == pytest.approx(ref[0], rel=EXACT_REL)  # a single (d,) point -> scalar
    s = fit.sample(20_000, rng=2)
    assert s.shape == (20_000, 3)
    # Sample mean within 5 standard errors per coordinate (SE = sqrt(var / n)).
    assert np.all(np.abs(s.mean(axis=0) - fit.mean) < 5 * np.sqrt(np.diag(fit.cov) / 20_000))
    np.testing.assert_array_equal(fit.sample(5, rng=7), fit.sample(5, rng=7))


@pytest.mark.parametrize(
    "bad",
    [
        np.array([]),
        np.array([1.0]),
        np.array([2.0, 2.0, 2.0]),
        np.array([0.0, np.nan, 1.0]),
        np.array([0.0, np.inf, 1.0]),
        np.ones((5, 2)),
        np.column_stack([np.arange(5.0), 2 * np.arange(5.0)]),  # points on a line: singular covariance
        np.zeros((4, 1)),  # (n, 1) is ambiguous: 1D data must be passed as (n,)
    ],
)
def test_fit_gaussian_rejects_degenerate_data(bad):
    with pytest.raises(ValueError):
        fit_gaussian(bad)


# ---------------------------------------------------------------- EM
def test_em_log_likelihood_never_decreases_1d():
    x = P_MIX.sample(400, rng=3)
    for k, seed in [(2, 0), (3, 1), (5, 2), (8, 3)]:
        fit = em_mixture(x, k, seed=seed)
        h = fit.log_likelihood_history
        assert np.all(np.isfinite(h)) and h.size >= 2
        assert np.all(np.diff(h) >= -1e-12), (k, seed, np.diff(h).min())  # 1e-12: rounding of a mean of logs
        # The history is the model's own mean log-likelihood, last entry = returned model.
        assert h[-1] == pytest.approx(mean_log_likelihood(fit.model, x), abs=1e-10)


def test_em_log_likelihood_never_decreases_2d():
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.normal([0, 0], [1.0, 0.3], (150, 2)), rng.normal([3, 1], [0.5, 1.0], (150, 2)),
                        rng.normal([-2, 3], 0.4, (100, 2))])
    for k, seed in [(2, 0), (3, 1), (6, 2)]:
        fit = em_mixture(x, k, seed=seed)
        assert isinstance(fit.model, GaussianMixture)
        assert np.all(np.diff(fit.log_likelihood_history) >= -1e-12)
        assert fit.log_likelihood_history[-1] == pytest.approx(mean_log_likelihood(fit.model, x), abs=1e-10)


@settings(max_examples=40, deadline=None)
@given(data_seed=st.integers(0, 10**6), n=st.integers(3, 80), k=st.integers(1, 6), d=st.sampled_from([1, 2]),
       seed=st.integers(0, 1000))
def test_em_never_decreases_on_arbitrary_small_data(data_seed, n, k, d, seed):
    # Small n with large k is where components collapse onto single points; the eigenvalue
    # floor keeps EM a (constrained) EM, so monotonicity must survive it.
    k = min(k, n)
    rng = np.random.default_rng(data_seed)
    x = rng.standard_t(3, size=(n, d)) * rng.uniform(0.1, 10.0, d)
    x = x[:, 0] if d == 1 else x
    fit = em_mixture(x, k, seed=seed, max_iter=60)
    h = fit.log_likelihood_history
    # Rounding allowance: near convergence, with components collapsed onto single points (the
    # floor-clamped covariances are nearly singular), consecutive values agree to ~1e-12 and
    # their rounding error is of that size; a real EM bug loses far more (>= 1e-6 here).
    assert np.all(np.isfinite(h)) and np.all(np.diff(h) >= -1e-10 * (1 + np.abs(h[1:])))
    assert fit.weights.sum() == pytest.approx(1.0, abs=1e-12)


def test_fit_mixture_returns_the_em_model():
    x = Mixture((Normal(-2.0, 0.5), Normal(1.0, 1.0)), (0.4, 0.6)).sample(300, rng=2)
    model = fit_mixture(x, 2, seed=4)
    assert isinstance(model, Mixture) and model == em_mixture(x, 2, seed=4).model
    x2 = np.column_stack([x, np.random.default_rng(3).normal(size=300)])
    assert isinstance(fit_mixture(x2, 2, seed=4), GaussianMixture)


def test_em_recovers_a_well_separated_mixture_1d():
    n, w, mus, sd = 4000, 0.3, (-4.0, 3.0), 1.0
    x = Mixture((Normal(mus[0], sd), Normal(mus[1], sd)), (w, 1 - w)).sample(n, rng=5)
    fit = em_mixture(x, 2, seed=0)
    assert fit.converged
    # Standard errors of the MLE with known labels (the overlap at 7 std apart is negligible):
    # weight sqrt(w (1 - w) / n), mean sd / sqrt(n w_j), std sd / sqrt(2 n w_j). Allow 4 SE.
    assert abs(fit.weights[0] - w) < 4 * math.sqrt(w * (1 - w) / n)
    for j, (mu, wj) in enumerate(zip(mus, (w, 1 - w))):
        assert abs(fit.means[j, 0] - mu) < 4 * sd / math.sqrt(n * wj)
        assert abs(math.sqrt(fit.covs[j, 0, 0]) - sd) < 4 * sd / math.sqrt(2 * n * wj)
    assert isinstance(fit.model, Mixture) and len(fit.model.components) == 2


def test_em_recovers_a_well_separated_mixture_2d():
    rng = np.random.default_rng(6)
    n0, n1 = 1200, 2800
    x = np.concatenate([rng.normal([-3.0, 0.0], 0.5, (n0, 2)), rng.normal([3.0, 1.0], 0.8, (n1, 2))])
    fit = em_mixture(x, 2, seed=1)
    n, w = n0 + n1, n0 / (n0 + n1)
    assert abs(fit.weights[0] - 0.3) < 4 * math.sqrt(w * (1 - w) / n)
    np.testing.assert_array_less(np.abs(fit.means[0] - [-3.0, 0.0]), 4 * 0.5 / math.sqrt(n0))
    np.testing.assert_array_less(np.abs(fit.means[1] - [3.0, 1.0]), 4 * 0.8 / math.sqrt(n1))


def test_em_is_deterministic_and_seed_dependent_only_through_init():
    x = P_MIX.sample(300, rng=7)
    a, b = em_mixture(x, 3, seed=11), em_mixture(x, 3, seed=11)
    np.testing.assert_array_equal(a.log_likelihood_history, b.log_likelihood_history)
    np.testing.assert_array_equal(a.means, b.means)


def test_em_variance_floor_keeps_a_component_on_one_point_finite():
    # An outlier 60 std away: k-means++ seeds a component on it, which then owns exactly one
    # point and would shrink to zero variance (likelihood -> +inf) without the floor.
    x = np.concatenate([np.random.default_rng(8).normal(size=200), [60.0]])
    fit = em_mixture(x, 2, seed=0)
    assert np.all(np.isfinite(fit.log_likelihood_history))
    assert np.all(np.diff(fit.log_likelihood_history) >= -1e-12)
    assert fit.covs.min() == pytest.approx(VAR_FLOOR * x.var(), rel=1e-9)  # sits exactly on the floor
    assert fit.weights[1] == pytest.approx(1 / 201, rel=1e-6)


@pytest.mark.parametrize("k", [0, 6, 2.5])
def test_fit_mixture_rejects_bad_k(k):
    with pytest.raises(ValueError):
        em_mixture(np.arange(5.0), k, seed=0)


# ---------------------------------------------------------------- KDE
def test_kde_logpdf_matches_scipy_gaussian_kde():
    x = P_MIX.sample(300, rng=9)
    q = np.linspace(-6, 6, 401)
    for h in (0.8, 0.1, 0.01):
        ref = stats.gaussian_kde(x, bw_method=h / x.std(ddof=1))  # scipy's kernel std = bw * data std
        m = kde(x, h)
        assert isinstance(m, GaussianKDE)
        # 1e-9 absolute on log values down to ~-1e4: scipy sums in another order; the windowed
        # kernel sum drops terms < e^-40 of the largest (relative change < 300 * 4e-18).
        np.testing.assert_allclose(m.logpdf(q), ref.logpdf(q), rtol=1e-12, atol=1e-9)


def test_kde_2d_logpdf_matches_direct_sum_and_samples():
    rng = np.random.default_rng(10)
    x = rng.normal(size=(150, 2))
    q = rng.normal(size=(40, 2)) * 2
    h = 0.3
    m = kde(x, h)
    assert isinstance(m, MultivariateKDE)
    d2 = ((q[:, None, :] - x[None]) ** 2).sum(-1)
    direct = np.log(np.exp(-0.5 * d2 / h**2).sum(1) / (len(x) * 2 * math.pi * h**2))
    np.testing.assert_allclose(m.logpdf(q), direct, rtol=EXACT_REL)
    s = m.sample(7, rng=1)
    assert s.shape == (7, 2)
    np.testing.assert_array_equal(s, m.sample(7, rng=1))


def test_kde_pdf_integrates_to_one_and_cdf_agrees_with_pdf():
    x = P_MIX.sample(200, rng=11)
    for h in (0.5, 0.05, 0.005):
        m = kde(x, h)
        lo, hi = x.min() - 15 * h, x.max() + 15 * h
        assert _gl_integral(m.pdf, lo, hi, h / 2) == pytest.approx(1.0, abs=1e-10)
        a, b = np.quantile(x, [0.2, 0.7])
        assert m.cdf(b) - m.cdf(a) == pytest.approx(_gl_integral(m.pdf, a, b, h / 2), abs=1e-10)
        assert m.cdf(0.3) + m.sf(0.3) == pytest.approx(1.0, abs=1e-14)


def test_kde_cdf_ppf_round_trip():
    x = P_MIX.sample(200, rng=12)
    for h in (0.3, 0.01):
        m = kde(x, h)
        u = np.concatenate([[1e-12, 1e-6], np.linspace(0.01, 0.99, 41), [1 - 1e-6, 1 - 1e-10]])
        q = m.ppf(u)
        # cdf(ppf(u)) = u to a few ulps of u (lower half) / of 1 - u (upper half, via sf).
        lower = u <= 0.5
        np.testing.assert_allclose(m.cdf(q[lower]), u[lower], rtol=1e-10)
        np.testing.assert_allclose(m.sf(q[~lower]), 1 - u[~lower], rtol=1e-6)
        np.testing.assert_allclose(m.ppf(m.cdf(q[lower])), q[lower], rtol=1e-9, atol=1e-9 * h)
        assert np.all(np.diff(q) > 0)
    assert m.ppf(0.0) == -math.inf and m.ppf(1.0) == math.inf and math.isnan(m.ppf(1.5))


def test_kde_is_a_distribution_with_the_right_moments_and_edges():
    x = P_MIX.sample(100, rng=13)
    m = kde(x, 0.2)
    assert m.mean == pytest.approx(x.mean(), rel=EXACT_REL)
    assert m.var == pytest.approx(x.var() + 0.04, rel=EXACT_REL)  # data spread + kernel spread
    s = m.sample(200_000, rng=0)
    assert abs(s.mean() - m.mean) < 5 * math.sqrt(m.var / s.size)
    assert m.logpdf(np.nan) != m.logpdf(np.nan) and m.logpdf(-np.inf) == -np.inf
    xs = np.array([-1.3, 0.2, 2.0])
    fd = (m.logpdf(xs + 1e-6) - m.logpdf(xs - 1e-6)) / 2e-6
    np.testing.assert_allclose(m.score(xs), fd, rtol=1e-6)  # central difference error ~1e-12 / 1e-6
    assert m.shift(1.5) == kde(x + 1.5, 0.2) and hash(m) == hash(kde(x.copy(), 0.2))
    lo, hi = m.effective_support
    assert m.cdf(lo) < 1e-12 and m.sf(hi) < 1e-12
    assert np.all(np.diff(m.breakpoints()) > 0)


@pytest.mark.parametrize("h", [0.0, -1.0, np.nan, np.inf])
def test_kde_rejects_bad_bandwidth(h):
    with pytest.raises(ValueError):
        kde(np.arange(5.0), h)
    with pytest.raises(ValueError):
        kde(np.ones((5, 2)), h)


def test_kde_capacity_train_climbs_and_held_out_collapses():
    train, test = P_MIX.sample(200, rng=14), P_MIX.sample(200, rng=15)
    hs = np.geomspace(1.0, 0.001, 13)
    curve = kde_capacity_curve(train, test, hs)
    assert isinstance(curve, CapacityCurve) and curve.parameter == "bandwidth"
    assert np.all(np.diff(curve.train_log_likelihood) > 0)  # smaller h, higher train score, always
    best = int(np.argmax(curve.test_log_likelihood))
    assert 0 < best < hs.size - 1  # held-out has an interior optimum ...
    assert curve.test_log_likelihood[-1] < curve.test_log_likelihood[best] - 10  # ... and collapses
    # Each training point sits on its own kernel: train score >= -log(n h sqrt(2 pi)), and at
    # h = 0.001 the other kernels add little (observed 0.065 nats, from the few pairs of the 200
    # points that lie within a couple of h of each other).
    floor = -np.log(train.size * hs * math.sqrt(2 * math.pi))
    assert np.all(curve.train_log_likelihood >= floor - 1e-12)
    assert curve.train_log_likelihood[-1] == pytest.approx(floor[-1], abs=0.1)
    assert curve.test_log_likelihood[best] == pytest.approx(mean_log_likelihood(kde(train, hs[best]), test), abs=1e-12)


def test_mixture_capacity_curve_scores_each_fit():
    train, test = P_MIX.sample(300, rng=16), P_MIX.sample(300, rng=17)
    curve = mixture_capacity_curve(train, test, [1, 2, 4], seed=3)
    assert curve.parameter == "k"
    np.testing.assert_array_equal(curve.values, [1, 2, 4])
    for i, k in enumerate((1, 2, 4)):
        model = fit_mixture(train, k, seed=3)
        assert curve.train_log_likelihood[i] == pytest.approx(np.mean(model.logpdf(train)), abs=1e-12)
        assert curve.test_log_likelihood[i] == pytest.approx(np.mean(model.logpdf(test)), abs=1e-12)
    assert curve.train_log_likelihood[1] > curve.train_log_likelihood[0] + 0.1  # the bimodal data need k = 2


# ---------------------------------------------------------------- quadrature quantities
@pytest.mark.parametrize("sd", [0.01, 1.0, 30.0])
def test_entropy_of_normal_and_uniform(sd):
    assert entropy(Normal(2.0, sd)) == pytest.approx(0.5 * math.log(2 * math.pi * math.e * sd**2), abs=QUAD)
    assert entropy(Uniform(-sd, 2 * sd)) == pytest.approx(math.log(3 * sd), abs=QUAD)


def test_entropy_of_a_mixture_matches_scipy_quad():
    def f(x):
        lp = float(P_WIDE.logpdf(x))
        return -math.exp(lp) * lp if lp > -math.inf else 0.0

    edges = [-14.0, -1.0, 2.0, 14.0]
    ref = sum(integrate.quad(f, a, b, epsabs=1e-14, epsrel=1e-12, limit=200)[0] for a, b in pairwise(edges))
    assert entropy(P_WIDE) == pytest.approx(ref, abs=QUAD)


def test_normal_model_expectation_and_variance_closed_forms():
    mu, sd, m, s = 0.5, 1.3, -1.0, 2.0
    p, model = Normal(mu, sd), Normal(m, s)
    # log m(X) = -log(s sqrt(2 pi)) - (X - m)^2 / (2 s^2) with X - m ~ N(mu - m, sd^2), and
    # Var[(X - m)^2] = 2 sd^4 + 4 sd^2 (mu - m)^2.
    mean = -math.log(s * math.sqrt(2 * math.pi)) - (sd**2 + (mu - m) ** 2) / (2 * s**2)
    var = (2 * sd**4 + 4 * sd**2 * (mu - m) ** 2) / (4 * s**4)
    assert expected_log_likelihood(p, model) == pytest.approx(mean, abs=QUAD)
    assert log_likelihood_variance(p, model) == pytest.approx(var, rel=QUAD)
    d = kl_decomposition(p, model)
    assert d.kl == pytest.approx(dv.kl_normal(mu, sd, m, s), abs=QUAD)
    assert log_likelihood_variance(p, p) == pytest.approx(0.5, rel=QUAD)  # Var of -Z^2/2 = 1/2


@pytest.mark.parametrize(
    "p, model",
    [
        (P_MIX, Normal(0.0, 2.0)),
        (P_MIX, Mixture((Normal(-1.5, 0.7), Normal(1.0, 1.2)), (0.5, 0.5))),
        (P_WIDE, Mixture((Normal(0.3, 1.1), Normal(1.0, 0.4)), (0.7, 0.3))),
        (Uniform(-1.0, 1.0), Normal(0.2, 0.8)),
    ],
)
def test_kl_decomposition_identity_parametric(p, model):
    d = kl_decomposition(p, model)
    assert isinstance(d, KLDecomposition)
    assert d.cross_entropy - d.entropy == d.kl
    assert d.kl == pytest.approx(dv.kl(p, model), abs=KL_IDENTITY)
    assert d.entropy == pytest.approx(entropy(p), abs=1e-12)
    assert -d.cross_entropy == pytest.approx(expected_log_likelihood(p, model), abs=1e-12)


@pytest.mark.parametrize("h", [0.3, 0.02, 0.005, 0.001])
def test_kl_decomposition_identity_kde(h):
    m = kde(P_MIX.sample(500, rng=18), h)
    d = kl_decomposition(P_MIX, m)
    assert d.kl == pytest.approx(dv.kl(P_MIX, m), abs=KL_IDENTITY)
    # And against a brute-force grid with panels h/8 wide (resolves every kernel and kink).
    ref = -_gl_integral(lambda x: np.exp(P_MIX.logpdf(x)) * m.logpdf(x), -7.0, 10.0, h / 8)
    assert d.cross_entropy == pytest.approx(ref, abs=KL_IDENTITY)


def test_kl_decomposition_is_inf_not_nan_without_support():
    d = kl_decomposition(Uniform(0.0, 1.0), Uniform(0.5, 2.0))
    assert d.cross_entropy == math.inf and d.kl == math.inf and d.entropy == 0.0
    assert expected_log_likelihood(Uniform(0.0, 1.0), Uniform(0.5, 2.0)) == -math.inf
    assert log_likelihood_variance(Uniform(0.0, 1.0), Uniform(0.5, 2.0)) == math.inf

    class LogpdfOnly:  # "anything with logpdf": no supports, so the nodes decide
        def logpdf(self, x):
            return Uniform(0.5, 2.0).logpdf(x)

    assert kl_decomposition(Uniform(0.0, 1.0), LogpdfOnly()).kl == math.inf


def test_model_with_only_logpdf_gives_the_same_numbers():
    class Wrapped:
        def logpdf(self, x):
            return Normal(0.3, 1.5).logpdf(x)

    a, b = kl_decomposition(P_MIX, Wrapped()), kl_decomposition(P_MIX, Normal(0.3, 1.5))
    assert a.kl == pytest.approx(b.kl, abs=1e-12)


# ---------------------------------------------------------------- Monte Carlo
def test_mc_log_likelihood_is_unbiased_and_reproducible():
    model = Normal(0.0, 2.0)
    est = mc_log_likelihood(P_MIX, model, n=50, repeats=2000, rng=19)
    assert est.shape == (2000,)
    truth = expected_log_likelihood(P_MIX, model)
    se = math.sqrt(log_likelihood_variance(P_MIX, model) / 50 / 2000)
    assert abs(est.mean() - truth) < 4 * se
    np.testing.assert_array_equal(est, mc_log_likelihood(P_MIX, model, 50, 2000, rng=19))


def test_standard_error_scales_like_one_over_sqrt_n():
    # Each empirical SE is a sample std over 400 repeats: its relative standard error is
    # sqrt((kurtosis - 1) / (4 * 400)) ~ 3.5% for near-Gaussian averages (a little more at n = 10,
    # where log m(X) is skewed). 15% is > 4 of those, so a correct implementation passes for
    # essentially every seed, while theory_se off by sqrt(2), or se ~ 1/n, fails by far.
    ns = np.array([10, 30, 100, 300, 1000])
    curve = standard_error_curve(P_MIX, Normal(0.0, 2.0), ns, repeats=400, rng=20)
    np.testing.assert_array_equal(curve.ns, ns)
    np.testing.assert_allclose(curve.empirical_se, curve.theory_se, rtol=0.15)
    slope = np.polyfit(np.log(ns), np.log(curve.empirical_se), 1)[0]
    assert -0.6 <= slope <= -0.4
    theory_var = log_likelihood_variance(P_MIX, Normal(0.0, 2.0))
    np.testing.assert_allclose(curve.theory_se, np.sqrt(theory_var / ns), rtol=1e-12)
    assert curve.expected == pytest.approx(expected_log_likelihood(P_MIX, Normal(0.0, 2.0)), abs=1e-12)


def test_standard_error_curve_with_a_kde_model():
    m = kde(P_MIX.sample(300, rng=21), 0.2)
    curve = standard_error_curve(P_MIX, m, [20, 200], repeats=300, rng=22)
    np.testing.assert_allclose(curve.empirical_se, curve.theory_se, rtol=0.2)  # > 4 SE of a 300-repeat std


# ---------------------------------------------------------------- memorisation
def test_nearest_distances_match_brute_force():
    rng = np.random.default_rng(23)
    train, samples = rng.normal(size=300), rng.normal(size=100) * 2
    brute = np.abs(samples[:, None] - train[None]).min(axis=1)
    np.testing.assert_array_equal(nearest_distances(samples, train), brute)
    train2, samples2 = rng.normal(size=(300, 2)), rng.normal(size=(100, 2)) * 2
    brute2 = np.sqrt(((samples2[:, None] - train2[None]) ** 2).sum(-1)).min(axis=1)
    np.testing.assert_allclose(nearest_distances(samples2, train2), brute2, rtol=1e-14)
    assert nearest_distances(train[:5], train).max() == 0.0
    with pytest.raises(ValueError):
        nearest_distances(samples2, train)


def test_small_bandwidth_samples_copy_the_training_data():
    train = P_MIX.sample(200, rng=24)
    fresh = np.median(nearest_distances(P_MIX.sample(1000, rng=25), train))
    small = np.median(nearest_distances(kde(train, 0.001).sample(1000, rng=26), train))
    large = np.median(nearest_distances(kde(train, 0.5).sample(1000, rng=27), train))
    # Fresh draws sit ~1/(n p) / 4 from the data (observed ~0.01); an h = 0.001 sample is its
    # parent plus N(0, h^2) noise, median distance ~0.67 h; an h = 0.5 one is nowhere near.
    assert small < 0.1 * fresh
    assert small < 0.002
    assert large > 0.5 * fresh


# ---------------------------------------------------------------- models and inputs
def test_gaussian_mixture_model_matches_scipy_and_validates():
    w, mu = np.array([0.3, 0.7]), np.array([[0.0, 0.0], [2.0, 1.0]])
    cov = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.4, 0.0], [0.0, 2.0]]])
    gm = GaussianMixture(w, mu, cov)
    q = np.random.default_rng(28).normal(size=(30, 2))
    ref = np.log(sum(wk * stats.multivariate_normal(m, c).pdf(q) for wk, m, c in zip(w, mu, cov)))
    np.testing.assert_allclose(gm.logpdf(q), ref, rtol=EXACT_REL)
    s = gm.sample(50_000, rng=0)
    # First coordinate: mean 0.3 * 0 + 0.7 * 2 = 1.4, variance (total variance)
    # 0.3 * 1.0 + 0.7 * 0.4 + 0.3 * 0.7 * 2^2 = 1.42; allow 5 standard errors.
    assert abs(s[:, 0].mean() - 1.4) < 5 * math.sqrt(1.42 / 50_000)
    with pytest.raises(ValueError):
        GaussianMixture(np.array([0.5, 0.6]), mu, cov)
    with pytest.raises(ValueError):
        GaussianMixture(w, mu, np.array([[[1.0, 2.0], [2.0, 1.0]]] * 2))  # not positive definite


@pytest.mark.parametrize("bad", [np.array([]), np.array([0.0, np.nan]), np.zeros((3, 2, 2))])
def test_likelihood_functions_reject_bad_data(bad):
    with pytest.raises(ValueError):
        kde(bad, 0.1)
    with pytest.raises(ValueError):
        em_mixture(bad, 1, seed=0)
