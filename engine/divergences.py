"""Divergences between two 1D distributions from ``engine.distributions``.

Conventions (stated the way POT states them)
-------------------------------------------
* Natural logarithm everywhere: KL and JS are in nats.
* ``kl(p, q)`` is KL(P || Q) = E_P[log p/q], the expectation under the *first* argument;
  ``reverse_kl(p, q)`` is KL(Q || P). KL is ``math.inf`` exactly when P puts mass where Q has
  zero density; that is decided from the supports (interval arithmetic), never from overflow.
* ``js`` uses the half mixture M = (P + Q)/2: JS = 1/2 KL(P||M) + 1/2 KL(Q||M), 0 <= JS <= log 2.
* ``tv`` = 1/2 int |p - q| dx = sup_A |P(A) - Q(A)|, in [0, 1].
* ``wasserstein(p, q, order)`` returns W_p, not W_p^p, for the ground cost |x - y|^p, p in {1, 2}.

Numerics (why the numbers are good to ~1e-10 rather than ~1e-3)
-------------------------------------------------------------
Integrals over x use composite Gauss-Legendre quadrature (``engine.quadrature``) on panels
between the union of both distributions' ``breakpoints()``: panels one std wide for Normals
(exact to rounding for Gaussian integrands) and with every Uniform end as a panel edge, so no
panel contains a jump. A panel is bisected while its integrand is not resolved, judged from the
last Legendre coefficients at the same nodes; this matters for mixtures, whose log-density bends
sharply where one component takes over from another. Log-ratios come from ``logpdf`` (no
underflow in the tails). KL is integrated in the pointwise non-negative form p (expm1(d) - d),
d = log q - log p, which equals p log(p/q) - p + q and so integrates to KL without
cancellation when P is close to Q.
TV and W1 have kinks where p = q (resp. F = G): sign changes of the difference are located on the
nodes and refined by safeguarded Newton, and the roots become extra edges (TV then needs no
quadrature at all: on each cell between edges it is |P(cell) - Q(cell)| from the CDFs).
W2 uses the quantile form int_0^1 (F^-1(u) - G^-1(u))^2 du on u-panels whose edges are F and G
at all x-edges, so each u-panel maps inside one x-panel of each distribution, where the quantile
function is smooth; u is clipped to [1e-15, 1 - 1e-15].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from engine.distributions import Distribution, Mixture, support_covered
from engine.quadrature import (
    GL_W,
    RESOLVE,
    distinct_edges,
    gl_panels,
    legendre_tail,
    refine_panels,
    sign_change_roots,
)

_U_CLIP = 1e-15  # W2 ignores the outermost 1e-15 of each quantile function (mass, not length)
# Quantile functions have log-type singularities at u = 0 and 1. Extra u-edges at 4^-j (and
# 1 - 4^-j) keep every tail panel within a factor 4 of its distance to the singularity, which
# is what Gauss-Legendre needs to converge geometrically there (error ~3^-32 per panel).
_U_TAIL = 4.0 ** -np.arange(1, 26)
_U_TAIL = np.concatenate([_U_TAIL, 1.0 - _U_TAIL])
_LOG2 = math.log(2.0)


@dataclass(frozen=True)
class Divergences:
    """All six numbers for one pair (P, Q); see the module docstring for conventions."""

    kl_pq: float
    kl_qp: float
    js: float
    tv: float
    w1: float
    w2: float


@dataclass(frozen=True, eq=False)
class Integrands:
    """Pointwise curves at points ``x`` whose integrals over x give the divergences."""

    x: np.ndarray
    p: np.ndarray
    q: np.ndarray
    m: np.ndarray  # (p + q) / 2
    kl_pq: np.ndarray  # p log(p/q); 0 where p = 0, +inf where p > 0 = q
    kl_qp: np.ndarray  # q log(q/p)
    js: np.ndarray  # 1/2 p log(p/m) + 1/2 q log(q/m)
    tv: np.ndarray  # 1/2 |p - q|
    w1: np.ndarray  # |F_P - F_Q|
    cdf_p: np.ndarray
    cdf_q: np.ndarray


# ---------------------------------------------------------------- closed forms (test references)
def kl_normal(m1: float, s1: float, m2: float, s2: float) -> float:
    """KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2/s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2."""
    _positive(s1=s1, s2=s2)
    return math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2.0 * s2**2) - 0.5


def w2_normal(m1: float, s1: float, m2: float, s2: float) -> float:
    """W2(N(m1, s1^2), N(m2, s2^2)) = sqrt((m1 - m2)^2 + (s1 - s2)^2)."""
    _positive(s1=s1, s2=s2)
    return math.hypot(m1 - m2, s1 - s2)


def kl_uniform(a: float, b: float, c: float, d: float) -> float:
    """KL(U[a, b] || U[c, d]) = log((d - c)/(b - a)) if [a, b] is inside [c, d], else inf."""
    if not (a < b and c < d):
        raise ValueError(f"need a < b and c < d, got [{a}, {b}] and [{c}, {d}]")
    return math.log((d - c) / (b - a)) if c <= a and b <= d else math.inf


def _positive(**kw):
    for name, v in kw.items():
        if not v > 0:
            raise ValueError(f"{name} must be > 0, got {v}")


# ---------------------------------------------------------------- integrands on the shared grid
def _kl_terms(lp, lq):
    """Pointwise p (expm1(d) - d) with d = lq - lp: >= 0, integrates to KL(P||Q). p = 0 gives q."""
    with np.errstate(all="ignore"):
        d = lq - lp
        p, q = np.exp(lp), np.exp(lq)
        # expm1 form where it matters (|d| small, P ~ Q); the expanded form cannot overflow.
        t = np.where(np.abs(d) < 1.0, p * (np.expm1(d) - d), q - p - p * d)
    return np.where(lp == -np.inf, q, t)


def _check(**dists):
    for name, d in dists.items():
        if not isinstance(d, Distribution):
            raise TypeError(f"{name} must be a Normal, Uniform or Mixture, got {type(d).__name__}")


def _unresolved(vals, half, floor):
    """Panels where a non-negative integrand (vals: (P, m, ORDER)) is not resolved: its Legendre
    tail exceeds RESOLVE of the integrand's total over all panels, or of ``floor`` if larger
    (so rounding noise in a ~0 integrand, e.g. JS(P, P), does not trigger endless bisection).
    With geometrically decaying coefficients the quadrature error is far below the tail."""
    total = np.maximum(((vals @ GL_W) * half[:, None]).sum(axis=0), floor)  # (m,)
    return np.any(legendre_tail(vals) * half[:, None] > RESOLVE * total, axis=1)


class _Pair:
    """One shared grid for (P, Q); every quantity is computed once, on first use."""

    def __init__(self, p: Distribution, q: Distribution):
        _check(p=p, q=q)
        self.p, self.q = p, q
        self.edges = distinct_edges(np.union1d(p.breakpoints(), q.breakpoints()))
        self.atol = 1e-14 * (self.edges[-1] - self.edges[0])  # root accuracy; only 2nd order matters
        self.covered = support_covered(p, q), support_covered(q, p)  # KL(P||Q) < inf, KL(Q||P) < inf

    def _logs(self, a, b):
        """x, w, log p, log q and (P, 3, ORDER) integrands of KL(P||Q), KL(Q||P), JS on panels."""
        x, w = gl_panels(a, b)
        lp, lq = np.asarray(self.p.logpdf(x)), np.asarray(self.q.logpdf(x))
        lpn, lqn = lp[:, 1:-1], lq[:, 1:-1]  # GL nodes only, not the edge samples
        lm = np.logaddexp(lpn, lqn) - _LOG2
        zeros = np.zeros_like(lpn)  # an infinite KL is not integrated
        vals = np.stack([
            _kl_terms(lpn, lqn) if self.covered[0] else zeros,
            _kl_terms(lqn, lpn) if self.covered[1] else zeros,
            0.5 * (_kl_terms(lpn, lm) + _kl_terms(lqn, lm)),
        ], axis=1)
        return x, w, lp, lq, vals

    @cached_property
    def log_grid(self):
        """(x, w, lp, lq, integrands) on panels refined until the log-integrands are resolved.

        Mixtures need this: log q switches between components' quadratics over a width
        ~1/(slope difference), which can fall far outside the panels of the narrow component.
        """
        # floor 1e-12 nats: below that, absolute accuracy ~1e-21 is plenty.
        _, _, data = refine_panels(
            self.edges[:-1], self.edges[1:], self._logs, lambda d, half: _unresolved(d[4], half, 1e-12)
        )
        return data

    @cached_property
    def edge_cdfs(self):
        """(F_P, S_P, F_Q, S_Q) at the edges, with -inf and +inf appended at the ends."""
        t = np.concatenate([[-np.inf], self.edges, [np.inf]])
        return self.p.cdf(t), self.p.sf(t), self.q.cdf(t), self.q.sf(t)

    def kl(self, forward: bool = True) -> float:
        if not self.covered[0 if forward else 1]:
            return math.inf
        _, w, _, _, vals = self.log_grid
        return float(np.sum(w * vals[:, 0 if forward else 1]))

    def js(self) -> float:
        _, w, _, _, vals = self.log_grid
        return float(min(max(np.sum(w * vals[:, 2]), 0.0), _LOG2))  # clip rounding at the ends only

    def tv(self) -> float:
        def fun(xs):
            return self.p.logpdf(xs) - self.q.logpdf(xs), self.p.score(xs) - self.q.score(xs)

        x, _, lp, lq, _ = self.log_grid
        with np.errstate(invalid="ignore"):
            h = (lp - lq).ravel()  # NaN where both vanish: no sign there
        roots = sign_change_roots(x.ravel(), h, fun, self.atol)
        fp, sp, fq, sq = self.edge_cdfs
        if roots.size:
            t = np.concatenate([[-np.inf], np.unique(np.concatenate([self.edges, roots])), [np.inf]])
            fp, sp, fq, sq = self.p.cdf(t), self.p.sf(t), self.q.cdf(t), self.q.sf(t)
        # Cell masses from whichever of cdf / sf is small at the left end (no cancellation).
        dp = np.where(fp[:-1] < 0.5, np.diff(fp), -np.diff(sp))
        dq = np.where(fq[:-1] < 0.5, np.diff(fq), -np.diff(sq))
        return float(min(0.5 * np.sum(np.abs(dp - dq)), 1.0))

    def _cdf_diff(self, x):
        """F_P(x) - F_Q(x), from survival functions where both CDFs are near 1."""
        fp, fq = self.p.cdf(x), self.q.cdf(x)
        upper = fp + fq > 1.0
        d = fp - fq
        d[upper] = self.q.sf(x[upper]) - self.p.sf(x[upper])
        return d

    def w1(self) -> float:
        # |F - G| has no logs, so it is smooth between its roots: breakpoint panels plus roots.
        x, w = gl_panels(self.edges[:-1], self.edges[1:])
        d = self._cdf_diff(x)

        def fun(xs):
            return self._cdf_diff(xs), self.p.pdf(xs) - self.q.pdf(xs)

        roots = sign_change_roots(x.ravel(), d.ravel(), fun, self.atol)
        if roots.size:  # the kinks of |F - G| become panel edges
            e = np.union1d(self.edges, roots)
            x, w = gl_panels(e[:-1], e[1:])
            d = self._cdf_diff(x)
        return float(np.sum(w * np.abs(d[:, 1:-1])))

    def w2(self) -> float:
        fp, _, fq, _ = self.edge_cdfs
        u = np.unique(np.clip(np.concatenate([fp, fq, _U_TAIL]), _U_CLIP, 1.0 - _U_CLIP))

        def evaluate(a, b):
            un, uw = gl_panels(a, b)
            un = un[:, 1:-1]
            xp = _quantile(self.p, un.ravel(), self.edges, fp[1:-1]).reshape(un.shape)
            xq = _quantile(self.q, un.ravel(), self.edges, fq[1:-1]).reshape(un.shape)
            return uw, ((xp - xq) ** 2)[:, None, :]

        # Quantiles carry ~4e-14 relative noise, which (xp - xq)^2 turns into relative noise
        # ~1e-13 span / W2 in the integrand: below W2 ~ 1e-4 span, stop asking for relative accuracy.
        floor = (1e-4 * (self.edges[-1] - self.edges[0])) ** 2
        _, _, (uw, sq) = refine_panels(
            u[:-1], u[1:], evaluate, lambda d, half: _unresolved(d[1], half, floor)
        )
        return math.sqrt(float(np.sum(uw * sq[:, 0])))


def _quantile(dist: Distribution, u, edges, f_edges):
    """dist.ppf(u); for mixtures, start Newton inside the x-panel that must contain the answer."""
    if not isinstance(dist, Mixture):
        return dist.ppf(u)
    f = np.maximum.accumulate(f_edges)  # rounding could break monotonicity; searchsorted needs it
    k = np.searchsorted(f, u, side="right") - 1
    inside = (k >= 0) & (k < len(edges) - 1)
    out = np.empty_like(u)
    if (~inside).any():
        out[~inside] = dist.ppf(u[~inside])
    k = k[inside]
    a, b, fa, fb = edges[k], edges[k + 1], f[k], f[k + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        x0 = a + (u[inside] - fa) / (fb - fa) * (b - a)  # linear interpolation of the CDF
    x0 = np.where(np.isfinite(x0), np.clip(x0, a, b), 0.5 * (a + b))
    out[inside] = dist.ppf_between(u[inside], a, b, x0)
    return out


# ---------------------------------------------------------------- public API
def kl(p: Distribution, q: Distribution) -> float:
    """KL(P || Q) in nats; ``math.inf`` when P has mass where Q has zero density."""
    return _Pair(p, q).kl(forward=True)


def reverse_kl(p: Distribution, q: Distribution) -> float:
    """KL(Q || P) in nats (the reverse direction of ``kl(p, q)``)."""
    return _Pair(p, q).kl(forward=False)


def js(p: Distribution, q: Distribution) -> float:
    """Jensen-Shannon divergence with the half mixture, in nats: 0 <= JS <= log 2."""
    return _Pair(p, q).js()


def tv(p: Distribution, q: Distribution) -> float:
    """Total variation 1/2 int |p - q| dx, in [0, 1]."""
    return _Pair(p, q).tv()


def wasserstein(p: Distribution, q: Distribution, order: int = 1) -> float:
    """W_order(P, Q) (not raised to the power ``order``) for ground cost |x - y|^order."""
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    pair = _Pair(p, q)
    return pair.w1() if order == 1 else pair.w2()


def divergence_report(p: Distribution, q: Distribution) -> Divergences:
    """All six divergences from one shared grid (each log-density and CDF evaluated once)."""
    pair = _Pair(p, q)
    return Divergences(pair.kl(True), pair.kl(False), pair.js(), pair.tv(), pair.w1(), pair.w2())


def integrands(p: Distribution, q: Distribution, x) -> Integrands:
    """Pointwise integrands at points ``x`` (for plots); see ``Integrands`` for each curve."""
    _check(p=p, q=q)
    x = np.asarray(x, dtype=float)
    lp, lq = np.asarray(p.logpdf(x)), np.asarray(q.logpdf(x))
    lm = np.logaddexp(lp, lq) - _LOG2
    dp, dq, dm = np.exp(lp), np.exp(lq), np.exp(lm)

    def plogr(dens, la, lb):  # dens * (la - lb): 0 where dens = 0, +inf where dens > 0 = other
        with np.errstate(invalid="ignore"):
            t = dens * (la - lb)
        t = np.where(la == -np.inf, 0.0, t)
        return np.where((la > -np.inf) & (lb == -np.inf), np.inf, t)

    cp, cq = np.asarray(p.cdf(x)), np.asarray(q.cdf(x))
    return Integrands(
        x=x, p=dp, q=dq, m=dm,
        kl_pq=plogr(dp, lp, lq), kl_qp=plogr(dq, lq, lp),
        js=0.5 * plogr(dp, lp, lm) + 0.5 * plogr(dq, lq, lm),
        tv=0.5 * np.abs(dp - dq), w1=np.abs(cp - cq), cdf_p=cp, cdf_q=cq,
    )


def quantile_coupling(p: Distribution, q: Distribution, u):
    """The monotone (optimal for every convex cost) transport map as pairs (P^-1(u), Q^-1(u))."""
    _check(p=p, q=q)
    return np.asarray(p.ppf(u)), np.asarray(q.ppf(u))
