"""Gaussian kernel density estimates: ``GaussianKDE`` (1D) and ``MultivariateKDE`` (d dimensions).

Conventions
-----------
* Shapes, the log domain, read-only arrays and hashing by value are those of ``engine.gaussians``,
  whose helpers these classes share.
* Kernel density estimates use the Gaussian kernel with standard deviation ``bandwidth`` (h):
  p(x) = 1/n sum_i N(x; x_i, h^2 I). Sampling picks a training point uniformly and adds
  N(0, h^2 I) noise, so for small h the samples are near-copies of the training data.
* ``GaussianKDE`` is one-dimensional and is an ``engine.distributions.Distribution`` (pdf, logpdf,
  cdf, sf, ppf, score, sample, shift, breakpoints, ...), so it can be handed to
  ``engine.divergences``. Its ``breakpoints()`` are a grid of spacing ``bandwidth`` covering
  +-13 bandwidths around every kernel: the density varies on the scale of the bandwidth, and the
  quadrature in ``engine.divergences`` / ``engine.likelihood`` needs panels that narrow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from engine.checks import positive
from engine.distributions import Z_EFFECTIVE, Distribution
from engine.gaussians import LOG_2PI, _ByValue, _count, _frozen, _points, logsumexp
from engine.quadrature import solve_increasing

_CHUNK = 1 << 15  # elements per (rows, kernels) temporary: 256 KiB of float64 stays in L2 cache (measured fastest)
_CUTOFF = 40.0  # kernels whose term is < e^-40 times the largest are skipped (see GaussianKDE._sweep)
_KDE_PANEL_REACH = 13  # grid edges up to 13 h from a kernel: beyond 12 h it holds < 1e-33 of its mass


def _bandwidth(h) -> float:
    return positive(h, "bandwidth")


@dataclass(frozen=True, eq=False)
class MultivariateKDE(_ByValue):
    """Gaussian KDE with isotropic kernels N(x_i, h^2 I) on training points (n, d)."""

    points: np.ndarray
    bandwidth: float
    _key_fields = ("points", "bandwidth")

    def __post_init__(self):
        pts = _frozen(self.points, "points", 2)
        if pts.shape[0] < 1:
            raise ValueError("a KDE needs at least one training point")
        object.__setattr__(self, "points", pts)
        object.__setattr__(self, "bandwidth", _bandwidth(self.bandwidth))

    @property
    def dim(self) -> int:
        return self.points.shape[1]

    def logpdf(self, points):
        x, single = _points(points, self.dim)
        n, h = len(self.points), self.bandwidth
        out = np.empty(len(x))
        rows = max(1, _CHUNK // n)
        for s in range(0, len(x), rows):
            diff = (x[s:s + rows, None, :] - self.points[None]) / h  # (rows, n, d)
            out[s:s + rows] = logsumexp(-0.5 * np.einsum("rnd,rnd->rn", diff, diff), axis=1)
        out -= math.log(n) + self.dim * (math.log(h) + 0.5 * LOG_2PI)
        return out[0] if single else out

    def pdf(self, points):
        return np.exp(self.logpdf(points))

    def sample(self, n, rng=None) -> np.ndarray:
        """(n, d): a uniformly chosen training point plus N(0, h^2 I) noise."""
        gen, n = np.random.default_rng(rng), _count(n)
        idx = gen.integers(0, len(self.points), size=n)
        return self.points[idx] + self.bandwidth * gen.standard_normal((n, self.dim))


@dataclass(frozen=True, eq=False)
class GaussianKDE(_ByValue, Distribution):
    """1D Gaussian KDE (1/n) sum_i N(x_i, h^2): an ``engine.distributions.Distribution``.

    ``points`` are stored sorted. Every evaluation is vectorised over (query, kernel) pairs in
    chunks of about ``_CHUNK`` elements, so memory stays bounded for any number of queries.
    """

    points: np.ndarray
    bandwidth: float
    _key_fields = ("points", "bandwidth")

    def __post_init__(self):
        pts = np.sort(_frozen(self.points, "points", 1))
        if pts.size < 1:
            raise ValueError("a KDE needs at least one training point")
        pts.setflags(write=False)
        object.__setattr__(self, "points", pts)
        object.__setattr__(self, "bandwidth", _bandwidth(self.bandwidth))

    # ------------------------------------------------------------ kernel sums
    def _nearest_z2(self, x):
        """((x - nearest kernel centre) / h)^2 for finite x (m,): the largest kernel term."""
        c = self.points
        j = np.clip(np.searchsorted(c, x), 1, max(c.size - 1, 1))
        d = np.minimum(np.abs(x - c[j - 1]), np.abs(x - c[np.minimum(j, c.size - 1)]))
        return (d / self.bandwidth) ** 2

    def _sweep(self, x, fn):
        """Concatenate fn(centres, rel_weights, rows of x) over chunks of the finite queries x (m,).

        rel_weights[r, j] = exp(-(z_j^2 - z_min^2) / 2) <= 1 is kernel j's term relative to the
        largest one for query r. Kernels with z_j^2 > z_min^2 + 2 _CUTOFF (relative term below
        e^-40 ~ 4e-18) are left out, so each query only visits the sorted centres in the window
        |x - c| <= h sqrt(z_min^2 + 2 _CUTOFF): for small h a few dozen instead of all n (the sum
        changes by < n 4e-18 relative). centres is (rows, W), or (1, n) when windows are wide.
        """
        c, h = self.points, self.bandwidth
        z2 = self._nearest_z2(x)
        reach = h * np.sqrt(z2 + 2.0 * _CUTOFF)
        lo, hi = np.searchsorted(c, x - reach, "left"), np.searchsorted(c, x + reach, "right")
        width = int((hi - lo).max())
        dense = 3 * width >= c.size  # gathering costs about as much as the exps it saves
        rows = max(1, _CHUNK // (c.size if dense else width))
        out = []
        for s in range(0, x.size, rows):
            xs, zs = x[s:s + rows], z2[s:s + rows]
            if dense:
                cc, valid = c[None, :], None
            else:
                k = np.arange(width)
                idx = lo[s:s + rows, None] + k  # (rows, W)
                valid = k < (hi - lo)[s:s + rows, None]
                cc = c[np.minimum(idx, c.size - 1)]
            t = (xs[:, None] - cc) * (1.0 / h)
            t *= t
            t -= zs[:, None]
            t *= -0.5
            w = np.exp(t, out=t)
            if valid is not None:
                w *= valid
            out.append(fn(np.broadcast_to(cc, w.shape), w, xs, zs))
        return np.concatenate(out)

    def _map(self, x, finite_fn, nan=np.nan, neg=-np.inf, pos=-np.inf):
        """Evaluate finite_fn on the finite entries of x (any shape); fixed values elsewhere."""
        x = np.asarray(x, dtype=float)
        flat = x.ravel()
        out = np.where(np.isnan(flat), nan, np.where(flat < 0, neg, pos))
        ok = np.isfinite(flat)
        if ok.any():
            out[ok] = finite_fn(flat[ok])
        return out.reshape(x.shape)[()] if x.ndim == 0 else out.reshape(x.shape)

    def logpdf(self, x):
        norm = math.log(self.points.size * self.bandwidth) + 0.5 * LOG_2PI

        def finite(xf):
            return self._sweep(xf, lambda cc, w, xs, z2: -0.5 * z2 + np.log(w.sum(axis=1))) - norm

        return self._map(x, finite)

    def pdf(self, x):
        return np.exp(self.logpdf(x))

    def score(self, x):
        h2 = self.bandwidth**2

        def chunk(cc, w, xs, z2):
            return (np.einsum("rj,rj->r", w, cc) / w.sum(axis=1) - xs) / h2  # responsibility-weighted pull

        return self._map(x, lambda xf: self._sweep(xf, chunk), neg=0.0, pos=0.0)

    def _mean_ndtr(self, x, sign):
        rows = max(1, _CHUNK // self.points.size)
        inv_h = sign / self.bandwidth
        return np.concatenate([ndtr((x[s:s + rows, None] - self.points) * inv_h).mean(axis=1)
                               for s in range(0, x.size, rows)])

    def cdf(self, x):
        return self._map(x, lambda xf: self._mean_ndtr(xf, 1.0), neg=0.0, pos=1.0)

    def sf(self, x):
        return self._map(x, lambda xf: self._mean_ndtr(xf, -1.0), neg=1.0, pos=0.0)

    def ppf(self, u):
        """Newton/bisection on cdf (sf above 1/2) inside [x_min + h q, x_max + h q], q = Phi^-1(u)."""
        u = np.asarray(u, dtype=float)
        out = np.where(u == 0.0, -np.inf, np.where(u == 1.0, np.inf, np.nan))
        inner = (u > 0.0) & (u < 1.0)
        if inner.any():
            ui = u[inner]
            q = self.bandwidth * ndtri(ui)
            lo, hi = self.points[0] + q, self.points[-1] + q  # F is squeezed between the extreme kernels' CDFs
            upper = ui > 0.5
            target = np.where(upper, 1.0 - ui, ui)  # 1 - u is exact for u > 1/2

            def fun(x, sel):
                up = upper[sel]
                g = np.empty_like(x)
                g[~up] = self.cdf(x[~up]) - target[sel][~up]
                g[up] = target[sel][up] - self.sf(x[up])
                return g, self.pdf(x)

            x0 = np.clip(np.quantile(self.points, ui), lo, hi)
            out[inner] = solve_increasing(fun, lo, hi, x0, atol=1e-14 * math.sqrt(self.var))
        return out[()] if out.ndim == 0 else out

    # ------------------------------------------------------------ the rest of the interface
    @property
    def mean(self) -> float:
        return float(self.points.mean())

    @property
    def var(self) -> float:
        return float(self.points.var()) + self.bandwidth**2  # data spread plus kernel spread

    def sample(self, n, rng=None) -> np.ndarray:
        gen, n = np.random.default_rng(rng), _count(n)
        return self.points[gen.integers(0, self.points.size, size=n)] + self.bandwidth * gen.standard_normal(n)

    def shift(self, theta) -> GaussianKDE:
        return GaussianKDE(self.points + float(theta), self.bandwidth)

    def breakpoints(self) -> np.ndarray:
        """A grid of spacing h within 13 h of every kernel, plus edges graded towards every kink.

        Between two kernels a gap D > 4 h apart, log p switches from one kernel's parabola to the
        other's within ~h^2 / D of the midpoint (the density's complex zeros sit at
        mid +- i pi h^2 / D), far narrower than h when D >> h. Edges at mid +- t0 2^j,
        t0 = pi h^2 / D, keep every panel about as wide as its distance to those zeros, which is
        what Gauss-Legendre needs to converge geometrically on log-density integrands.
        """
        c, h = self.points, self.bandwidth
        reach = np.arange(-_KDE_PANEL_REACH, _KDE_PANEL_REACH + 1)
        cells = np.unique(np.round(c / h).astype(np.int64)[:, None] + reach)
        gap = np.diff(c)
        big = gap > 4.0 * h
        if not big.any():
            return cells * h
        mid, half = 0.5 * (c[:-1] + c[1:])[big], 0.5 * gap[big]
        t0 = math.pi * h * h / gap[big]
        steps = 2.0 ** np.arange(int(np.ceil(np.log2((half / t0).max()))) + 1)
        off = t0[:, None] * steps  # (G, J)
        keep = off < half[:, None]
        graded = np.concatenate([mid, (mid[:, None] - off)[keep], (mid[:, None] + off)[keep]])
        return np.union1d(cells * h, graded)

    def support_intervals(self):
        return ((-math.inf, math.inf),)

    @property
    def effective_support(self) -> tuple[float, float]:
        reach = Z_EFFECTIVE * self.bandwidth
        return float(self.points[0] - reach), float(self.points[-1] + reach)
