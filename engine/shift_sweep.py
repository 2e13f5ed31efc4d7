"""Divergences as Q slides past P: the picture behind "disjoint supports".

``shift_sweep(p, q, thetas)`` computes all six divergences of ``engine.divergences`` between P and
Q translated by theta, for a grid of thetas, with their derivatives in theta. Once the supports
separate, KL is infinite and JS and TV are stuck at log 2 and 1 (zero gradient), while W1 keeps a
useful slope (for Q = P, W1 is exactly |theta|): the argument for the Wasserstein GAN, in numbers.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass

import numpy as np

from engine.distributions import Distribution
from engine.divergences import _check, divergence_report


@dataclass(frozen=True, eq=False)
class ShiftSweep:
    """Divergences between P and Q translated by theta, over a grid of thetas, and d/dtheta.

    Derivatives are central differences on the theta grid (``np.gradient``); NaN wherever the
    value or a neighbour used by the difference is infinite.
    """

    thetas: np.ndarray
    kl_pq: np.ndarray
    kl_qp: np.ndarray
    js: np.ndarray
    tv: np.ndarray
    w1: np.ndarray
    w2: np.ndarray
    d_kl_pq: np.ndarray
    d_kl_qp: np.ndarray
    d_js: np.ndarray
    d_tv: np.ndarray
    d_w1: np.ndarray
    d_w2: np.ndarray


def shift_sweep(p: Distribution, q: Distribution, thetas) -> ShiftSweep:
    """Divergences between P and Q translated by theta, for each theta in ``thetas``.

    ``thetas`` must be a finite, strictly increasing 1D grid with at least 2 points.
    """
    _check(p=p, q=q)
    thetas = np.asarray(thetas, dtype=float)
    if thetas.ndim != 1 or thetas.size < 2:
        raise ValueError(f"thetas must be a 1D array with at least 2 points, got shape {thetas.shape}")
    if not np.all(np.isfinite(thetas)) or not np.all(np.diff(thetas) > 0):
        raise ValueError("thetas must be finite and strictly increasing")
    rows = np.array([astuple(divergence_report(p, q.shift(t))) for t in thetas])  # (T, 6)
    names = ("kl_pq", "kl_qp", "js", "tv", "w1", "w2")
    values = {n: rows[:, i] for i, n in enumerate(names)}
    derivs = {f"d_{n}": _gradient(v, thetas) for n, v in values.items()}
    return ShiftSweep(thetas=thetas, **values, **derivs)


def _gradient(v, thetas):
    with np.errstate(invalid="ignore"):
        g = np.gradient(v, thetas)
    bad = ~np.isfinite(v)
    near = bad.copy()
    near[1:] |= bad[:-1]
    near[:-1] |= bad[1:]
    g[near] = np.nan
    return g
