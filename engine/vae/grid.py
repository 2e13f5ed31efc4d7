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

from engine.gaussians import LOG_2PI

_MAX_ELEMENTS = 1 << 23  # decoder outputs / pair terms held at once (~64 MB float64)


GRID_LIMIT = 6.0  # first box [-6, 6]^d: N(0, 1) puts 2e-9 of its mass outside; grown where a posterior needs it
# nodes per dimension of G_h across the first box at each level; G_{h/2} has twice as many (2D: 0.0047 apart at last)
GRID_LEVELS = {1: (100, 200, 400, 800, 1600, 3200, 6400, 12800), 2: (40, 80, 160, 320, 640, 1280)}
GRID_TOL = 1e-5  # nats: G_h and G_{h/2} agreeing this well have converged
_GROWTHS = 16  # times a side of the box may move out by limit / 2: posteriors up to 6 + 16 * 3 = 54 from the origin
_EDGE = 0.01  # the outermost row of nodes on a side may hold at most this fraction of ``tol`` of the sum
_BLOCK = 8  # 2D: nodes per block side (fewer on coarse grids, so a block is never wider than _BLOCK_WIDTH)
_BLOCK_WIDTH = 0.6  # latent units: small enough for the block's corners to bound its decoded outputs
_TAIL = 25.0  # nats: a block is skipped for x when its bound is this far below x's best node
_GAP = 3.0  # sigma: where x may have mass, G_{h/2}'s neighbouring nodes decode at most this far apart,
#   so a spike between two of them reaches one at >= e^-1.1 of its height (1.5 sigma off)
_RESOLVE = 16.0  # nats: "may have mass": the integrand may be within this of x's largest (e^-16 = 1e-7)


