"""An exact toy latent-variable model for the VAE chapter: every number a VAE estimates, computed.

Model
-----
    z ~ N(0, 1)                       one latent coordinate
    x | z ~ N(f(z), sigma^2 I_2)      a point in the plane
    f(z) = (z, z^2)                   curve "parabola" (the default); "line" is f(z) = (z, 0)

Why a parabola: it is the simplest curve whose posterior p(z|x) takes every shape the chapter
needs. On the arms (at z = 1.5 the curvature is 1/30 of the vertex's) the curve is nearly
straight over the likelihood's width sigma / |f'(z)|, so p(z|x) is near-Gaussian; a point
above the vertex is equally close to f(+z) and f(-z), so p(z|x) has two symmetric modes, which
no single Gaussian q can cover; a point inside the bend but off the axis gives a skewed
posterior. Being
polynomial, f makes log p(x, z) a polynomial in z (degree 4): its modes are the roots of a cubic
(exact starting panels for the quadrature) and E_q[log p(x|z)] under a Gaussian q is exact with
a few Gauss-Hermite nodes. "line" is linear-Gaussian (probabilistic PCA in one dimension):
p(x) and p(z|x) are Gaussian in closed form and the best Gaussian q closes the gap exactly.

sigma = 0.3 by default: the likelihood is then ~3x narrower than the prior, so p(z|x) is shaped
by the curve rather than by the prior (near-Gaussian on the arms, cleanly split above the
vertex, with a ~5 nat valley between the modes for PRESETS["bimodal"]), while the posterior
stays wide enough to read on a plot of z in [-3, 3].

Conventions
-----------
* Natural logs (nats). x is one point, shape (2,); z arrays have any shape and f(z) appends an
  axis of size 2. q(z|x) = N(mu, s^2) with s > 0 (the standard deviation, not the variance).
* ELBO(q) = E_q[log p(x|z)] - KL(q || p(z)) = log p(x) - KL(q || p(z|x)) <= log p(x).
  ``kl_gaussian`` is KL(N(mu, s^2) || N(0, 1)); ``posterior_kl`` is KL(q || p(z|x)), computed
  by its own quadrature (not as log p(x) - ELBO) so the page can show the identity hold.
* ``log_marginal`` integrates p(x, z) over z by the adaptive Gauss-Legendre panels of
  ``engine.quadrature`` in log space (shifted by the max), so far-away x do not underflow.
* IWAE: L_K = log (1/K) sum_k p(x, z_k) / q(z_k), z_k ~ q iid (Burda et al. 2016, eq. 8);
  E[L_1] = ELBO, E[L_K] is non-decreasing in K and tends to log p(x).
* Every random function takes ``rng`` (an int seed or a ``numpy.random.Generator``).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np
from numpy.polynomial import polynomial as npoly
from scipy.optimize import minimize

from engine.gaussians import LOG_2PI, logsumexp
from engine.quadrature import RESOLVE, distinct_edges, gl_panels, legendre_tail, refine_panels

# Curves as coefficients (increasing powers) of the two coordinates of f(z).
CURVES = {
    "parabola": ((0.0, 1.0), (0.0, 0.0, 1.0)),
    "line": ((0.0, 1.0), (0.0,)),
}
# Observations x that show the three posterior shapes under the default ToyLVM() (see the tests
# for the numbers: log p(x), skewness, best-Gaussian gap).
PRESETS = {
    "near_gaussian": (1.5, 2.25),  # on the curve at z = 1.5, where it is nearly straight
    "skewed": (0.3, 1.0),  # inside the bend, off the axis: one mode, a long tail towards z = 0
    "bimodal": (0.0, 1.5),  # above the vertex: equal modes at z = +-0.977, a 5.1 nat valley
}

# Probabilists' Gauss-Hermite rule for E_{t ~ N(0, 1)}[g(t)]: 20 nodes are exact for polynomials
# of degree <= 39, and log p(x|z) has degree 4 in z here, so the ELBO's reconstruction term is
# exact up to rounding for every mu, s.
_GH_T, _GH_W = np.polynomial.hermite_e.hermegauss(20)
_GH_W = _GH_W / math.sqrt(2.0 * math.pi)
# log p(x, z) is integrated where it is within _WINDOW nats of its max: e^-50 ~ 2e-22 relative.
_WINDOW = 50.0
_Q_REACH = 12  # posterior_kl integrates over mu +- 12 s: q's mass outside is ~4e-33
_IWAE_CHUNK = 1 << 18  # importance samples per batch (repeats x K): bounds memory, ~2 MB


def kl_gaussian(mu, s):
    """KL(N(mu, s^2) || N(0, 1)) = (mu^2 + s^2 - 1) / 2 - log s, elementwise (nats)."""
    mu, s = np.asarray(mu, dtype=float), _positive(s, "s")
    out = 0.5 * (mu * mu + s * s - 1.0) - np.log(s)
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class ELBO:
    """ELBO = reconstruction - kl_prior (nats), for one q = N(mu, s^2)."""

    elbo: float
    reconstruction: float  # E_q[log p(x|z)], Gauss-Hermite (exact for the polynomial curves)
    kl_prior: float  # KL(q || N(0, 1)), closed form


@dataclass(frozen=True, eq=False)
class QFit:
    """Result of ``ToyLVM.fit_q``: the best Gaussian q(z|x) = N(mu, s^2) found by BFGS."""

    mu: float
    s: float
    elbo: ELBO
    log_marginal: float
    gap: float  # log p(x) - ELBO = KL(q || p(z|x)) >= 0: what the Gaussian family cannot reach
    path: np.ndarray  # (iterations + 1, 2) iterates (mu, log s), the initial point first
    converged: bool  # scipy's success flag (gradient norm below gtol)


@dataclass(frozen=True, eq=False)
class IWAEBounds:
    """Result of ``ToyLVM.iwae_bounds``: L_K over ``repeats`` independent draws for each K."""

    ks: np.ndarray  # (n,) int
    mean: np.ndarray  # (n,) mean of L_K over repeats
    std: np.ndarray  # (n,) sample standard deviation (ddof = 1) of L_K
    stderr: np.ndarray  # (n,) std / sqrt(repeats): the uncertainty of ``mean``
    elbo: float  # E[L_1], exact: reference lines for the plot
    log_marginal: float  # the limit of E[L_K] as K -> infinity


def _positive(v, name: str) -> np.ndarray:
    a = np.asarray(v, dtype=float)
    if not np.all(np.isfinite(a) & (a > 0)):
        raise ValueError(f"{name} must be finite and > 0, got {v!r}")
    return a


def _point(x) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.shape != (2,) or not np.all(np.isfinite(a)):
        raise ValueError(f"x must be one finite point of shape (2,), got {x!r}")
    return a


def _log_q(z, mu, s):
    return -0.5 * ((z - mu) / s) ** 2 - np.log(s) - 0.5 * LOG_2PI


@dataclass(frozen=True)
class ToyLVM:
    """z ~ N(0, 1), x | z ~ N(f(z), sigma^2 I_2) with f = CURVES[curve] (see the module docstring).

    Frozen, so hashable: the page caches results per (model, x, ...).
    """

    sigma: float = 0.3  # likelihood ~3x narrower than the prior: the curve shapes p(z|x)
    curve: str = "parabola"  # the one curve with near-Gaussian, skewed and bimodal posteriors

    def __post_init__(self):
        if not (math.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"sigma must be finite and > 0, got {self.sigma!r}")
        if self.curve not in CURVES:
            raise ValueError(f"unknown curve {self.curve!r}; choose from {sorted(CURVES)}")

    # ------------------------------------------------------------ densities
    def f(self, z) -> np.ndarray:
        """The decoder mean f(z): shape z.shape + (2,)."""
        z = np.asarray(z, dtype=float)
        return np.stack([npoly.polyval(z, c) for c in CURVES[self.curve]], axis=-1)

    def _f_prime(self, z) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        return np.stack([npoly.polyval(z, npoly.polyder(c)) for c in CURVES[self.curve]], axis=-1)

    @staticmethod
    def log_prior(z) -> np.ndarray:
        """log N(z; 0, 1), elementwise."""
        z = np.asarray(z, dtype=float)
        return -0.5 * z * z - 0.5 * LOG_2PI

    def log_likelihood(self, x, z) -> np.ndarray:
        """log p(x|z) = log N(x; f(z), sigma^2 I_2) for one x (2,) at every z (any shape)."""
        r = _point(x) - self.f(z)  # z.shape + (2,)
        return -0.5 * np.sum(r * r, axis=-1) / self.sigma**2 - math.log(2.0 * math.pi * self.sigma**2)

    def log_joint(self, x, z) -> np.ndarray:
        """log p(x, z) = log p(x|z) + log p(z), same shape as z."""
        return self.log_likelihood(x, z) + self.log_prior(z)

    def _score(self, x, z) -> np.ndarray:
        """d/dz log p(x|z) = (x - f(z)) . f'(z) / sigma^2 (for the ELBO's gradient)."""
        return np.sum((x - self.f(z)) * self._f_prime(z), axis=-1) / self.sigma**2

    def _log_joint_coefs(self, x) -> np.ndarray:
        """log p(x, z) as polynomial coefficients in z (used only to place panels)."""
        sq = np.zeros(1)
        for xi, c in zip(x, CURVES[self.curve]):
            r = npoly.polysub([xi], c)
            sq = npoly.polyadd(sq, npoly.polymul(r, r))
        out = npoly.polysub(-0.5 * sq / self.sigma**2, [0.0, 0.0, 0.5])
        out[0] -= 0.5 * LOG_2PI + math.log(2.0 * math.pi * self.sigma**2)
        return out

    # ------------------------------------------------------------ exact inference
    def _joint_grid(self, x):
        """GL nodes z, weights w (flat) and log p(x, z) - m on adaptive panels, and the shift m.

        Panels cover {z : log p(x, z) >= m - _WINDOW}, m = max log p(x, z), and start with edges
        at every stationary point (real roots of a cubic) and at the window's ends, so every
        mode sits on an edge and each initial panel spans one monotone stretch of the integrand;
        ``refine_panels`` then bisects until exp(log p - m) is resolved (Legendre tail test).
        """
        c = self._log_joint_coefs(x)
        crit = np.real(npoly.polyroots(npoly.polyder(c)))  # a near-double root may come complex
        m = float(np.max(self.log_joint(x, crit)))
        cut = c.copy()
        cut[0] -= m - _WINDOW
        r = npoly.polyroots(cut)
        ends = np.real(r[np.abs(r.imag) <= 1e-9 * (1.0 + np.abs(r))])
        # Fallback if rounding hides the window's ends (never seen): log p(x, z) <= top - z^2 / 2.
        top = -math.log(2.0 * math.pi * self.sigma**2) - 0.5 * LOG_2PI
        reach = math.sqrt(2.0 * (top - m + _WINDOW))
        lo, hi = (ends.min(), ends.max()) if ends.size >= 2 else (-reach, reach)
        inner = np.concatenate([crit, ends])
        edges = distinct_edges(np.unique(np.concatenate([[lo, hi], inner[(inner > lo) & (inner < hi)]])))

        def evaluate(a, b):
            z, w = gl_panels(a, b)
            z = z[:, 1:-1]  # GL nodes only, (P, ORDER)
            return z, w, self.log_joint(x, z) - m

        def unresolved(data, half):
            _, w, lj = data
            v = np.exp(lj)
            return legendre_tail(v) * half > RESOLVE * np.sum(w * v)

        _, _, (z, w, lj) = refine_panels(edges[:-1], edges[1:], evaluate, unresolved)
        return z.ravel(), w.ravel(), lj.ravel(), m

    def log_marginal(self, x) -> float:
        """log p(x) = log integral p(x|z) p(z) dz, adaptive Gauss-Legendre in log space."""
        x = _point(x)
        _, w, lj, m = self._joint_grid(x)
        return m + math.log(float(np.sum(w * np.exp(lj))))

    def log_posterior(self, x, z) -> np.ndarray:
        """log p(z|x) = log p(x, z) - log p(x), same shape as z."""
        return self.log_joint(x, z) - self.log_marginal(x)

    def posterior(self, x, z_grid) -> np.ndarray:
        """The posterior density p(z|x) at the points ``z_grid`` (any shape)."""
        return np.exp(self.log_posterior(x, z_grid))

    # ------------------------------------------------------------ variational inference
    def _elbo_terms(self, x, mu, s):
        """Reconstruction E_q[log p(x|z)] and KL(q || p(z)) for broadcast arrays mu, s."""
        z = mu[..., None] + s[..., None] * _GH_T  # (..., 20) Gauss-Hermite nodes of each q
        return self.log_likelihood(x, z) @ _GH_W, kl_gaussian(mu, s)

    def elbo(self, x, mu, s) -> ELBO:
        """The ELBO of q(z|x) = N(mu, s^2) and its two terms (nats)."""
        x, mu, s = _point(x), np.asarray(float(mu)), _positive(float(s), "s")
        rec, kl = self._elbo_terms(x, mu, s)
        return ELBO(float(rec - kl), float(rec), float(kl))

    def elbo_surface(self, x, mus, log_ss) -> np.ndarray:
        """ELBO on the grid (log s, mu): shape (len(log_ss), len(mus)), for a contour plot."""
        x = _point(x)
        mu = np.asarray(mus, dtype=float)[None, :]  # (1, M)
        s = np.exp(np.asarray(log_ss, dtype=float))[:, None]  # (L, 1)
        rec, kl = self._elbo_terms(x, mu, _positive(s, "exp(log_ss)"))
        return rec - kl

    def posterior_kl(self, x, mu, s) -> float:
        """KL(q || p(z|x)) = E_q[log q(z) - log p(z|x)], by its own adaptive GL quadrature.

        Panels of width s over mu +- 12 s, bisected until q (log q - log p(z|x)) is resolved.
        Independent of ``elbo`` (no Gauss-Hermite, no closed-form KL), so that
        log p(x) - ELBO == posterior_kl is a real check.
        """
        x, mu, s = _point(x), float(mu), float(_positive(float(s), "s"))
        log_px = self.log_marginal(x)
        edges = mu + s * np.arange(-_Q_REACH, _Q_REACH + 1.0)

        def evaluate(a, b):
            z, w = gl_panels(a, b)
            z = z[:, 1:-1]  # (P, ORDER)
            lq = _log_q(z, mu, s)
            return w, np.exp(lq) * (lq - self.log_joint(x, z) + log_px)

        def unresolved(data, half):
            w, v = data
            return legendre_tail(v) * half > RESOLVE * max(float(np.sum(w * np.abs(v))), 1e-12)

        _, _, (w, v) = refine_panels(edges[:-1], edges[1:], evaluate, unresolved)
        return float(np.sum(w * v))

    def fit_q(self, x, init_mu: float = 0.0, init_log_s: float = 0.0, steps: int = 200) -> QFit:
        """A best Gaussian q(z|x) = N(mu, s^2): BFGS on -ELBO over (mu, log s) to a local max.

        Exact gradients of the Gauss-Hermite ELBO (reparameterised: z = mu + s t at fixed nodes
        t): dE/dmu = E[g'(z)], dE/dlog s = E[g'(z) s t], g = log p(x|.), and dKL/dmu = mu,
        dKL/dlog s = s^2 - 1. Deterministic. The ELBO can have several local maxima and BFGS
        finds the one uphill of the start: for PRESETS["bimodal"] there are three, one on each
        mode (gap ~0.72 nats, about log 2: half the mass missed) and, reached from mu = 0 by
        symmetry, a wide q straddling the valley (gap ~2.29 nats).
        """
        x = _point(x)
        steps = operator.index(steps)
        if steps < 1 or not (math.isfinite(init_mu) and math.isfinite(init_log_s)):
            raise ValueError(f"need steps >= 1 and a finite start, got {steps}, {init_mu}, {init_log_s}")

        def neg_elbo(p):
            mu, s = p[0], math.exp(p[1])
            z = mu + s * _GH_T
            g, dg = self.log_likelihood(x, z) @ _GH_W, self._score(x, z) * _GH_W
            kl = 0.5 * (mu * mu + s * s - 1.0) - p[1]
            grad = np.array([dg.sum() - mu, (dg * s * _GH_T).sum() - (s * s - 1.0)])
            return kl - g, -grad

        # gtol 1e-6 (nats per unit of mu, log s): the ELBO is then within ~|grad|^2 / curvature
        # ~ 1e-12 of the local max; tighter asks the line search for changes below rounding.
        path = [np.array([init_mu, init_log_s], dtype=float)]
        res = minimize(neg_elbo, path[0], jac=True, method="BFGS", callback=lambda p: path.append(p.copy()),
                       options={"maxiter": steps, "gtol": 1e-6})
        mu, s = float(res.x[0]), math.exp(float(res.x[1]))
        e, log_px = self.elbo(x, mu, s), self.log_marginal(x)
        return QFit(mu, s, e, log_px, log_px - e.elbo, np.array(path), bool(res.success))

    # ------------------------------------------------------------ importance weighting
    def iwae_bounds(self, x, mu, s, ks=(1, 10, 100, 1000), repeats: int = 100, rng=0) -> IWAEBounds:
        """Mean and spread of the IWAE bound L_K (module docstring) over ``repeats`` draws per K.

        Each K gets its own independent draws (repeats x K samples from q, in batches of
        ~2^18), so the means for different K are independent estimates.
        """
        x, mu, s = _point(x), float(mu), float(_positive(float(s), "s"))
        try:
            ks = np.array([operator.index(k) for k in ks], dtype=int)
            repeats = operator.index(repeats)
        except TypeError:
            raise ValueError("ks and repeats must be integers") from None
        if ks.size == 0 or ks.min() < 1:
            raise ValueError(f"every K must be >= 1, got {ks.tolist()}")
        if repeats < 2:
            raise ValueError(f"repeats must be >= 2 (a standard deviation needs two), got {repeats}")
        gen = np.random.default_rng(rng)
        draws = np.empty((ks.size, repeats))
        for i, k in enumerate(ks):
            rows = max(1, _IWAE_CHUNK // k)
            for start in range(0, repeats, rows):
                t = gen.standard_normal((min(rows, repeats - start), k))  # (rows, K)
                log_w = self.log_joint(x, mu + s * t) - (-0.5 * t * t - math.log(s) - 0.5 * LOG_2PI)
                draws[i, start:start + t.shape[0]] = logsumexp(log_w, axis=1) - math.log(k)
        std = draws.std(axis=1, ddof=1)
        return IWAEBounds(ks, draws.mean(axis=1), std, std / math.sqrt(repeats),
                          self.elbo(x, mu, s).elbo, self.log_marginal(x))
