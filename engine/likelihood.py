"""Maximum likelihood: closed-form and EM fits, KDEs, and what "likelihood" measures.

Conventions
-----------
* Natural logs: log-likelihoods, entropies and KL are in nats. "Log-likelihood" of a data set
  always means the *mean* over points, (1/n) sum_i log m(x_i), so numbers for different n
  compare directly (and match the expectation E_p[log m(X)] they estimate).
* 1D data are (n,) arrays, d-dimensional data (n, d) arrays with d >= 2. 1D fits return
  ``engine.distributions`` objects (Normal, Mixture) or a ``GaussianKDE`` (itself a
  Distribution); d-dimensional fits return the models in ``engine.gaussians`` / ``engine.kde``.
* ``entropy``, ``expected_log_likelihood``, ``log_likelihood_variance`` and ``kl_decomposition``
  integrate against a 1D data distribution p by the adaptive Gauss-Legendre machinery of
  ``engine.quadrature`` (the same panels and refinement rule as ``engine.divergences``), with
  panel edges from both p's and the model's ``breakpoints()`` (a KDE's are a grid of spacing h,
  see engine.kde).
  KL(p || m) = cross_entropy - entropy, with cross_entropy = -E_p[log m(X)].
* When p puts mass where m has zero density, E_p[log m] = -inf, cross-entropy and KL are +inf
  (decided from the supports when m is a Distribution, else from -inf at quadrature nodes) and
  the variance of log m(X) is reported as +inf.
* Every random function takes ``rng`` / ``seed`` (an int or a ``numpy.random.Generator``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.checks import whole_number
from engine.distributions import Distribution, Mixture, Normal, support_covered
from engine.gaussians import GaussianMixture, MultivariateNormal, gaussian_log_densities, logsumexp
from engine.kde import GaussianKDE, MultivariateKDE
from engine.quadrature import RESOLVE, distinct_edges, gl_panels, legendre_tail, refine_panels

# Smallest eigenvalue a fitted covariance may have, relative to the data's variance in each
# coordinate (EM runs on standardised data). A component collapsing onto one point would
# otherwise drive its variance to 0 and the likelihood to +inf; 1e-6 is far below any real
# cluster width in the teaching data, so it only ever bites in that degenerate case.
VAR_FLOOR = 1e-6
_MC_CHUNK = 1 << 18  # samples per Monte Carlo batch: bounds memory for KDE models (x n kernels)


# ---------------------------------------------------------------- validation
def _data(x, name: str = "x") -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim not in (1, 2) or a.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 1D (n,) or 2D (n, d) array, got shape {a.shape}")
    if a.ndim == 2 and a.shape[1] < 2:
        raise ValueError(f"{name} has shape {a.shape}: pass one-dimensional data as a 1D (n,) array")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf")
    return a


def _positive_int(v, name: str) -> int:
    return whole_number(v, name, 1)


def _logpdf(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.logpdf(x), dtype=float)


def mean_log_likelihood(model, x) -> float:
    """(1/n) sum_i log model(x_i): the average log-likelihood per point, nats."""
    return float(np.mean(_logpdf(model, _data(x))))


# ---------------------------------------------------------------- closed-form and EM fits
def fit_gaussian(x) -> Normal | MultivariateNormal:
    """The maximum-likelihood Gaussian: sample mean and the ddof=0 (biased) (co)variance.

    (n,) data give a ``Normal``; (n, d) data give a ``MultivariateNormal``. Fewer than 2
    points, zero variance (in any direction) or NaN/inf raise ValueError.
    """
    x = _data(x)
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 points to fit a Gaussian, got {x.shape[0]}")
    if x.ndim == 1:
        std = float(x.std())
        if not std > 0:
            raise ValueError("all points are equal: the MLE Gaussian would have zero variance")
        return Normal(float(x.mean()), std)
    cov = np.cov(x, rowvar=False, bias=True)
    if np.linalg.eigvalsh(cov)[0] <= 1e-12 * np.trace(cov):
        raise ValueError("the data have zero variance in some direction (points on a line/plane, "
                         f"or n={x.shape[0]} <= d={x.shape[1]}): the MLE covariance is singular")
    return MultivariateNormal(x.mean(axis=0), cov)


@dataclass(frozen=True, eq=False)
class MixtureFit:
    """Result of ``em_mixture``. Components are sorted by (first coordinate of) their mean."""

    model: Mixture | GaussianMixture
    weights: np.ndarray  # (k,)
    means: np.ndarray  # (k, d)
    covs: np.ndarray  # (k, d, d)
    log_likelihood_history: np.ndarray  # (iterations + 1,) mean log-likelihood, initial guess first
    converged: bool  # the last EM step raised the mean log-likelihood by less than tol


def _clamp_eigenvalues(s: np.ndarray, floor: float) -> np.ndarray:
    """Nearest (in the EM sense) covariance with eigenvalues >= floor: V max(L, floor) V^T.

    For -log|C| - tr(C^-1 S) this is the maximiser over {C >= floor I}, so EM with the floor is
    still a (constrained) EM and its likelihood still never decreases.
    """
    lam, v = np.linalg.eigh(s)  # (k, d), (k, d, d)
    return np.einsum("kij,kj,klj->kil", v, np.maximum(lam, floor), v)


def _kmeanspp(z: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of k seeds: the first uniform, each next with probability ~ squared distance."""
    idx = [int(rng.integers(z.shape[0]))]
    d2 = ((z - z[idx[0]]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = d2.sum()
        nxt = int(rng.choice(z.shape[0], p=d2 / total)) if total > 0 else int(rng.integers(z.shape[0]))
        idx.append(nxt)
        d2 = np.minimum(d2, ((z - z[nxt]) ** 2).sum(axis=1))
    return np.array(idx)


def em_update(z: np.ndarray, weights: np.ndarray, means: np.ndarray, covs: np.ndarray):
    """One EM iteration for a Gaussian mixture on (standardised) points z (n, d):
    ``((weights, means, covs) after it, mean log-likelihood before it)``. Covariances keep eigenvalues
    >= ``VAR_FLOOR``; a component nobody claims keeps its parameters at weight ~0."""
    n = len(z)
    with np.errstate(divide="ignore"):  # a dead component has weight 0: log 0 = -inf is fine
        logp = np.log(weights) + gaussian_log_densities(z, means, covs)  # (n, k)
    lse = logsumexp(logp, axis=1)  # (n,)
    resp = np.exp(logp - lse[:, None])  # (n, k) responsibilities
    nk = resp.sum(axis=0)  # (k,)
    live = nk > 1e-12 * n
    mu_new = (resp.T @ z) / np.where(live, nk, 1.0)[:, None]
    diff = z[:, None, :] - mu_new[None]  # (n, k, d)
    s = np.einsum("nk,nki,nkj->kij", resp, diff, diff) / np.where(live, nk, 1.0)[:, None, None]
    means = np.where(live[:, None], mu_new, means)
    covs = np.where(live[:, None, None], _clamp_eigenvalues(s, VAR_FLOOR), covs)
    return (nk / n, means, covs), float(lse.mean())


def em_start(z: np.ndarray, k: int, seed=0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EM's deterministic start on standardised z (n, d): k-means++ seeds as means, the data covariance
    for every component, equal weights."""
    d = z.shape[1]
    means = z[_kmeanspp(z, k, np.random.default_rng(seed))]
    covs = _clamp_eigenvalues(np.repeat(np.cov(z, rowvar=False, bias=True).reshape(1, d, d), k, 0), VAR_FLOOR)
    return np.full(k, 1.0 / k), means, covs


def em_mixture(x, k: int, seed=0, max_iter: int = 200, tol: float = 1e-8) -> MixtureFit:
    """Gaussian mixture with k components by EM (Dempster, Laird & Rubin 1977; Bishop PRML 9.2).

    EM runs on standardised data (each coordinate centred and divided by its std) and maps the
    result back, so the variance floor ``VAR_FLOOR`` is relative to each coordinate's variance.
    Initialisation (deterministic given ``seed``): k-means++ seeds as means, the data covariance
    for every component, equal weights. Stops when an iteration gains less than ``tol`` nats of
    mean log-likelihood, or after ``max_iter`` iterations. k > n raises ValueError.
    """
    x = _data(x)
    k, max_iter = _positive_int(k, "k"), _positive_int(max_iter, "max_iter")
    one_d = x.ndim == 1
    x2 = x[:, None] if one_d else x  # (n, d)
    n, d = x2.shape
    if k > n:
        raise ValueError(f"k={k} components need at least k data points, got n={n}")
    loc, scale = x2.mean(axis=0), x2.std(axis=0)
    if not np.all(scale > 0):
        raise ValueError("the data have zero variance in some coordinate; a mixture cannot be fitted")
    z = (x2 - loc) / scale
    weights, means, covs = em_start(z, k, seed)
    history, converged = [], False
    for it in range(max_iter + 1):
        updated, mean_log_likelihood = em_update(z, weights, means, covs)
        history.append(mean_log_likelihood)
        if it > 0 and history[-1] - history[-2] < tol:
            converged = True
            break
        if it == max_iter:
            break
        weights, means, covs = updated
    order = np.argsort(means[:, 0], kind="stable")
    weights, means, covs = weights[order], loc + means[order] * scale, covs[order] * np.outer(scale, scale)
    hist = np.array(history) - float(np.log(scale).sum())  # back to the data's units (Jacobian)
    if one_d:
        model = Mixture(tuple(Normal(m, math.sqrt(c)) for m, c in zip(means[:, 0], covs[:, 0, 0])),
                        tuple(weights / weights.sum()))
    else:
        model = GaussianMixture(weights / weights.sum(), means, covs)
    return MixtureFit(model, weights, means, covs, hist, converged)


def fit_mixture(x, k: int, seed=0, max_iter: int = 200, tol: float = 1e-8) -> Mixture | GaussianMixture:
    """The maximum-likelihood mixture of k Gaussians found by EM: 1D data gives an
    ``engine.distributions.Mixture`` of Normals, (n, d) data a ``GaussianMixture``.
    ``em_mixture`` returns the same fit with its per-iteration log-likelihood history."""
    return em_mixture(x, k, seed, max_iter=max_iter, tol=tol).model


def kde(x, bandwidth: float) -> GaussianKDE | MultivariateKDE:
    """Gaussian kernel density estimate with kernel std ``bandwidth`` (> 0) on the points x."""
    x = _data(x)
    return GaussianKDE(x, bandwidth) if x.ndim == 1 else MultivariateKDE(x, bandwidth)


# ---------------------------------------------------------------- quadrature against p
@dataclass(frozen=True)
class KLDecomposition:
    """KL(p || m) = cross_entropy - entropy, all in nats."""

    entropy: float  # H(p) = -E_p[log p(X)]
    cross_entropy: float  # H(p, m) = -E_p[log m(X)]
    kl: float  # KL(p || m) >= 0; inf when p has mass where m has none


@dataclass(frozen=True)
class _Moments:
    entropy: float
    mean_log_m: float
    var_log_m: float


def _moments(p: Distribution, m=None) -> _Moments:
    """H(p), E_p[log m], Var_p[log m] on one adaptive grid (m = p when None)."""
    if not isinstance(p, Distribution):
        raise TypeError(f"p must be a 1D Distribution (Normal, Uniform, Mixture, KDE), got {type(p).__name__}")
    model = p if m is None else m
    pb = np.asarray(p.breakpoints(), dtype=float)
    edges = pb
    if model is not p and hasattr(model, "breakpoints"):
        mb = np.asarray(model.breakpoints(), dtype=float)
        edges = np.union1d(pb, mb[(mb > pb[0]) & (mb < pb[-1])])  # m's edges matter only where p lives
    edges = distinct_edges(edges)
    shift = []  # (c, s) per log-density, fixed on the initial panels; see below

    def evaluate(a, b):
        # Integrands to resolve: p, p g^2 and p (g - s)^2 for g = f - c, f = log p and log m.
        # They resolve p f too, because g = (g^2 - (g - s)^2 + s^2) / (2 s) and Legendre
        # coefficients are linear. With c ~ E_p[f] and s ~ std_p(f) from the initial panels the
        # test bounds the error in E_p[f] by ~ RESOLVE * std_p(f); with c = 0 it would scale
        # with E_p[f^2], huge for a small-bandwidth KDE whose log-density dives between kernels.
        x, w = gl_panels(a, b)
        x = x[:, 1:-1]  # GL nodes only, (P, ORDER)
        lp = _logpdf(p, x.ravel()).reshape(x.shape)
        lm = lp if model is p else _logpdf(model, x.ravel()).reshape(x.shape)
        dens = np.exp(lp)
        fs = [np.where(dens > 0, lp, 0.0), np.where((dens > 0) & np.isfinite(lm), lm, 0.0)]
        if not shift:
            wp = w * dens
            for f in fs:
                c = float(np.sum(wp * f) / np.sum(wp))
                shift.append((c, max(math.sqrt(float(np.sum(wp * (f - c) ** 2) / np.sum(wp))), 1e-3)))
        terms = [dens]
        for f, (c, s) in zip(fs, shift):
            g = f - c
            terms += [dens * g * g, dens * (g - s) ** 2]
        return w, lp, lm, np.stack(terms, axis=1)  # last: (P, 5, ORDER)

    def unresolved(data, half):
        w, vals = data[0], data[3]
        # floor: totals below 1e-12 (e.g. p (log p - c)^2 for U[0, 1], which is 0) need no resolving.
        total = np.maximum((vals * w[:, None, :]).sum(axis=(0, 2)), 1e-12)  # (5,)
        return np.any(legendre_tail(vals) * half[:, None] > RESOLVE * total, axis=1)

    _, _, (w, lp, lm, _) = refine_panels(edges[:-1], edges[1:], evaluate, unresolved)
    dens = np.exp(lp)
    mass = dens > 0
    h = 0.0 - float(np.sum(w * dens * np.where(mass, lp, 0.0)))  # 0.0 - : no -0.0 for U[0, 1]
    covered = support_covered(p, model) if isinstance(model, Distribution) else True
    if not covered or np.any(mass & ~np.isfinite(lm)):
        return _Moments(h, -math.inf, math.inf)
    wp = w * dens
    fm = np.where(mass, lm, 0.0)
    mean = float(np.sum(wp * fm)) / float(np.sum(wp))  # total mass is 1 to ~1e-15; divide anyway
    var = float(np.sum(wp * (fm - mean) ** 2)) / float(np.sum(wp))  # centred: no E[f^2] - E[f]^2 cancellation
    return _Moments(h, mean, var)


def entropy(p: Distribution) -> float:
    """Differential entropy H(p) = -E_p[log p(X)] in nats (may be negative)."""
    return _moments(p).entropy


def expected_log_likelihood(p: Distribution, m) -> float:
    """E_p[log m(X)]: the log-likelihood per point of infinitely much data from p, nats."""
    return _moments(p, m).mean_log_m


def log_likelihood_variance(p: Distribution, m) -> float:
    """Var_p[log m(X)]: n times the variance of the n-point average log-likelihood."""
    return _moments(p, m).var_log_m


def kl_decomposition(p: Distribution, m) -> KLDecomposition:
    """KL(p || m) split as cross-entropy minus entropy (from one quadrature grid)."""
    mo = _moments(p, m)
    cross = -mo.mean_log_m
    return KLDecomposition(mo.entropy, cross, cross - mo.entropy if math.isfinite(cross) else math.inf)


# ---------------------------------------------------------------- Monte Carlo
@dataclass(frozen=True, eq=False)
class StandardErrorCurve:
    """Spread of the n-sample average log-likelihood around E_p[log m], for each n."""

    ns: np.ndarray  # (N,) sample sizes
    empirical_se: np.ndarray  # (N,) std over repeats (ddof=1) of the n-sample averages
    theory_se: np.ndarray  # (N,) sqrt(Var_p[log m] / n)
    mean_estimate: np.ndarray  # (N,) mean over repeats of the n-sample averages
    expected: float  # E_p[log m] by quadrature: what every estimate is unbiased for


def mc_log_likelihood(p: Distribution, m, n: int, repeats: int, rng=None) -> np.ndarray:
    """(repeats,) independent estimates (1/n) sum_i log m(x_i), each from n fresh draws of p."""
    n, repeats = _positive_int(n, "n"), _positive_int(repeats, "repeats")
    gen = np.random.default_rng(rng)
    out = np.empty(repeats)
    rows = max(1, _MC_CHUNK // n)  # draw (rows, n) at a time
    for s in range(0, repeats, rows):
        r = min(rows, repeats - s)
        x = np.asarray(p.sample(r * n, gen), dtype=float)
        out[s:s + r] = _logpdf(m, x).reshape(r, n).mean(axis=1)
    return out


def standard_error_curve(p: Distribution, m, ns, repeats: int, rng=None) -> StandardErrorCurve:
    """Empirical vs theoretical standard error of the average log-likelihood (repeats >= 2)."""
    ns = np.array([_positive_int(v, "ns entries") for v in np.atleast_1d(ns)], dtype=np.int64)
    if _positive_int(repeats, "repeats") < 2:
        raise ValueError("repeats must be >= 2 to estimate a standard deviation")
    gen = np.random.default_rng(rng)
    runs = [mc_log_likelihood(p, m, int(v), repeats, gen) for v in ns]
    mo = _moments(p, m)
    return StandardErrorCurve(
        ns=ns,
        empirical_se=np.array([r.std(ddof=1) for r in runs]),
        theory_se=np.sqrt(mo.var_log_m / ns),
        mean_estimate=np.array([r.mean() for r in runs]),
        expected=mo.mean_log_m,
    )