@torch.no_grad()
def log_marginal_grid(model: nn.Module, x: torch.Tensor, grid_points: int | None = None,
                      limit: float = GRID_LIMIT, tol: float = GRID_TOL, prune: bool = True) -> torch.Tensor:
    """log p(x) = log integral p(x|z) N(z; 0, I) dz for a 1D or 2D latent, by quadrature: (B,) float64.

    NaN where the quadrature cannot vouch for ``tol`` (a posterior too thin for the finest level,
    or beyond the largest box): an honest "unknown" instead of a wrong number.

    Convergence. The rectangle rule on a lattice of spacing h has an error that is exponentially
    small once h is below the width s of the posterior p(z|x) in every direction (~2 exp(-2 pi^2
    s^2 / h^2) on a Gaussian). Level l (``GRID_LEVELS[d][l]`` nodes per dimension across the first
    box) compares that grid G_h with G_{h/2}, which is G_h plus its 2^d - 1 copies shifted by h/2
    along the axes (only the new nodes are summed). Where they agree to ``tol``, G_{h/2} is
    returned (its own error is far smaller, ~ the 4th power on a Gaussian); otherwise that x goes
    on to the next level. Halving h along every axis is what makes the test sound: the error terms
    of a lattice sum come from the directions of its dual lattice, and G_h - G_{h/2} holds every one
    that G_h does not resolve. The test this replaces compared G_h with G_h shifted by (h/2, h/2):
    for a posterior that is a thin ridge along the diagonal that shift slides along the ridge, and
    the two agreed to 1e-9 while both were 10 nats off (tests/engine/test_vae_grid.py).

    No two grids see a feature that lies between all their nodes. Where a decoder folds, the
    posterior has a spike as narrow as sigma / |f'(z)|; G_h and G_{h/2} missing it alike agreed to
    1e-5 with 2e-3 nats gone (a tanh fold; 4e-4 on a VAE trained 3000 steps on eight_gaussians).
    So for Gaussian decoders a level is also refused while neighbouring nodes of G_{h/2} decode more
    than ``_GAP`` sigma apart where x may have mass (2D: measured inside each block); at the last
    level the agreement alone decides.

    The box. It starts at [-limit, limit]^d, which holds the prior, on the lattice the levels refine.
    At every level the outermost row of G_{h/2}'s nodes on each side must hold less than ``_EDGE *
    tol`` of its sum: beyond a row where the integrand decays outwards, the mass is of the order of
    the row's. Where a row holds more (a posterior centred at 6.5 lost 15 nats to the old fixed box),
    that side moves out by limit / 2 and those x start again, up to ``_GROWTHS`` times. A second mode
    beyond the box with no mass at its edge in between is not seen: for log-concave posteriors
    (linear decoders) and trained toy VAEs the integrand rises towards its mode.

    ``grid_points=n`` instead sums the one grid of n nodes per dimension on [-limit, limit]
    (midpoints of n cells), with no checks: the reference the tests compare with.

    Accuracy verified: linear Gaussian decoders against their closed form p(x) = N(b, W W^T +
    sigma^2 I) (thin diagonal ridges, posteriors centred far outside [-6, 6], random ones), tanh
    folds against scipy's quad (tests/engine/test_vae_grid.py); trained toy VAEs against fixed fine
    grids, brute-force prior sampling and IWAE (tests/engine/test_vae.py).

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
        n = int(grid_points)
        h = 2.0 * limit / n
        axis = -limit + h * (torch.arange(n, dtype=torch.float64) + 0.5)
        return _grid_sum(model, x64, [axis] * d, h, prune)[0]
    n0 = GRID_LEVELS[d][0]  # a multiple of 4: a side grows by n0 // 4 nodes = limit / 2
    h0 = 2.0 * limit / n0
    box = torch.tensor([[0, n0]] * d)  # per dim: first node and count on the level-0 lattice -limit + h0 (i + 1/2)
    result = torch.full((x64.shape[0],), math.nan, dtype=torch.float64)
    todo = torch.arange(x64.shape[0])
    for _ in range(_GROWTHS + 1):
        start = -limit + h0 * (box[:, 0].double() + 0.5)  # (d,) the box's first node
        values, edge = _levels(model, x64[todo], start, box[:, 1], h0, tol, prune)
        inside = ~edge.flatten(1).any(1)
        result[todo[inside]] = values[inside]
        todo, edge = todo[~inside], edge[~inside]
        if len(todo) == 0:
            break
        low, high = edge.any(0).long().unbind(1)  # (d,) the sides some remaining posterior reaches
        box[:, 0] -= low * (n0 // 4)
        box[:, 1] += (low + high) * (n0 // 4)
    return result


def _levels(model: nn.Module, x: torch.Tensor, start: torch.Tensor, counts: torch.Tensor, h: float, tol: float,
            prune: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The refinement of log_marginal_grid on one box: (values (B,), edge (B, d, 2) bool).

    Level l has G_h on the nodes start + h_l i (h_l = h / 2^l, i < counts 2^l per dimension) and
    G_{h/2} on start + (h_l / 2) j, which holds G_h's nodes (all j even) and 2^d - 1 times as many
    new ones: only those are summed. values: G_{h/2} at the first level where it passes (|G_h -
    G_{h/2}| <= tol, and the gaps), NaN if none; edge: whether a side's outermost row of G_{h/2}
    held too much of its sum."""
    d = len(start)
    values = torch.full((x.shape[0],), math.nan, dtype=torch.float64)
    edge = torch.zeros((x.shape[0], d, 2), dtype=torch.bool)
    todo = torch.arange(x.shape[0])
    coarse = None
    for level in range(len(GRID_LEVELS[d])):
        step = h / 2 ** (level + 1)  # G_{h/2}'s spacing
        axes = [start[k] + step * torch.arange(int(counts[k]) << (level + 1), dtype=torch.float64) for k in range(d)]
        if coarse is None:
            coarse, _ = _grid_sum(model, x, [ax[::2] for ax in axes], 2 * step, prune)
        xs = x[todo]
        new, gap = _grid_sum(model, xs, axes, step, prune, new_only=True)
        fine = torch.logaddexp(coarse - d * math.log(2.0), new)
        edge[todo] |= _edge_share(model, xs, axes, step, fine) > math.log(_EDGE * tol)
        done = (coarse - fine).abs() <= tol
        if gap is not None and level < len(GRID_LEVELS[d]) - 1:
            done &= gap <= _GAP  # else a feature between the nodes could be missed by G_h and G_{h/2} alike
        values[todo[done]] = fine[done]
        more = ~done & ~edge[todo].flatten(1).any(1)
        todo, coarse = todo[more], fine[more]  # G_{h/2} is the next level's G_h
        if len(todo) == 0:
            break
    return values, edge


def _nodes(axes: list[torch.Tensor]) -> torch.Tensor:
    """All combinations of the per-dimension node coordinates, (n_1 ... n_d, d), first axis slowest."""
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, len(axes))


