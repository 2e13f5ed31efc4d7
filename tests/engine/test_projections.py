"""Forward (mode-covering) versus reverse (mode-seeking) Gaussian fits."""

import math

import numpy as np
import pytest

from engine.distributions import Mixture, Normal, Uniform, two_normal_mixture
from engine.divergences import kl
from engine.projections import _reverse_kl_and_grad, fit_forward_kl, fit_reverse_kl, reverse_kl_landscape

# Modes at -5 and +5, each N(., 1): separated by 10 std, so each mode is a local optimum of
# the reverse KL and the other mode perturbs it only through tails ~1e-6.
BIMODAL = two_normal_mixture(center=0.0, scale=1.0, weight=0.5, separation=10.0)
UNEVEN = two_normal_mixture(center=1.0, scale=0.5, weight=0.3, separation=8.0)


def test_forward_fit_is_moment_matching():
    for p in (BIMODAL, UNEVEN, Mixture((Normal(0, 1), Uniform(-1, 3)), (0.5, 0.5))):
        q = fit_forward_kl(p)
        assert q.mean == pytest.approx(p.mean, rel=1e-14, abs=1e-14)
        assert q.var == pytest.approx(p.var, rel=1e-14)


def test_forward_fit_minimises_forward_kl():
    q = fit_forward_kl(UNEVEN)
    best = kl(UNEVEN, q)
    # The optimum is quadratic: a 1% nudge costs ~1e-4 nats, far above quadrature error (~1e-12).
    for dm, ds in [(0.05, 0), (-0.05, 0), (0, 0.03), (0, -0.03)]:
        assert kl(UNEVEN, Normal(q.mean + dm, q.std + ds)) > best + 1e-6


@pytest.mark.parametrize("start, mode", [(-4.0, -5.0), (-6.5, -5.0), (3.5, 5.0), (5.8, 5.0)])
def test_reverse_fit_locks_onto_the_nearest_mode(start, mode):
    fit = fit_reverse_kl(BIMODAL, init_mean=start, init_std=1.0)
    # The true optimum differs from the component by ~1e-5 (the other mode's tail) and the
    # optimiser stops within ~1e-5 of it; 1e-3 is a clear pass/fail for "that mode, that width".
    assert fit.normal.mean == pytest.approx(mode, abs=1e-3)
    assert fit.normal.std == pytest.approx(1.0, abs=1e-3)
    assert fit.success
    # KL(N_i || p) ~ -log w_i = log 2 for a well-separated equal mixture.
    assert fit.value == pytest.approx(math.log(2.0), abs=1e-5)


@pytest.mark.parametrize("start, mode, weight", [(-2.0, -3.0, 0.3), (4.0, 5.0, 0.7)])
def test_reverse_fit_value_is_minus_log_weight(start, mode, weight):
    fit = fit_reverse_kl(UNEVEN, init_mean=start, init_std=0.5)
    assert fit.normal.mean == pytest.approx(mode, abs=1e-3)
    assert fit.normal.std == pytest.approx(0.5, abs=1e-3)
    assert fit.value == pytest.approx(-math.log(weight), abs=1e-5)
    # Two independent quadratures of the same KL (x-panels around Q and P here, the shared
    # divergences grid there); both are good to ~1e-12.
    assert fit.value == pytest.approx(kl(fit.normal, UNEVEN), rel=1e-9)


def test_mode_seeking_versus_mode_covering():
    forward = fit_forward_kl(BIMODAL)
    reverse = fit_reverse_kl(BIMODAL, init_mean=-4.0).normal
    assert kl(reverse, BIMODAL) < kl(forward, BIMODAL)  # reverse KL prefers one mode...
    assert kl(BIMODAL, forward) < kl(BIMODAL, reverse)  # ...forward KL covers both
    assert forward.std > 4.0 and reverse.std < 1.1


def test_reverse_fit_path_and_determinism():
    a = fit_reverse_kl(BIMODAL, init_mean=3.0, init_std=2.0)
    b = fit_reverse_kl(BIMODAL, init_mean=3.0, init_std=2.0)
    assert a.path.ndim == 2 and a.path.shape[1] == 2 and a.path.shape[0] >= 2
    np.testing.assert_array_equal(a.path[0], [3.0, math.log(2.0)])
    # log(exp(log sigma)) round-trips to ~1e-16 absolute.
    np.testing.assert_allclose(a.path[-1], [a.normal.mean, math.log(a.normal.std)], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(a.path, b.path)


def test_gradient_matches_finite_differences():
    h = 1e-6
    for mu, ls in [(-4.0, 0.2), (1.0, 1.0), (4.7, -0.3)]:
        _, g = _reverse_kl_and_grad(BIMODAL, mu, ls)
        def f(m, s):
            return _reverse_kl_and_grad(BIMODAL, m, s)[0]

        fd = [(f(mu + h, ls) - f(mu - h, ls)) / (2 * h), (f(mu, ls + h) - f(mu, ls - h)) / (2 * h)]
        # Central differences: error ~h^2 f''' + 1e-16 / h ~ 1e-10 relative to O(1) gradients.
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)


def test_landscape_has_two_local_minima():
    means = np.linspace(-8.0, 8.0, 161)
    values = reverse_kl_landscape(BIMODAL, means, 1.0)
    assert values.shape == means.shape
    interior = (values[1:-1] < values[:-2]) & (values[1:-1] < values[2:])
    minima = means[1:-1][interior]
    np.testing.assert_allclose(minima, [-5.0, 5.0], atol=0.05)  # grid step 0.1
    assert values[means == 5.0][0] == pytest.approx(kl(Normal(5.0, 1.0), BIMODAL), rel=1e-7)
    assert values[80] > values[30] + 1.0  # the gap between the modes is a barrier


@pytest.mark.parametrize("std", [0.22, 1.0, 4.48])
def test_landscape_matches_divergences_kl_for_wide_and_narrow_q(std):
    # The page's extreme setting: components of std 0.3, 8 apart, so log p bends within ~0.01
    # of x = 0. An 80-node Gauss-Hermite rule was off by up to 0.86 nats here.
    p = two_normal_mixture(center=0.0, scale=0.3, weight=0.3, separation=8.0)
    means = np.linspace(-6.0, 6.0, 7)
    ref = np.array([kl(Normal(m, std), p) for m in means])
    np.testing.assert_allclose(reverse_kl_landscape(p, means, std), ref, rtol=1e-9)


def test_landscape_bounded_support_is_infinite():
    assert np.all(np.isinf(reverse_kl_landscape(Uniform(0, 1), np.array([0.0, 0.5]), 0.2)))


def test_invalid_arguments():
    with pytest.raises(ValueError, match="std must be > 0"):
        fit_reverse_kl(BIMODAL, 0.0, init_std=0.0)
    with pytest.raises(ValueError, match="bounded support"):
        fit_reverse_kl(Uniform(0.0, 1.0), 0.5)
    with pytest.raises(ValueError, match="std must be > 0"):
        reverse_kl_landscape(BIMODAL, [0.0], -1.0)
    with pytest.raises(TypeError):
        fit_forward_kl("not a distribution")
