"""Over- and underfitting: how a model's capacity trades the training score against the held-out one.

A mixture with more components or a KDE with a narrower bandwidth scores ever higher on the points it
was fitted to; the held-out score rises, peaks and falls (a KDE with h -> 0 memorises: its samples
are copies of training points). ``mixture_capacity_curve`` and ``kde_capacity_curve`` give both
scores along the capacity axis, ``nearest_distances`` how close samples sit to the training set.
Scores are mean log-likelihoods per point in nats, as in ``engine.likelihood``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from engine.likelihood import _data, _positive_int, fit_mixture, kde, mean_log_likelihood


@dataclass(frozen=True, eq=False)
class CapacityCurve:
    """Mean train and held-out log-likelihood per point for each capacity value."""

    parameter: str  # "k" (mixture components) or "bandwidth" (KDE)
    values: np.ndarray  # (C,)
    train_log_likelihood: np.ndarray  # (C,)
    test_log_likelihood: np.ndarray  # (C,)


def mixture_capacity_curve(train, test, ks, seed=0, max_iter: int = 200, tol: float = 1e-8) -> CapacityCurve:
    """EM fits with k components on ``train`` (same seed each), scored on train and test.

    ``max_iter`` / ``tol`` go to ``fit_mixture``; a page may loosen them (the curve's shape is
    settled long before EM's last 1e-8 nats), a report should not.
    """
    train, test = _data(train, "train"), _data(test, "test")
    ks = np.array([_positive_int(k, "ks entries") for k in np.atleast_1d(ks)], dtype=np.int64)
    fits = [fit_mixture(train, int(k), seed, max_iter=max_iter, tol=tol) for k in ks]
    return CapacityCurve("k", ks, np.array([mean_log_likelihood(f, train) for f in fits]),
                         np.array([mean_log_likelihood(f, test) for f in fits]))


def kde_capacity_curve(train, test, bandwidths) -> CapacityCurve:
    """KDEs on ``train`` for each bandwidth, scored on train (own kernel included) and test.

    The train score of a point includes its own kernel, worth log(1 / (n h sqrt(2 pi))): as
    h -> 0 it climbs without bound while the held-out score collapses (memorisation).
    """
    train, test = _data(train, "train"), _data(test, "test")
    hs = np.atleast_1d(np.asarray(bandwidths, dtype=float))
    models = [kde(train, h) for h in hs]
    return CapacityCurve("bandwidth", hs, np.array([mean_log_likelihood(m, train) for m in models]),
                         np.array([mean_log_likelihood(m, test) for m in models]))


def nearest_distances(samples, train) -> np.ndarray:
    """(m,) Euclidean distance from each sample to its nearest training point.

    1D: binary search in the sorted training set; d-dimensional: a k-d tree (scipy cKDTree).
    """
    s, t = _data(samples, "samples"), _data(train, "train")
    if s.ndim != t.ndim or (s.ndim == 2 and s.shape[1] != t.shape[1]):
        raise ValueError(f"samples {s.shape} and train {t.shape} must have the same dimension")
    if s.ndim == 2:
        return cKDTree(t).query(s, k=1)[0]
    t = np.sort(t)
    j = np.searchsorted(t, s)
    left, right = t[np.clip(j - 1, 0, t.size - 1)], t[np.clip(j, 0, t.size - 1)]
    return np.minimum(np.abs(s - left), np.abs(s - right))
