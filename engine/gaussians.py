"""Fitted density models: multivariate Gaussians and Gaussian mixtures, and the helpers they share.

Conventions
-----------
* A d-dimensional model takes points as an (m, d) array and returns (m,) arrays; a single point
  of shape (d,) gives a scalar. ``logpdf`` is computed in the log domain (logsumexp over
  components / kernels), so far from the data it is a large negative number, never -inf by
  underflow and never NaN for finite input.
* Objects are immutable (arrays are stored read-only copies) and hashable by value;
  ``sample(n, rng)`` takes an int seed or a ``numpy.random.Generator``.
* The Gaussian KDEs (``engine.kde``) follow the same conventions and are built from the helpers
  here (``_frozen``, ``_points``, ``_count``, ``_ByValue``, ``logsumexp``), which have this one home.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.checks import whole_number

LOG_2PI = math.log(2.0 * math.pi)  # the one home of log(2 pi): every Gaussian log-density uses it


def _frozen(a, name: str, ndim: int) -> np.ndarray:
    a = np.array(a, dtype=float)  # a copy, so the caller's array can change freely
    if a.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}D array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    a.setflags(write=False)
    return a


def _count(n) -> int:
    return whole_number(n, "n", 0)


def _points(points, d: int):
    """(m, d) float array and whether a single (d,) point was given."""
    x = np.asarray(points, dtype=float)
    single = x.ndim == 1
    x = np.atleast_2d(x)
    if x.ndim != 2 or x.shape[1] != d:
        raise ValueError(f"points must have shape (m, {d}) or ({d},), got {np.shape(points)}")
    return x, single


def logsumexp(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """log sum exp(a) along ``axis``, shifted by the max (no overflow); all -inf gives -inf.

    A few numpy calls: scipy.special.logsumexp's array-API dispatch costs more than the sum
    itself on the small (n, k) arrays of an EM iteration.
    """
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.squeeze(top, axis=axis) + np.log(np.sum(np.exp(a - top), axis=axis))


def gaussian_log_densities(x: np.ndarray, means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    """log N(x_n; means[k], covs[k]) for x (n, d), means (k, d), covs (k, d, d) -> (n, k).

    Through the Cholesky factor L (cov = L L^T): the Mahalanobis term is |L^-1 (x - mu)|^2 and
    log det cov = 2 sum log diag L. Raises ValueError if a covariance is not positive definite.
    """
    try:
        chol = np.linalg.cholesky(covs)  # (k, d, d)
    except np.linalg.LinAlgError:
        raise ValueError("a covariance matrix is not positive definite") from None
    inv = np.linalg.inv(chol)  # (k, d, d); d is tiny, so the explicit inverse is cheap and stable
    z = np.einsum("kij,nkj->nki", inv, x[:, None, :] - means[None])  # (n, k, d)
    logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)  # (k,)
    return -0.5 * (np.einsum("nkd,nkd->nk", z, z) + logdet + x.shape[1] * LOG_2PI)


class _ByValue:
    """Equality and hashing by the values of the listed array / float fields."""

    _key_fields: tuple = ()

    def _key(self):
        return tuple(np.asarray(getattr(self, f)).tobytes() for f in self._key_fields)

    def __eq__(self, other):
        return type(other) is type(self) and self._key() == other._key()

    def __hash__(self):
        return hash((type(self).__name__, self._key()))


@dataclass(frozen=True, eq=False)
class GaussianMixture(_ByValue):
    """sum_k weights[k] N(means[k], covs[k]) in d dimensions; weights (k,), means (k, d), covs (k, d, d)."""

    weights: np.ndarray
    means: np.ndarray
    covs: np.ndarray
    _key_fields = ("weights", "means", "covs")

    def __post_init__(self):
        w, mu, cov = _frozen(self.weights, "weights", 1), _frozen(self.means, "means", 2), _frozen(self.covs, "covs", 3)
        k, d = mu.shape
        if w.shape != (k,) or cov.shape != (k, d, d):
            raise ValueError(f"need weights (k,), means (k, d), covs (k, d, d); got {w.shape}, {mu.shape}, {cov.shape}")
        if w.min() < 0 or abs(w.sum() - 1.0) > 1e-9:
            raise ValueError(f"weights must be >= 0 and sum to 1 (within 1e-9), got {w}")
        gaussian_log_densities(mu[:1], mu, cov)  # validates positive definiteness now, not at first use
        for name, v in (("weights", w), ("means", mu), ("covs", cov)):
            object.__setattr__(self, name, v)
        object.__setattr__(self, "_chol", np.linalg.cholesky(cov))

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def logpdf(self, points):
        x, single = _points(points, self.dim)
        with np.errstate(divide="ignore"):  # zero-weight components contribute log 0 = -inf
            out = logsumexp(np.log(self.weights) + gaussian_log_densities(x, self.means, self.covs), axis=1)
        return out[0] if single else out

    def pdf(self, points):
        return np.exp(self.logpdf(points))

    def sample(self, n, rng=None) -> np.ndarray:
        """(n, d) draws: a component per draw from ``weights``, then mean + L z."""
        gen, n = np.random.default_rng(rng), _count(n)
        which = gen.choice(len(self.weights), size=n, p=self.weights / self.weights.sum())
        z = gen.standard_normal((n, self.dim))
        return self.means[which] + np.einsum("nij,nj->ni", self._chol[which], z)


@dataclass(frozen=True, eq=False)
class MultivariateNormal(_ByValue):
    """N(mean, cov) in d dimensions: mean (d,), cov (d, d) symmetric positive definite."""

    mean: np.ndarray
    cov: np.ndarray
    _key_fields = ("mean", "cov")

    def __post_init__(self):
        mean, cov = _frozen(self.mean, "mean", 1), _frozen(self.cov, "cov", 2)
        if cov.shape != (mean.size, mean.size):
            raise ValueError(f"cov must have shape ({mean.size}, {mean.size}), got {cov.shape}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "cov", cov)
        object.__setattr__(self, "_mix", GaussianMixture(np.ones(1), mean[None], cov[None]))  # validates cov

    @property
    def dim(self) -> int:
        return self.mean.size

    def logpdf(self, points):
        return self._mix.logpdf(points)

    def pdf(self, points):
        return np.exp(self.logpdf(points))

    def sample(self, n, rng=None) -> np.ndarray:
        """(n, d) draws mean + L z, z ~ N(0, I)."""
        gen, n = np.random.default_rng(rng), _count(n)
        return self.mean + gen.standard_normal((n, self.dim)) @ self._mix._chol[0].T
