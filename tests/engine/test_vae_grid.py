"""engine.vae.grid against closed forms: a linear Gaussian decoder p(x|z) = N(W z + b, sigma^2 I)
with z ~ N(0, I) has p(x) = N(b, W W^T + sigma^2 I) exactly (scipy is the reference).

The cases are the ways the quadrature used to fail (issue 12): a posterior that is a thin ridge
along a diagonal, which fooled its convergence test by several nats; a posterior centred outside
the fixed box [-6, 6]^d (15 nats lost at 6.5); a spike where the decoder folds, between the nodes
of every grid compared (against scipy's quad); and that ordinary cases keep their answers.
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.stats import multivariate_normal, norm

from engine.vae import VAE, VAEConfig
from engine.vae import grid as vae_grid
from engine.vae.grid import log_marginal_grid

# Returned values are G_{h/2} once G_h agrees with it to GRID_TOL = 1e-5; G_{h/2}'s own error is
# far smaller (measured below 1e-7 on every case here), and the box's outermost rows hold < 1e-7.
TOL = 1e-6  # nats


class LinearGaussian(torch.nn.Module):
    """p(x|z) = N(W z + b, sigma^2 I): the interface log_marginal_grid needs, and the exact answers."""

    def __init__(self, W, b, sigma: float):
        super().__init__()
        self.W = torch.nn.Parameter(torch.as_tensor(W, dtype=torch.float64), requires_grad=False)  # (D, L)
        self.b = torch.as_tensor(b, dtype=torch.float64)
        self.sigma = float(sigma)
        self.config = SimpleNamespace(data_dim=self.W.shape[0], latent_dim=self.W.shape[1], likelihood="gaussian")

    def decode(self, z):
        return z @ self.W.T + self.b

    def obs_std(self):
        return torch.full((self.config.data_dim,), self.sigma, dtype=torch.float64)

    def log_px(self, x) -> torch.Tensor:
        W = self.W.numpy()
        cov = W @ W.T + self.sigma**2 * np.eye(len(W))
        return torch.as_tensor(np.atleast_1d(multivariate_normal(self.b.numpy(), cov).logpdf(x.numpy())))

    def posterior(self, x) -> tuple[np.ndarray, np.ndarray]:
        """Mean (B, L) and covariance (L, L) of the Gaussian p(z|x)."""
        W = self.W.numpy()
        cov = np.linalg.inv(np.eye(W.shape[1]) + W.T @ W / self.sigma**2)
        return (x.numpy() - self.b.numpy()) @ W @ cov / self.sigma**2, cov


def ridge(sigma: float, a: float = 1.0) -> LinearGaussian:
    """x = a (z1 - z2) + noise: the posterior is N(0, 1)-wide along (1, 1) and ~sigma / a across it."""
    return LinearGaussian([[a, -a]], [0.0], sigma)


# x / a: on the old grid's lines z1 - z2 in 0.3 Z, midway between them, and in between
RIDGE_X = torch.tensor([[0.0], [0.15], [0.075], [0.4]])


# ---------------------------------------------------------------- (a) a thin ridge along the diagonal
@pytest.mark.parametrize("sigma, a", [(0.05, 1.0), (0.03, 1.0), (0.3, 10.0), (0.01, 1.0)])
def test_a_thin_diagonal_ridge_matches_the_closed_form(sigma, a):
    model = ridge(sigma, a)
    x = RIDGE_X * a
    _, cov = model.posterior(x)
    widths, directions = np.linalg.eigh(cov)
    assert math.sqrt(widths[0]) < 0.04 and math.sqrt(widths[1]) > 0.99  # thin across, prior-wide along
    assert abs(abs(directions[:, 1] @ [1, 1]) - math.sqrt(2)) < 1e-9  # ... and along the diagonal
    got = log_marginal_grid(model, x)
    assert (got - model.log_px(x)).abs().max() < TOL


def test_the_replaced_test_is_blind_to_the_diagonal_ridge():
    """G_h and G_h shifted by (h/2, h/2) (the old acceptance test, at its first level) agree to 1e-9
    while both are nats off: the shift slides along the ridge. Halving h is not blind to it."""
    model, x = ridge(0.03), RIDGE_X
    h = 12.0 / 40
    axis = -6.0 + h * (torch.arange(40, dtype=torch.float64) + 0.5)
    grid = log_marginal_grid(model, x, 40)
    shifted = vae_grid._grid_sum(model, x, [axis + h / 2] * 2, h, prune=True)[0]
    exact = model.log_px(x)
    assert (grid - shifted).abs().max() < 1e-9
    assert (grid - exact).abs().max() > 10.0  # measured: -10.43 nats at x = 0.15
    assert (grid - log_marginal_grid(model, x, 80)).abs().max() > 1.0  # the halved grid disagrees


@pytest.mark.parametrize("prune", [True, False])
def test_a_ridge_thinner_than_the_finest_level_is_refused_not_guessed(prune):
    model = ridge(1e-3)  # 0.0007 across; the finest spacing is 0.0047
    x = RIDGE_X[:2] if prune else RIDGE_X[:1]  # unpruned: 6.5 million nodes at the last level
    assert log_marginal_grid(model, x, prune=prune).isnan().all()


def test_ridges_in_random_directions_and_places_match_the_closed_form():
    rng = np.random.default_rng(0)
    for _ in range(6):
        angle, sigma = rng.uniform(0, math.pi), rng.uniform(0.015, 0.1)
        model = LinearGaussian([[math.cos(angle), math.sin(angle)]], [rng.normal()], sigma)
        x = torch.as_tensor(rng.normal(0.0, 1.5, size=(5, 1)))
        got = log_marginal_grid(model, x)
        assert (got - model.log_px(x)).abs().max() < TOL, (angle, sigma)


# ---------------------------------------------------------------- (b) posteriors outside [-6, 6]
@pytest.mark.parametrize("prune", [True, False])
@pytest.mark.parametrize("sigma", [0.1, 0.5])
def test_a_posterior_far_outside_the_first_box_is_found(sigma, prune):
    model = LinearGaussian(np.eye(2), [0.0, 0.0], sigma)
    centres = torch.tensor([[6.5, 0.0], [9.0, 9.0], [-6.5, 3.0], [0.5, -20.0]], dtype=torch.float64)
    x = centres * (1 + sigma**2)  # the posterior mean is x / (1 + sigma^2)
    np.testing.assert_allclose(model.posterior(x)[0], centres, atol=1e-12)
    exact = model.log_px(x)
    old_box = log_marginal_grid(model, x, 400)  # a fine grid on [-6, 6]^2: the box is what fails
    assert (old_box - exact).abs().min() > 1.5  # measured: 2.0 (sigma 0.5, at 6.5) to 9921 nats (sigma 0.1, at 20)
    assert (log_marginal_grid(model, x, prune=prune) - exact).abs().max() < TOL


def test_a_1d_posterior_far_outside_the_first_box_is_found():
    model = LinearGaussian([[1.0], [0.5]], [0.0, 0.0], 0.1)
    x = torch.tensor([[6.5, 3.25], [9.0, 4.5], [-30.0, -15.0]], dtype=torch.float64)
    assert model.posterior(x)[0].min() < -29 and (np.abs(model.posterior(x)[0]) > 6.4).all()
    assert (log_marginal_grid(model, x) - model.log_px(x)).abs().max() < TOL


def test_a_posterior_beyond_the_largest_box_is_refused_not_guessed():
    model = LinearGaussian(np.eye(2), [0.0, 0.0], 0.1)
    x = torch.tensor([[80.0, 0.0], [1.0, 0.5]], dtype=torch.float64)
    got = log_marginal_grid(model, x)
    assert got[0].isnan()
    assert abs(got[1] - model.log_px(x)[1]) < TOL  # the other point is unaffected


# ---------------------------------------------------------------- a spike where the decoder folds
class TanhFold(torch.nn.Module):
    """x = g(z1) + c z2 + N(0, sigma^2), g(z1) = 0.3 z1 - (1 + tanh((z1 - t0) / 0.025)) / 2: g drops by 1
    at slope ~20 around t0, so p(z|x) has a spike ~sigma / 20 wide there besides its broad mode."""

    def __init__(self, latent: int, t0: float, c: float = 0.0, sigma: float = 0.1):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64), requires_grad=False)  # sets the dtype
        self.t0, self.c, self.sigma = t0, c, sigma
        self.config = SimpleNamespace(data_dim=1, latent_dim=latent, likelihood="gaussian")

    def g(self, z1, lib=torch):
        return 0.3 * z1 - 0.5 * (1 + lib.tanh((z1 - self.t0) / 0.025))

    def decode(self, z):
        out = self.g(z[..., 0]) + (self.c * z[..., 1] if z.shape[-1] == 2 else 0.0)
        return out[..., None]

    def obs_std(self):
        return torch.full((1,), self.sigma, dtype=torch.float64)

    def log_px(self, x) -> torch.Tensor:
        """c z2 + noise ~ N(0, sigma^2 + c^2): what is left is a 1D integral for scipy's quad."""
        s = math.hypot(self.sigma, self.c)
        points = [self.t0 + k * 0.025 for k in (-6, -3, -1, 0, 1, 3, 6)]
        values = [integrate.quad(lambda z, xi=xi: norm.pdf(xi, self.g(z, np), s) * norm.pdf(z), -12, 12,
                                 points=points, limit=1000, epsabs=0, epsrel=1e-13)[0] for xi in x[:, 0].tolist()]
        return torch.tensor(values, dtype=torch.float64).log()


