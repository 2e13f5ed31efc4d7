"""Exact log p(x) of a VAE with a 1D or 2D latent, by quadrature over the latent space.

p(x) = integral p(x|z) N(z; 0, I) dz has no closed form, but with one or two latent dimensions
it can be summed on a grid to any accuracy, which turns "the ELBO is a lower bound" into a number:
the gap log p(x) - ELBO(x) = KL(q(z|x) || p(z|x)) that the VAE page plots while training.
``engine.vae`` re-exports :func:`log_marginal_grid`; models only need ``config`` (latent_dim,
data_dim, likelihood), ``decode(z)`` and, for Gaussian decoders, ``obs_std()``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

_LOG_2PI = math.log(2.0 * math.pi)
_MAX_ELEMENTS = 1 << 23  # decoder outputs / pair terms held at once (~64 MB float64)


GRID_LIMIT = 6.0  # N(0, 1) puts 2e-9 of its mass outside [-6, 6]: below every accuracy quoted here
GRID_LEVELS = {1: (100, 200, 400, 800, 1600, 3200, 6400, 12800), 2: (40, 80, 160, 320, 640, 1280)}  # nodes per dim
GRID_TOL = 1e-5  # nats: two half-shifted grids agreeing this well have converged (see log_marginal_grid)
_BLOCK = 8  # 2D: nodes per block side (fewer on coarse grids, so a block is never wider than _BLOCK_WIDTH)
_BLOCK_WIDTH = 0.6  # latent units: small enough for the block's corners to bound its decoded outputs
_TAIL = 25.0  # nats: a block is skipped for x when its bound is this far below x's best node


@torch.no_grad()
def log_marginal_grid(model: nn.Module, x: torch.Tensor, grid_points: int | None = None,
                      limit: float = GRID_LIMIT, tol: float = GRID_TOL, prune: bool = True) -> torch.Tensor:
    """log p(x) = log integral p(x|z) N(z; 0, I) dz for a 1D or 2D latent, by quadrature: (B,) float64.

    Midpoint rule on uniform grids over [-limit, limit]^d. For a smooth integrand that vanishes
    at the ends, its error is exponentially small once the spacing h is below the width s of
    the posterior p(z|x) (~2 exp(-2 pi^2 s^2 / h^2) on a Gaussian), and it oscillates with the
    grid's position: shifting the grid by h/2 flips its sign. So each x gets two grids, the
    second shifted by h/2 in every dimension; where they agree to ``tol`` the mean of the two
    is returned, otherwise h is halved for that x (``GRID_LEVELS``; the finest level is
    returned as is). ``grid_points=n`` instead uses the one unshifted grid of n nodes per
    dimension, the reference the tests compare with.

    Accuracy verified: on VAEs trained 3000 steps on moons, eight_gaussians, spiral and ring
    (latent 1 and 2; encoder stds down to 0.023), the adaptive result agreed with fixed grids
    of spacing 0.005 (2D) / 0.0005 (1D) to within 1.6e-6 nats on every point checked, and the
    mean of 5 IWAE runs with k = 20,000 sat 0.000-0.006 nats below it on average. The tests
    (tests/engine/test_vae.py) check it against fixed fine grids (< 1e-5), brute-force prior
    sampling (400,000 draws, within 4 standard errors) and IWAE (E[IWAE_k] <= log p(x)).

    With a 2D latent and a Gaussian decoder (and ``prune``), a grid is cut into blocks of up to
    8 x 8 nodes, at most 0.6 wide, and a block is decoded and summed only for the x that can
    get mass from it: with the block's outputs within ``extent`` (sigma units; 1.5 times the
    largest distance of a corner's output from the centre's) of its centre's, the integrand in
    it is at most exp(-(|x - f(centre)| - extent)^2 / 2) times its largest prior density, and
    blocks whose bound is 25 nats below x's best block centre are skipped. ``prune=False``
    sums every node (the check in the tests: the two agree to ~1e-12).
    """
    d = model.config.latent_dim
    if d not in (1, 2):
        raise ValueError(f"log_marginal_grid needs a 1D or 2D latent, got latent_dim={d}")
    x64 = x.detach().double().cpu()
    if x64.shape[0] == 0:
        return torch.empty(0, dtype=torch.float64)
    if grid_points is not None:
        return _grid_sum(model, x64, int(grid_points), limit, 0.0, prune)
    result = torch.empty(x64.shape[0], dtype=torch.float64)
    todo = torch.arange(x64.shape[0])
    for n in GRID_LEVELS[d]:
        a, b = (_grid_sum(model, x64[todo], n, limit, shift, prune) for shift in (0.0, 0.5))
        done = ((a - b).abs() <= tol) | (n == GRID_LEVELS[d][-1])
        result[todo[done]] = torch.logaddexp(a, b)[done] - math.log(2.0)
        todo = todo[~done]
        if len(todo) == 0:
            break
    return result


def _grid_sum(model: nn.Module, x: torch.Tensor, n: int, limit: float, shift: float, prune: bool) -> torch.Tensor:
    """Midpoint rule with n nodes per dimension on [-limit, limit]^d moved by shift * h: (B,)."""
    d = model.config.latent_dim
    if d == 2 and prune and model.config.likelihood == "gaussian":
        return _pruned_2d(model, x, n, limit, shift)
    h = 2.0 * limit / n
    axis = -limit + h * (torch.arange(n, dtype=torch.float64) + 0.5 + shift)
    z = axis[:, None] if d == 1 else torch.cartesian_prod(axis, axis)  # (n^d, d)
    log_w = d * math.log(h) + _log_prior(z)
    chunk = max(1, _MAX_ELEMENTS // max(x.shape[0], model.config.data_dim))
    total = torch.full((x.shape[0],), -math.inf, dtype=torch.float64)
    for start in range(0, z.shape[0], chunk):
        ll = _loglik_matrix(model, x, _decode64(model, z[start:start + chunk]))  # (B, chunk)
        total = torch.logaddexp(total, torch.logsumexp(ll + log_w[start:start + chunk], dim=1))
    return total


def _log_prior(z: torch.Tensor) -> torch.Tensor:
    return (-0.5 * z.pow(2) - 0.5 * _LOG_2PI).sum(-1)


def _decode64(model: nn.Module, z: torch.Tensor) -> torch.Tensor:
    ref = next(model.parameters())
    return model.decode(z.to(ref)).double().cpu()


def _loglik_matrix(model: nn.Module, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """log p(x_b | z_g) for all pairs, (B, G) float64, as matrix products (no (B, G, D) tensor)."""
    if model.config.likelihood == "bernoulli":
        return x @ out.T - F.softplus(out).sum(1)  # x log s(o) + (1 - x) log(1 - s(o)) = x o - softplus(o)
    var = model.obs_std().detach().double().cpu() ** 2  # (D,)
    sq = (x ** 2 / var).sum(1)[:, None] - 2 * (x / var) @ out.T + (out ** 2 / var).sum(1)[None, :]
    return -0.5 * sq - (0.5 * torch.log(var) + 0.5 * _LOG_2PI).sum()


def _pruned_2d(model: nn.Module, x: torch.Tensor, n: int, limit: float, shift: float) -> torch.Tensor:
    """The 2D midpoint rule with blocks skipped per x where they cannot matter (see log_marginal_grid)."""
    m = int(min(_BLOCK, max(1, _BLOCK_WIDTH * n // (2.0 * limit))))  # nodes per block side
    blocks = -(-n // m)
    n = blocks * m  # n rounded up to whole blocks
    h, w = 2.0 * limit / n, 2.0 * limit / blocks
    inv_std = 1.0 / model.obs_std().detach().double().cpu()  # (D,) distances are in sigma units
    edges = torch.linspace(-limit, limit, blocks + 1, dtype=torch.float64) + shift * h
    mids = edges[:-1] + 0.5 * w
    centres = torch.cartesian_prod(mids, mids)  # (K, 2), K = blocks^2, block (i, j) -> i * blocks + j
    f_c = _decode64(model, centres) * inv_std  # (K, D)
    f_e = (_decode64(model, torch.cartesian_prod(edges, edges)) * inv_std).reshape(blocks + 1, blocks + 1, -1)
    corners = torch.stack([f_e[:-1, :-1], f_e[:-1, 1:], f_e[1:, :-1], f_e[1:, 1:]], dim=2)  # (b, b, 4, D)
    # extent of a block's outputs around its centre's; 1.5x for the curvature between corners
    extent = 1.5 * (corners.reshape(-1, 4, f_c.shape[1]) - f_c[:, None]).norm(dim=-1).amax(1)  # (K,)
    nearest = torch.where(edges[:-1] * edges[1:] < 0, 0.0, torch.minimum(edges[:-1].abs(), edges[1:].abs()))
    prior_max = _log_prior(torch.cartesian_prod(nearest, nearest))  # (K,) the block's largest prior density
    dist = torch.cdist(x * inv_std, f_c)  # (B, K)
    best = (-0.5 * dist.pow(2) + _log_prior(centres)).amax(1, keepdim=True)  # a node value: a lower bound
    keep = (-0.5 * (dist - extent).clamp(min=0).pow(2) + prior_max) >= best - _TAIL  # (B, K)
    used = keep.any(0).nonzero().squeeze(1)  # (R,) blocks someone needs
    offsets = h * (torch.arange(m, dtype=torch.float64) + 0.5) - 0.5 * w
    local = torch.cartesian_prod(offsets, offsets)  # (m^2, 2) node offsets from a block centre
    nodes = centres[used][:, None] + local  # (R, m^2, 2)
    out = (_decode64(model, nodes.reshape(-1, 2)) * inv_std).T.reshape(-1, len(used), m * m)  # (D, R, m^2)
    log_w = 2 * math.log(h) + _log_prior(nodes) + inv_std.log().sum() - 0.5 * inv_std.numel() * _LOG_2PI
    pairs = keep[:, used].nonzero()  # (P, 2): (example, used block)
    xs = x * inv_std
    per_pair = []
    step = max(1, _MAX_ELEMENTS // (m * m))
    for start in range(0, len(pairs), step):
        b, r = pairs[start:start + step].unbind(1)
        sq = sum((xs[b, k, None] - out[k, r]).square() for k in range(len(out)))  # (p, m^2); D is small
        per_pair.append(torch.logsumexp(log_w[r] - 0.5 * sq, dim=1))
    values = torch.cat(per_pair)  # (P,)
    b = pairs[:, 0]
    peak = torch.full((x.shape[0],), -math.inf, dtype=torch.float64).scatter_reduce(0, b, values, "amax")
    sums = torch.zeros(x.shape[0], dtype=torch.float64).index_add_(0, b, torch.exp(values - peak[b]))
    return peak + sums.log()
