"""The engine's one numerical toolbox: adaptive Gauss-Legendre quadrature and a safeguarded Newton.

Every integral in ``engine.divergences``, ``engine.likelihood`` and ``engine.projections`` and
every quantile (``ppf``) in ``engine.distributions`` and ``engine.kde`` is computed here.

Quadrature
----------
Composite Gauss-Legendre with ``ORDER`` nodes per panel (``gl_panels``). A caller starts from
panels between a distribution's ``breakpoints()`` (``distinct_edges`` drops edges a few ulps
apart) and ``refine_panels`` bisects a panel while the caller's test says its integrand is not
resolved. The usual test is ``legendre_tail``: the last two Legendre coefficients of the
interpolant at the nodes, which decay geometrically once the integrand is smooth on the panel
(as in chebfun); ``RESOLVE`` is the fraction of the integral's total they must fall below.

Roots
-----
``solve_increasing`` finds, for many problems at once, the smallest x in a bracket where a
function turns non-negative (Newton steps, bisection when a step misbehaves): the
generalised-inverse convention of ``ppf``. ``sign_change_roots`` finds the sign changes of a
function sampled on a sorted grid (the kinks of |p - q| and |F - G| in TV and W1).
"""

from __future__ import annotations

import numpy as np

ORDER = 16  # Gauss-Legendre nodes per panel: degree-31 exactness, rounding-level on 1-std panels
GL_X, GL_W = np.polynomial.legendre.leggauss(ORDER)
# Legendre coefficients n-2 and n-1 of the degree-(n-1) interpolant at the GL nodes: c_k =
# (2k + 1)/2 sum_j w_j f(x_j) P_k(x_j). Small tails mean the panel is resolved (as in chebfun).
_LEG_TAIL = np.stack(
    [(k + 0.5) * GL_W * np.polynomial.legendre.legval(GL_X, np.eye(ORDER)[k])
     for k in (ORDER - 2, ORDER - 1)],
    axis=1,
)  # (ORDER, 2)
# Refine a panel while its tail coefficients exceed this fraction of the integrand's total; one
# value for the whole engine, so divergences and likelihood agree to ~1e-12 on the same grids.
RESOLVE = 1e-9
_MAX_LEVELS = 20  # bisections: enough to shrink a 1-std panel ~1e6-fold
_MAX_PANELS = 20_000  # a backstop on cost, never reached in the tests
_MAX_ITER = 200  # bisection alone needs ~60 halvings of a finite double bracket; Newton far fewer
_NEWTON_ITER = 16  # converged Newton needs ~5; beyond this, noise is in charge: bisect


# ---------------------------------------------------------------- Gauss-Legendre panels
def gl_panels(a: np.ndarray, b: np.ndarray):
    """GL nodes and weights on the panels [a[i], b[i]].

    Returns x (P, ORDER + 2): each row is [left edge + 1 ulp, GL nodes, right edge - 1 ulp], so
    the flattened array is sorted and one-sided limits at every edge are sampled (a sign change
    across a jump then shows up as a 2-ulp bracket, not a root to hunt); and w (P, ORDER).
    """
    a, b = a[:, None], b[:, None]
    half, mid = 0.5 * (b - a), 0.5 * (a + b)
    x = np.concatenate([np.nextafter(a, np.inf), mid + half * GL_X, np.nextafter(b, -np.inf)], axis=1)
    return x, half * GL_W


def distinct_edges(edges: np.ndarray) -> np.ndarray:
    """Sorted panel edges without those a few ulps after their left neighbour, so each panel
    keeps its one-sided edge samples (see ``gl_panels``) in order."""
    gap = np.diff(edges) > 8 * np.spacing(np.maximum(np.abs(edges[:-1]), np.abs(edges[1:])))
    return edges[np.concatenate([[True], gap])]


def legendre_tail(values):
    """|c_(n-2)| + |c_(n-1)|: last Legendre coefficients of the interpolant through ``values``
    (..., ORDER) at the GL nodes. Small means the function is resolved on that panel."""
    return np.abs(values @ _LEG_TAIL).sum(axis=-1)