@pytest.mark.parametrize("latent, c, t0", [(1, 0.0, 2.01), (2, 0.05, 2.025)])
def test_a_spike_between_the_nodes_of_both_grids_is_not_missed(monkeypatch, latent, c, t0):
    """t0 sits halfway between nodes of the first level's G_{h/2} (spacing 0.06 in 1D, 0.15 in 2D)
    and the spike is ~0.005 wide: G_h and G_{h/2} miss it alike and agree, 2e-3 nats short."""
    model = TanhFold(latent, t0, c)
    at = float(model.g(torch.tensor(t0, dtype=torch.float64)))
    x = torch.tensor([[at], [at + 0.05], [0.3]], dtype=torch.float64)  # the spike, near it, and away
    exact = model.log_px(x)
    assert (log_marginal_grid(model, x) - exact).abs().max() < TOL
    monkeypatch.setattr(vae_grid, "_GAP", math.inf)  # agreement alone: what the old test relied on too
    assert (log_marginal_grid(model, x) - exact)[0].abs() > 1e-3  # measured: 2.3e-3 nats


# ---------------------------------------------------------------- (c) ordinary cases stay
@pytest.mark.parametrize("latent", [1, 2])
def test_random_ordinary_linear_decoders_match_the_closed_form(latent):
    rng = np.random.default_rng(latent)
    for sigma in (0.05, 0.3, 1.0):
        model = LinearGaussian(rng.normal(size=(2, latent)), rng.normal(size=2), sigma)
        z = rng.normal(size=(20, latent))
        x = torch.as_tensor(z @ model.W.numpy().T + model.b.numpy() + sigma * rng.normal(size=(20, 2)))  # x ~ p(x)
        for prune in (True, False) if latent == 2 else (True,):
            got = log_marginal_grid(model, x, prune=prune)
            assert (got - model.log_px(x)).abs().max() < TOL, (sigma, prune)


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_nonlinear_decoders_agree_with_a_fine_fixed_grid_on_a_larger_box(likelihood):
    """An untrained VAE, x far from its outputs (posteriors lean on [-6, 6]'s edge: the box grows; the old
    fixed box was 0.02 nats off here), and the Bernoulli path."""
    config = VAEConfig(latent_dim=2, data_dim=4 if likelihood == "bernoulli" else 2, likelihood=likelihood, seed=3)
    model = VAE(config).double().requires_grad_(False)  # float64: the checks see the quadrature, not float32 noise
    g = torch.Generator().manual_seed(0)
    x = torch.rand((6, config.data_dim), generator=g).round() if likelihood == "bernoulli" \
        else 3.0 * torch.randn((6, 2), generator=g)
    x = x.double()
    reference = log_marginal_grid(model, x, 600, limit=12.0)  # spacing 0.04 on [-12, 12]^2
    assert (log_marginal_grid(model, x) - reference).abs().max() < TOL
    if likelihood == "gaussian":  # pruning skips blocks bounded 25 nats below the best node: ~1e-9 in all
        assert (log_marginal_grid(model, x, prune=False) - reference).abs().max() < TOL
        torch.testing.assert_close(log_marginal_grid(model, x, 160, prune=False), log_marginal_grid(model, x, 160),
                                   rtol=0, atol=1e-9)


def test_empty_batch():
    assert log_marginal_grid(ridge(0.1), torch.empty((0, 1))).shape == (0,)
