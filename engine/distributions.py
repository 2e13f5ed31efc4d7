"""One-dimensional distributions: Normal, Uniform and (nested) mixtures of them.

Conventions
-----------
* Densities are with respect to Lebesgue measure on the real line. ``logpdf`` is ``-inf``
  (never NaN) outside the support; NaN inputs give NaN outputs.
* ``cdf(x) = P(X <= x)``; ``sf(x) = 1 - cdf(x)`` computed without cancellation in the upper tail.
* ``ppf(u) = inf{x : cdf(x) >= u}`` (the generalised inverse), so a flat stretch of the CDF maps
  to its left end; ``ppf(0)`` and ``ppf(1)`` are the ends of ``support`` (possibly infinite),
  u outside [0, 1] gives NaN.
* ``support`` is the closed hull ``(lo, hi)`` of the true support (possibly infinite);
  ``support_intervals()`` lists its disjoint pieces (a mixture of Uniforms can have gaps).
  ``effective_support`` is finite and holds all but about 1e-12 of the mass (plot ranges).
* ``breakpoints()`` are where quadrature panels should start and end: every discontinuity of
  the density, and close enough together that the density is smooth on each panel.
  ``engine.divergences`` builds its grids from them.
* Objects are immutable and hashable (usable as cache keys); ``sample(n, rng)`` takes an int
  seed or a ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from engine.checks import whole_number
from engine.gaussians import LOG_2PI
from engine.quadrature import solve_increasing

# |z| beyond which a Normal's two tails hold < 1e-12 of the mass: 2 * Phi(-7.13) ~ 1e-12.
Z_EFFECTIVE = float(-ndtri(0.5e-12))
_NORMAL_PANELS = np.arange(-12.0, 12.5, 1.0)  # one panel per std out to +-12 std (mass ~1e-33 beyond)
_UNIFORM_PANELS = np.linspace(0.0, 1.0, 5)  # the ends plus 3 interior points, so wide uniforms get panels


def _finite(name: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def _out(a: np.ndarray):
    """Return numpy scalars for scalar input, arrays otherwise (like scipy.stats)."""
    return a[()] if a.ndim == 0 else a


def _rng(rng) -> np.random.Generator:
    return np.random.default_rng(rng)  # a Generator passes through unchanged


def _count(n) -> int:
    return whole_number(n, "n", 0)


class Distribution(ABC):
    """Interface shared by the 1D distributions (see the module docstring for conventions).

    Subclasses also provide ``mean`` and ``var`` (exact) as attributes or properties.
    """

    @abstractmethod
    def logpdf(self, x): ...

    @abstractmethod
    def cdf(self, x): ...

    @abstractmethod
    def sf(self, x): ...

    @abstractmethod
    def ppf(self, u): ...

    @abstractmethod
    def score(self, x):
        """d/dx logpdf(x) where the density is positive (used by Newton steps and gradients)."""

    @abstractmethod
    def sample(self, n, rng=None) -> np.ndarray: ...

    @abstractmethod
    def shift(self, theta: float) -> Distribution:
        """The same distribution translated by ``theta`` (X + theta)."""

    @abstractmethod
    def breakpoints(self) -> np.ndarray: ...

    @abstractmethod
    def support_intervals(self) -> tuple[tuple[float, float], ...]: ...

    def pdf(self, x):
        return _out(np.exp(np.asarray(self.logpdf(x))))

    @property
    def support(self) -> tuple[float, float]:
        pieces = self.support_intervals()
        return pieces[0][0], pieces[-1][1]


@dataclass(frozen=True)
class Normal(Distribution):
    """N(mean, std**2)."""

    mean: float
    std: float

    def __post_init__(self):
        object.__setattr__(self, "mean", _finite("mean", self.mean))
        std = _finite("std", self.std)
        if std <= 0:
            raise ValueError(f"std must be > 0, got {std}")
        object.__setattr__(self, "std", std)

    @property
    def var(self) -> float:
        return self.std**2

    def _z(self, x):
        return (np.asarray(x, dtype=float) - self.mean) / self.std

    def logpdf(self, x):
        z = self._z(x)
        with np.errstate(over="ignore"):  # |x| ~ 1e300: z * z = inf gives the right -inf
            return _out(-0.5 * z * z - (math.log(self.std) + 0.5 * LOG_2PI))

    def cdf(self, x):
        return _out(ndtr(self._z(x)))

    def sf(self, x):
        return _out(ndtr(-self._z(x)))  # no 1 - cdf cancellation in the upper tail

    def ppf(self, u):
        return _out(self.mean + self.std * ndtri(np.asarray(u, dtype=float)))

    def score(self, x):
        return _out(-self._z(x) / self.std)

    def sample(self, n, rng=None):
        return _rng(rng).normal(self.mean, self.std, _count(n))

    def shift(self, theta):
        return Normal(self.mean + _finite("theta", theta), self.std)

    def breakpoints(self):
        return self.mean + self.std * _NORMAL_PANELS

    def support_intervals(self):
        return ((-math.inf, math.inf),)

    @property
    def effective_support(self) -> tuple[float, float]:
        return self.mean - Z_EFFECTIVE * self.std, self.mean + Z_EFFECTIVE * self.std


@dataclass(frozen=True)
class Uniform(Distribution):
    """U[low, high] (density 1 / (high - low) on the closed interval, as scipy.stats.uniform)."""

    low: float
    high: float

    def __post_init__(self):
        low, high = _finite("low", self.low), _finite("high", self.high)
        if not low < high:
            raise ValueError(f"low must be < high, got low={low}, high={high}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @property
    def mean(self) -> float:
        return 0.5 * (self.low + self.high)

    @property
    def var(self) -> float:
        return (self.high - self.low) ** 2 / 12.0

    def logpdf(self, x):
        x = np.asarray(x, dtype=float)
        inside = (x >= self.low) & (x <= self.high)
        out = np.where(inside, -math.log(self.high - self.low), -np.inf)
        return _out(np.where(np.isnan(x), np.nan, out))

    def cdf(self, x):
        return _out(np.clip((np.asarray(x, dtype=float) - self.low) / (self.high - self.low), 0.0, 1.0))

    def sf(self, x):
        return _out(np.clip((self.high - np.asarray(x, dtype=float)) / (self.high - self.low), 0.0, 1.0))

    def ppf(self, u):
        u = np.asarray(u, dtype=float)
        x = np.where(u == 1.0, self.high, self.low + u * (self.high - self.low))
        return _out(np.where((u >= 0.0) & (u <= 1.0), x, np.nan))

    def score(self, x):
        return _out(np.zeros_like(np.asarray(x, dtype=float)))

    def sample(self, n, rng=None):
        return _rng(rng).uniform(self.low, self.high, _count(n))

    def shift(self, theta):
        theta = _finite("theta", theta)
        return Uniform(self.low + theta, self.high + theta)

    def breakpoints(self):
        return self.low + (self.high - self.low) * _UNIFORM_PANELS

    def support_intervals(self):
        return ((self.low, self.high),)

    @property
    def effective_support(self) -> tuple[float, float]:
        return self.low, self.high


@dataclass(frozen=True)
class Mixture(Distribution):
    """sum_i weights[i] * components[i]; components may themselves be mixtures.

    Weights must be >= 0 and sum to 1 within 1e-9; they are renormalised internally so the
    CDF ends exactly at 1. Zero-weight components are kept (for equality/hashing) but ignored.
    """

    components: tuple
    weights: tuple

    def __post_init__(self):
        comps = tuple(self.components)
        if not comps:
            raise ValueError("a Mixture needs at least one component")
        for i, c in enumerate(comps):
            if not isinstance(c, Distribution):
                raise TypeError(f"components[{i}] must be a Normal, Uniform or Mixture, got {c!r}")
        w = tuple(_finite(f"weights[{i}]", v) for i, v in enumerate(self.weights))
        if len(w) != len(comps):
            raise ValueError(f"got {len(comps)} components but {len(w)} weights; give one per component")
        if min(w) < 0:
            raise ValueError(f"weights must be >= 0, got {w}")
        total = math.fsum(w)
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"weights must sum to 1 (within 1e-9), got {total!r}; divide each by the total")
        object.__setattr__(self, "components", comps)
        object.__setattr__(self, "weights", w)
        active = [i for i, v in enumerate(w) if v > 0]
        # Not dataclass fields: derived once, excluded from eq/hash.
        object.__setattr__(self, "_comps", tuple(comps[i] for i in active))
        object.__setattr__(self, "_w", np.array([w[i] for i in active]) / total)

    @property
    def mean(self) -> float:
        return float(sum(w * c.mean for w, c in zip(self._w, self._comps)))

    @property
    def var(self) -> float:
        m = self.mean  # law of total variance: E[Var | component] + Var[E | component]
        return float(sum(w * (c.var + (c.mean - m) ** 2) for w, c in zip(self._w, self._comps)))

    def _log_terms(self, x):
        return np.stack([math.log(w) + np.asarray(c.logpdf(x)) for w, c in zip(self._w, self._comps)])

    def logpdf(self, x):
        terms = self._log_terms(np.asarray(x, dtype=float))  # (K, ...)
        top = terms.max(axis=0)
        safe = np.where(np.isfinite(top), top, 0.0)  # logsumexp; keeps -inf (not NaN) off-support
        with np.errstate(divide="ignore"):
            return _out(safe + np.log(np.exp(terms - safe).sum(axis=0)))

    def pdf(self, x):
        x = np.asarray(x, dtype=float)
        return _out(sum(w * np.asarray(c.pdf(x)) for w, c in zip(self._w, self._comps)))

    def cdf(self, x):
        x = np.asarray(x, dtype=float)
        return _out(np.clip(sum(w * np.asarray(c.cdf(x)) for w, c in zip(self._w, self._comps)), 0.0, 1.0))

    def sf(self, x):
        x = np.asarray(x, dtype=float)
        return _out(np.clip(sum(w * np.asarray(c.sf(x)) for w, c in zip(self._w, self._comps)), 0.0, 1.0))

    def score(self, x):
        x = np.asarray(x, dtype=float)
        terms = self._log_terms(x)
        with np.errstate(invalid="ignore"):
            resp = np.exp(terms - np.asarray(self.logpdf(x)))  # responsibilities, (K, ...)
            s = sum(r * np.asarray(c.score(x)) for r, c in zip(resp, self._comps))
        return _out(np.where(np.isfinite(s), s, 0.0))

    def ppf(self, u):
        u = np.asarray(u, dtype=float)
        out = np.full(u.shape, np.nan)
        lo, hi = self.support
        out[u == 0.0] = lo
        out[u == 1.0] = hi
        inner = (u > 0.0) & (u < 1.0)
        if inner.any():
            ui = u[inner]
            # F(min_i q_i(u)) <= u <= F(max_i q_i(u)), so the component quantiles bracket the root.
            qs = np.stack([np.asarray(c.ppf(ui)) for c in self._comps])
            out[inner] = self.ppf_between(ui, qs.min(axis=0), qs.max(axis=0), self._w @ qs)
        return _out(out)

    def ppf_between(self, u, lo, hi, x0=None):
        """ppf for u in (0, 1) when the answer is known to lie in [lo, hi] (arrays like u)."""
        u = np.asarray(u, dtype=float)
        upper = u > 0.5
        target = np.where(upper, 1.0 - u, u)  # 1 - u is exact for u > 1/2 (Sterbenz)

        def fun(x, sel):
            up = upper[sel]
            g = np.empty_like(x)
            g[~up] = self.cdf(x[~up]) - target[sel][~up]
            g[up] = target[sel][up] - self.sf(x[up])  # solve sf(x) = 1 - u in the upper half
            return g, self.pdf(x)

        x0 = 0.5 * (lo + hi) if x0 is None else x0
        return solve_increasing(fun, lo, hi, x0, atol=1e-14 * math.sqrt(self.var))

    def sample(self, n, rng=None):
        n, rng = _count(n), _rng(rng)
        which = rng.choice(len(self._comps), size=n, p=self._w)
        out = np.empty(n)
        for k, c in enumerate(self._comps):
            mask = which == k
            out[mask] = c.sample(int(mask.sum()), rng)
        return out

    def shift(self, theta):
        return Mixture(tuple(c.shift(theta) for c in self.components), self.weights)

    def breakpoints(self):
        return np.unique(np.concatenate([c.breakpoints() for c in self._comps]))

    def support_intervals(self):
        pieces = sorted(p for c in self._comps for p in c.support_intervals())
        merged = [list(pieces[0])]
        for lo, hi in pieces[1:]:
            if lo <= merged[-1][1]:  # overlapping or touching pieces join (a point has no mass)
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        return tuple((lo, hi) for lo, hi in merged)

    @property
    def effective_support(self) -> tuple[float, float]:
        ends = [c.effective_support for c in self._comps]
        return min(e[0] for e in ends), max(e[1] for e in ends)


def support_covered(p: Distribution, q: Distribution) -> bool:
    """Is every piece of P's support inside one piece of Q's? Then q > 0 wherever P has mass,
    so KL(P || Q) < inf and E_P[log q(X)] > -inf (decided from intervals, not from underflow)."""
    qs = q.support_intervals()
    return all(any(c <= a and b <= d for c, d in qs) for a, b in p.support_intervals())


def shifted(dist: Distribution, theta: float) -> Distribution:
    """``dist`` translated by ``theta``: the law of X + theta."""
    return dist.shift(theta)


def two_normal_mixture(center: float, scale: float, weight: float, separation: float) -> Mixture:
    """weight * N(center - separation/2, scale^2) + (1 - weight) * N(center + separation/2, scale^2)."""
    weight = _finite("weight", weight)
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    half = 0.5 * _finite("separation", separation)
    center = _finite("center", center)
    return Mixture((Normal(center - half, scale), Normal(center + half, scale)), (weight, 1.0 - weight))