def refine_panels(a, b, evaluate, unresolved):
    """Bisect the panels [a[i], b[i]] (sorted, contiguous) while ``unresolved`` flags them.

    ``evaluate(a, b)`` returns a tuple of per-panel arrays (first axis = panel) for the given
    panels; ``unresolved(data, half_widths) -> bool (P,)``. Only new panels are evaluated.
    Returns the final a, b and data, sorted by position.
    """
    data = evaluate(a, b)
    for _ in range(_MAX_LEVELS):
        bad = unresolved(data, 0.5 * (b - a))
        if not bad.any() or a.size > _MAX_PANELS:
            break
        mid = 0.5 * (a[bad] + b[bad])
        na, nb = np.concatenate([a[bad], mid]), np.concatenate([mid, b[bad]])
        new = evaluate(na, nb)
        order = np.argsort(np.concatenate([a[~bad], na]), kind="stable")
        a, b = np.concatenate([a[~bad], na])[order], np.concatenate([b[~bad], nb])[order]
        data = tuple(np.concatenate([d[~bad], n])[order] for d, n in zip(data, new))
    return a, b, data


# ---------------------------------------------------------------- roots
def solve_increasing(fun, a, b, x0, rtol=4e-14, atol=0.0):
    """Vectorised safeguarded Newton: the smallest x in [a, b] with g(x) >= 0, per element.

    ``fun(x, sel) -> (g, dg)`` evaluates g and its derivative at points ``x`` for the problems
    ``sel`` (integer indices into a, b). Requires g(a) < 0 <= g(b) or a == answer; g need not
    be monotone (any sign change is then found). Newton steps that leave the bracket, or have
    dg <= 0 / NaN, fall back to bisection. Stops when b - a <= rtol * max(|a|, |b|) + atol and
    returns b, so g(result) >= 0 always holds (the generalised-inverse convention).
    """
    out = np.array(b, dtype=float)
    lo, hi, x = np.array(a, dtype=float), out.copy(), np.array(x0, dtype=float)
    at = np.broadcast_to(np.asarray(atol, dtype=float), lo.shape)
    sel = np.arange(lo.size)  # the unfinished problems; working arrays are kept compacted to them
    for it in range(_MAX_ITER):
        t = rtol * np.maximum(np.abs(lo), np.abs(hi)) + at
        mid = 0.5 * (lo + hi)
        # Done when the bracket is within tolerance, or no double lies strictly inside it.
        active = (hi - lo > t) & (mid > lo) & (mid < hi)
        if not active.all():
            out[sel[~active]] = hi[~active]
            sel, lo, hi, x, at, t = (v[active] for v in (sel, lo, hi, x, at, t))
            if sel.size == 0:
                return out
        g, dg = fun(x, sel)
        right = g >= 0
        hi, lo = np.where(right, x, hi), np.where(right, lo, x)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            step = g / dg
        xn = x - step
        # Newton converges from one side only, so once its step is tiny we probe half a
        # tolerance past the root: that point lands on the other side and closes the bracket.
        tiny = np.abs(step) <= 0.25 * t
        xn = np.where(tiny, xn + np.where(right, -0.5, 0.5) * t, xn)
        # Where rounding noise in g dominates, Newton can wander inside the bracket without
        # shrinking it; after _NEWTON_ITER steps only bisection is used (guaranteed progress).
        inside = (xn > lo) & (xn < hi) & (it < _NEWTON_ITER)  # False for NaN / inf steps too
        x = np.where(inside, xn, 0.5 * (lo + hi))
    out[sel] = hi
    return out


def sign_change_roots(x, v, fun, atol):
    """Roots of a function sampled as v at sorted points x, refined by ``solve_increasing``.

    ``fun(x) -> (value, derivative)``. Adjacent samples of strictly opposite sign bracket a
    root; an exact zero between opposite signs is a root as is.
    """
    s = np.sign(np.nan_to_num(v, nan=0.0))
    flip = np.flatnonzero(s[:-1] * s[1:] < 0)
    exact = np.flatnonzero((s[1:-1] == 0) & (s[:-2] * s[2:] < 0)) + 1
    if flip.size == 0:
        return x[exact]
    a, b, sign = x[flip], x[flip + 1], -s[flip]  # sign makes g = sign * value negative at a

    def g(xs, sel):
        val, der = fun(xs)
        return sign[sel] * val, sign[sel] * der

    return np.concatenate([solve_increasing(g, a, b, 0.5 * (a + b), rtol=1e-13, atol=atol), x[exact]])