def _grid_sum(model: nn.Module, x: torch.Tensor, axes: list[torch.Tensor], h: float, prune: bool,
              new_only: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """log of h^d sum_z p(x|z) N(z; 0, I) over the lattice with coordinates ``axes`` (spacing h): (B,);
    and with ``new_only`` for Gaussian decoders, (B,) the largest distance in sigma units between the
    decoded outputs of neighbouring nodes where x may have mass (else None).

    ``new_only``: only the nodes with an odd index in some dimension (those not on the lattice of
    spacing 2h that starts at the same node) are summed."""
    gaussian = model.config.likelihood == "gaussian"
    if len(axes) == 2 and gaussian and (prune or new_only):  # unpruned: still the gaps of the pruned path
        total, gap = _pruned_2d(model, x, axes, h, new_only)
        if prune:
            return total, gap
    else:
        gap = _gap_1d(model, x, axes[0]) if gaussian and new_only else None
    z = _nodes(axes)
    if new_only:
        z = z[(_nodes([torch.arange(len(ax)) for ax in axes]).long() % 2).any(1)]
    return _log_sum(model, x, z, len(axes) * math.log(h)), gap


def _gap_1d(model: nn.Module, x: torch.Tensor, axis: torch.Tensor) -> torch.Tensor:
    """(B,) the largest output distance (sigma units) between neighbouring nodes of ``axis`` (n,) where
    the integrand at either is within _RESOLVE nats of x's largest."""
    inv_std = 1.0 / model.obs_std().detach().double().cpu()
    out = _decode64(model, axis[:, None]) * inv_std  # (n, D)
    steps = (out[1:] - out[:-1]).norm(dim=1)  # (n - 1,)
    gaps = []
    for xs in (x * inv_std).split(max(1, _MAX_ELEMENTS // len(axis))):
        log_f = -0.5 * torch.cdist(xs, out).pow(2) + _log_prior(axis[:, None])  # (b, n) up to a constant
        matter = log_f >= log_f.amax(1, keepdim=True) - _RESOLVE
        gaps.append((steps * (matter[:, 1:] | matter[:, :-1])).amax(1))
    return torch.cat(gaps)


def _edge_share(model: nn.Module, x: torch.Tensor, axes: list[torch.Tensor], h: float,
                total: torch.Tensor) -> torch.Tensor:
    """log of the share of the grid's sum ``total`` in its outermost row of nodes on each side: (B, d, 2)."""
    d = len(axes)
    rows = [_nodes([ax[end:][:1] if j == k else ax for j, ax in enumerate(axes)]) for k in range(d) for end in (0, -1)]
    share = torch.stack([_log_sum(model, x, z, d * math.log(h)) for z in rows], 1)  # (B, 2d)
    return share.reshape(-1, d, 2) - total[:, None, None]


def _log_sum(model: nn.Module, x: torch.Tensor, z: torch.Tensor, log_h: float) -> torch.Tensor:
    """log sum_g h^d p(x_b | z_g) N(z_g; 0, I) for nodes z (G, d): (B,), decoded in chunks."""
    log_w = log_h + _log_prior(z)
    chunk = max(1, _MAX_ELEMENTS // max(x.shape[0], model.config.data_dim))
    total = torch.full((x.shape[0],), -math.inf, dtype=torch.float64)
    for begin in range(0, z.shape[0], chunk):
        ll = _loglik_matrix(model, x, _decode64(model, z[begin:begin + chunk]))  # (B, chunk)
        total = torch.logaddexp(total, torch.logsumexp(ll + log_w[begin:begin + chunk], dim=1))
    return total


def _log_prior(z: torch.Tensor) -> torch.Tensor:
    return (-0.5 * z.pow(2) - 0.5 * LOG_2PI).sum(-1)


def _decode64(model: nn.Module, z: torch.Tensor) -> torch.Tensor:
    ref = next(model.parameters())
    return model.decode(z.to(ref)).double().cpu()


def _loglik_matrix(model: nn.Module, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """log p(x_b | z_g) for all pairs, (B, G) float64, as matrix products (no (B, G, D) tensor)."""
    if model.config.likelihood == "bernoulli":
        return x @ out.T - F.softplus(out).sum(1)  # x log s(o) + (1 - x) log(1 - s(o)) = x o - softplus(o)
    var = model.obs_std().detach().double().cpu() ** 2  # (D,)
    sq = (x ** 2 / var).sum(1)[:, None] - 2 * (x / var) @ out.T + (out ** 2 / var).sum(1)[None, :]
    return -0.5 * sq - (0.5 * torch.log(var) + 0.5 * LOG_2PI).sum()


def _block_side(counts: list[int], h: float, even: bool) -> int:
    """Nodes per block side: the largest power of 2 that divides every count and keeps blocks at most
    _BLOCK_WIDTH wide (``even``: at least 2, so every block holds the same pattern of odd and even nodes)."""
    m = 2 if even else 1
    while 2 * m <= _BLOCK and 2 * m * h <= _BLOCK_WIDTH * (1 + 1e-9) and all(n % (2 * m) == 0 for n in counts):
        m *= 2
    return m


def _block_gaps(out: torch.Tensor, index: torch.Tensor, m: int) -> torch.Tensor:
    """(R,) the largest distance between the outputs ``out`` (D, R, L) of neighbouring nodes of a block,
    decoded at the block indices ``index`` (L, 2) of m x m (all of them, or those odd in some dimension:
    then along odd rows and columns). Only inside blocks: a cliff lying exactly on block boundaries
    in every row and column is not seen."""
    full = out.new_full((len(out), out.shape[1], m, m), math.nan)
    full[:, :, index[:, 0], index[:, 1]] = out
    steps = [full.diff(dim=2).square().sum(0), full.diff(dim=3).square().sum(0)]  # (R, m - 1, m), (R, m, m - 1)
    return torch.stack([g.nan_to_num(0.0).flatten(1).amax(1) for g in steps]).amax(0).sqrt()


def _pruned_2d(model: nn.Module, x: torch.Tensor, axes: list[torch.Tensor], h: float,
               new_only: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The 2D rectangle rule with blocks skipped per x where they cannot matter (see log_marginal_grid),
    and with ``new_only`` the largest output gap between neighbouring nodes for each x (see _grid_sum)."""
    m = _block_side([len(ax) for ax in axes], h, new_only)
    w = m * h
    edges = [torch.cat([ax[::m], ax[-1:] + h]) - 0.5 * h for ax in axes]  # block boundaries per dim (blocks + 1,)
    inv_std = 1.0 / model.obs_std().detach().double().cpu()  # (D,) distances are in sigma units
    centres = _nodes([e[:-1] + 0.5 * w for e in edges])  # (K, 2), block (i, j) -> i * blocks_1 + j
    f_c = _decode64(model, centres) * inv_std  # (K, D)
    f_e = (_decode64(model, _nodes(edges)) * inv_std).reshape(len(edges[0]), len(edges[1]), -1)
    corners = torch.stack([f_e[:-1, :-1], f_e[:-1, 1:], f_e[1:, :-1], f_e[1:, 1:]], dim=2)  # (b0, b1, 4, D)
    # extent of a block's outputs around its centre's; 1.5x for the curvature between corners
    extent = 1.5 * (corners.reshape(-1, 4, f_c.shape[1]) - f_c[:, None]).norm(dim=-1).amax(1)  # (K,)
    nearest = [torch.where(e[:-1] * e[1:] < 0, 0.0, torch.minimum(e[:-1].abs(), e[1:].abs())) for e in edges]
    prior_max = _log_prior(_nodes(nearest))  # (K,) the block's largest prior density
    dist = torch.cdist(x * inv_std, f_c)  # (B, K)
    best = (-0.5 * dist.pow(2) + _log_prior(centres)).amax(1, keepdim=True)  # a node value: a lower bound
    bound = -0.5 * (dist - extent).clamp(min=0).pow(2) + prior_max  # (B, K)
    keep = bound >= best - _TAIL
    used = keep.any(0).nonzero().squeeze(1)  # (R,) blocks someone needs
    index = _nodes([torch.arange(m)] * 2)  # (m^2, 2) a block's nodes; new_only: a block starts at an even index
    index = index[(index % 2).any(1)] if new_only else index
    nodes = centres[used][:, None] + h * (index.double() + 0.5) - 0.5 * w  # (R, L, 2)
    out = (_decode64(model, nodes.reshape(-1, 2)) * inv_std).T.reshape(-1, len(used), len(index))  # (D, R, L)
    gap = (_block_gaps(out, index, m) * (bound[:, used] >= best - _RESOLVE)).amax(1) if new_only else None  # (B,)
    log_w = 2 * math.log(h) + _log_prior(nodes) + inv_std.log().sum() - 0.5 * inv_std.numel() * LOG_2PI
    # log h^2 p(x|z) N(z) = c(z) + x.f(z) - |x|^2 / 2 with c = log_w - |f|^2 / 2 (sigma units): 3 gathers per pair
    c = log_w - 0.5 * out.square().sum(0)  # (R, m^2)
    pairs = keep[:, used].nonzero()  # (P, 2): (example, used block)
    xs = x * inv_std
    half_sq = 0.5 * xs.square().sum(1)  # (B,)
    per_pair = []
    step = max(1, _MAX_ELEMENTS // len(index))
    for begin in range(0, len(pairs), step):
        b, r = pairs[begin:begin + step].unbind(1)
        terms = c[r] - half_sq[b, None]  # (p, m^2)
        for k in range(len(out)):  # D is small (2D points)
            terms.addcmul_(xs[b, k, None], out[k, r])
        per_pair.append(torch.logsumexp(terms, dim=1))
    values = torch.cat(per_pair)  # (P,)
    b = pairs[:, 0]
    peak = torch.full((x.shape[0],), -math.inf, dtype=torch.float64).scatter_reduce(0, b, values, "amax")
    sums = torch.zeros(x.shape[0], dtype=torch.float64).index_add_(0, b, torch.exp(values - peak[b]))
    return peak + sums.log(), gap
