"""The GAN minimax game solved exactly in 1D (Goodfellow et al. 2014, section 4).

For a fixed generator distribution p_g, the value of the game

    V(D, G) = E_{p_data}[log D(x)] + E_{p_g}[log(1 - D(x))]

is maximised pointwise by D*(x) = p_data(x) / (p_data(x) + p_g(x)) (Proposition 1), and at that
optimum V(D*, G) = -log 4 + 2 JS(p_data || p_g) (Theorem 1). Here both sides are computed
independently, V by quadrature of the integrand above and JS by ``engine.divergences.js``, so
their agreement (~1e-12) is a check of the theorem, not a restatement of it.

Conventions
-----------
* Natural logarithm (nats), as in ``engine.divergences``: JS in [0, log 2], V(D*, G) in [-log 4, 0].
* D* is computed from log-densities as sigmoid(log p_data - log p_g), so it is accurate where
  both densities underflow to 0 (far tails). Where both densities are exactly 0 (outside both
  supports) no discriminator's value matters to V, and D* is *defined* as 1/2 there: the limit
  of D* when p_data and p_g are equal, and the value a discriminator that knows nothing gives.
* Generator losses are written as functions of D = D(G(z)) = sigmoid(a), a the discriminator's
  logit: saturating log(1 - D) (the minimax game; G minimises it) and non-saturating -log D
  (the heuristic of the same paper); gradients are with respect to a.

``train_discriminator`` trains a small MLP discriminator against the fixed p_g, to be compared
with D* (it converges to it: the page's "Train D").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_expit

from engine.checks import whole_number
from engine.distributions import Distribution, Mixture, Normal
from engine.divergences import js
from engine.quadrature import RESOLVE, distinct_edges, gl_panels, legendre_tail, refine_panels

LOG4 = math.log(4.0)

# Named data distributions for the page (and notebooks): mixtures whose D* against a single
# Gaussian is visibly non-monotone, plus one Normal where p_g can match p_data exactly.
DATA = {
    "two_bumps": Mixture((Normal(-2.0, 0.6), Normal(2.0, 0.6)), (0.5, 0.5)),
    "three_bumps": Mixture((Normal(-3.0, 0.5), Normal(0.0, 0.5), Normal(3.0, 0.5)), (0.3, 0.4, 0.3)),
    "lopsided": Mixture((Normal(-1.0, 0.8), Normal(2.5, 0.4)), (0.75, 0.25)),
    "normal": Normal(0.0, 1.0),
}


def data_distribution(name: str) -> Distribution:
    if name not in DATA:
        raise ValueError(f"unknown data distribution {name!r}; choose one of {', '.join(DATA)}")
    return DATA[name]


def _check(**dists) -> None:
    for name, d in dists.items():
        if not isinstance(d, Distribution):
            raise TypeError(f"{name} must be a Normal, Uniform or Mixture, got {type(d).__name__}")


# ---------------------------------------------------------------- the optimal discriminator
def optimal_logit(p_data: Distribution, p_g: Distribution, x) -> np.ndarray:
    """log p_data(x) - log p_g(x): the logit of D*; 0 where both densities are 0 (D* = 1/2 there)."""
    _check(p_data=p_data, p_g=p_g)
    return _log_ratio(np.asarray(p_data.logpdf(x), dtype=float), np.asarray(p_g.logpdf(x), dtype=float))


def _log_ratio(lp: np.ndarray, lq: np.ndarray) -> np.ndarray:
    """lp - lq with -inf - -inf (outside both supports) set to 0, without numpy's warning.

    +-inf where exactly one density is 0 is intended (D* = 1 or 0, and log_expit(+-inf) is exact);
    only the 0/0 case needs the convention. Both branches of np.where are evaluated, so the
    subtraction itself runs under errstate: on disjoint supports it warned "invalid value"."""
    with np.errstate(invalid="ignore"):
        a = lp - lq
    return np.where((lp == -np.inf) & (lq == -np.inf), 0.0, a)


def optimal_discriminator(p_data: Distribution, p_g: Distribution, x) -> np.ndarray:
    """D*(x) = p_data / (p_data + p_g) = sigmoid(log p_data - log p_g); 1/2 where both are 0."""
    return expit(optimal_logit(p_data, p_g, x))


# ---------------------------------------------------------------- the value V(D, G) by quadrature
def _integrate(p_data: Distribution, p_g: Distribution, integrand) -> float:
    """int integrand(x, log p_data(x), log p_g(x)) dx on Gauss-Legendre panels between both
    distributions' breakpoints, bisected until the integrand is resolved (as engine.divergences)."""
    edges = distinct_edges(np.union1d(p_data.breakpoints(), p_g.breakpoints()))

    def evaluate(a, b):
        x, w = gl_panels(a, b)
        x = x[:, 1:-1]  # GL nodes only, (P, ORDER)
        return w, integrand(x, np.asarray(p_data.logpdf(x)), np.asarray(p_g.logpdf(x)))

    def unresolved(data, half):
        w, vals = data
        if not np.all(np.isfinite(vals)):
            return np.zeros(len(w), dtype=bool)  # an infinite V needs no refinement
        total = max(abs(float(np.sum(w * vals))), 1e-12)  # floor: V ~ 0 for disjoint supports
        return legendre_tail(vals) * half > RESOLVE * total

    _, _, (w, vals) = refine_panels(edges[:-1], edges[1:], evaluate, unresolved)
    return float(np.sum(w * vals))


def _value_terms(lp, lq, log_d, log_1md):
    """p_data log D + p_g log(1 - D), with 0 * log(anything) = 0 where a density is 0 in floats.

    The test is on the density, not on log-density == -inf: in a far tail (N(0, 1) at x = 39)
    the density underflows to 0 while D = sigmoid(logit) has also rounded to 0, and 0 * -inf
    gave nan."""
    with np.errstate(invalid="ignore", over="ignore"):
        p, q = np.exp(lp), np.exp(lq)
        return np.where(p == 0.0, 0.0, p * log_d) + np.where(q == 0.0, 0.0, q * log_1md)


def value(p_data: Distribution, p_g: Distribution, d, *, logit: bool = False) -> float:
    """V(D, G) = E_pdata[log D(X)] + E_pg[log(1 - D(X))] in nats, by adaptive quadrature.

    ``d`` is a vectorised function x -> D(x) in [0, 1] (or, with ``logit=True``, x -> the logit a
    of D = sigmoid(a), which keeps log D accurate where D is within rounding of 0 or 1).
    Returns -inf when D is 0 where p_data has mass, or 1 where p_g has mass.
    """
    _check(p_data=p_data, p_g=p_g)

    def integrand(x, lp, lq):
        if logit:
            a = np.asarray(d(x), dtype=float)
            return _value_terms(lp, lq, log_expit(a), log_expit(-a))
        dx = np.asarray(d(x), dtype=float)
        with np.errstate(divide="ignore"):
            return _value_terms(lp, lq, np.log(dx), np.log1p(-dx))

    return _integrate(p_data, p_g, integrand)


def value_at_optimum(p_data: Distribution, p_g: Distribution) -> float:
    """V(D*, G) by quadrature of the value integrand at D* (not through JS): in [-log 4, 0]."""
    _check(p_data=p_data, p_g=p_g)

    def integrand(x, lp, lq):
        a = _log_ratio(lp, lq)
        return _value_terms(lp, lq, log_expit(a), log_expit(-a))

    return _integrate(p_data, p_g, integrand)


def value_from_js(p_data: Distribution, p_g: Distribution) -> float:
    """-log 4 + 2 JS(p_data || p_g), with JS from ``engine.divergences.js`` (Theorem 1)."""
    return -LOG4 + 2.0 * js(p_data, p_g)


@dataclass(frozen=True)
class GameAtOptimum:
    """Both sides of Theorem 1 for one (p_data, p_g) pair, in nats."""

    value: float  # V(D*, G) by quadrature
    identity: float  # -log 4 + 2 JS
    js: float

    @property
    def difference(self) -> float:
        return self.value - self.identity


def game_at_optimum(p_data: Distribution, p_g: Distribution) -> GameAtOptimum:
    j = js(p_data, p_g)
    return GameAtOptimum(value=value_at_optimum(p_data, p_g), identity=-LOG4 + 2.0 * j, js=j)


# ---------------------------------------------------------------- generator losses
@dataclass(frozen=True, eq=False)
class GeneratorLosses:
    """The generator's two losses and their gradients w.r.t. D's logit a, as functions of D."""

    d: np.ndarray  # D(G(z)) in (0, 1)
    saturating: np.ndarray  # log(1 - D): the minimax loss G minimises
    non_saturating: np.ndarray  # -log D
    grad_saturating: np.ndarray  # d/da log(1 - sigmoid(a)) = -D: vanishes as D -> 0
    grad_non_saturating: np.ndarray  # d/da -log sigmoid(a) = -(1 - D): about -1 as D -> 0


def generator_losses(d) -> GeneratorLosses:
    """Both generator losses at the values ``d`` (each in the open interval (0, 1))."""
    d = np.asarray(d, dtype=float)
    if not np.all((d > 0.0) & (d < 1.0)):
        raise ValueError("D(G(z)) values must lie strictly between 0 and 1")
    return GeneratorLosses(d=d, saturating=np.log1p(-d), non_saturating=-np.log(d),
                           grad_saturating=-d, grad_non_saturating=-(1.0 - d))


def d_star_on_generated(p_data: Distribution, p_g: Distribution, n: int, rng=None) -> np.ndarray:
    """D*(x) for n samples x ~ p_g: where the generator's samples sit on the D axis, (n,)."""
    _check(p_data=p_data, p_g=p_g)
    n = whole_number(n, "n", 1)
    return optimal_discriminator(p_data, p_g, p_g.sample(n, np.random.default_rng(rng)))


def mean_d_star_on_generated(p_data: Distribution, p_g: Distribution) -> float:
    """E_{x ~ p_g}[D*(x)] = int p_g D* dx by quadrature (the exact mean of the samples above)."""
    _check(p_data=p_data, p_g=p_g)

    def integrand(x, lp, lq):
        return np.exp(lq) * expit(np.where(lq == -np.inf, 0.0, _log_ratio(lp, lq)))  # 0 outside p_g's support

    return _integrate(p_data, p_g, integrand)


# ---------------------------------------------------------------- a learned discriminator
MODES = ("expected", "minibatch")


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Settings of ``train_discriminator`` (frozen, so hashable for caching)."""

    steps: int = 500  # Adam steps; with the defaults below the max error is ~0.01 by then (tests)
    mode: str = "expected"  # "expected": the exact expected loss on a grid, no sampling noise, so the
    # curve shows optimisation alone; "minibatch": fresh samples of both each step, as in a GAN
    hidden: int = 32  # two tanh layers of this width: smooth logits, enough for a few bumps' log-ratio
    lr: float = 0.03  # Adam with cosine decay; the logit must reach ~10 within a few hundred steps
    batch_size: int = 256  # per distribution, minibatch mode only
    grid_points: int = 400  # expected mode: nodes of the loss grid (spacing ~1/40 of the range)
    seed: int = 0  # initial weights and (minibatch mode) the samples

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        whole_number(self.steps, "steps", 0)  # 0: the untrained network, to compare with
        for name in ("hidden", "batch_size", "grid_points"):
            whole_number(getattr(self, name), name, 1)
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr}")


@dataclass(frozen=True, eq=False)
class LearnedDiscriminator:
    """A discriminator trained against a fixed p_g, evaluated on a grid and compared with D*."""

    x: np.ndarray  # (n,) evaluation grid
    d: np.ndarray  # (n,) learned D(x)
    d_star: np.ndarray  # (n,) D*(x)
    region: np.ndarray  # (n,) bool: where (p_data + p_g)/2 >= REGION_FRACTION of its peak on x
    losses: np.ndarray  # (steps,) the discriminator's loss -V(D, G) (exact or minibatch estimate)
    steps: int  # steps actually taken (fewer than asked if the loss went non-finite)
    mode: str
    value: float  # V(D_learned, G) by quadrature: <= V(D*, G)
    stopped: str | None = None  # why training stopped early, or None

    @property
    def max_error(self) -> float:
        """max |D - D*| over ``region`` (where D* matters: elsewhere V barely weights D)."""
        return float(np.max(np.abs(self.d - self.d_star)[self.region]))


# D only affects V through p_data and p_g; where both are below this fraction of the peak of their
# mixture, neither loss pulls on D and no finite training makes D match D* there.
REGION_FRACTION = 1e-2


def training_range(p_data: Distribution, p_g: Distribution) -> tuple[float, float]:
    """Central 99.98% of both distributions plus a 10% margin: where the learned D is fitted."""
    lo = min(float(p_data.ppf(1e-4)), float(p_g.ppf(1e-4)))
    hi = max(float(p_data.ppf(1 - 1e-4)), float(p_g.ppf(1 - 1e-4)))
    pad = 0.1 * (hi - lo)
    return lo - pad, hi + pad


def train_discriminator(p_data: Distribution, p_g: Distribution, config: DiscriminatorConfig = DiscriminatorConfig(),
                        x=None) -> LearnedDiscriminator:
    """Train an MLP D(x) = sigmoid(f(x)) to maximise V(D, G) for the fixed p_g; evaluate it on ``x``
    (default: 400 points on ``training_range``). Loss = -V: the binary cross-entropy of a GAN's D.

    Every op here is a (400, 32) matrix or smaller, ~10-100 us: it runs on the process's thread
    policy (``engine.device.configure_threads``, one thread on the dashboard) and never changes it.
    """
    import torch  # lazily: the exact part of this module needs no torch

    _check(p_data=p_data, p_g=p_g)
    return _train(p_data, p_g, config, x, torch)


def _train(p_data, p_g, config, x, torch) -> LearnedDiscriminator:
    lo, hi = training_range(p_data, p_g)
    x = np.linspace(lo, hi, 400) if x is None else np.asarray(x, dtype=float)
    center, half = 0.5 * (lo + hi), 0.5 * (hi - lo)  # inputs scaled to about [-1, 1]
    gen = torch.Generator().manual_seed(config.seed)
    h = config.hidden
    layers = [torch.nn.Linear(1, h), torch.nn.Tanh(), torch.nn.Linear(h, h), torch.nn.Tanh(), torch.nn.Linear(h, 1)]
    with torch.no_grad():  # default PyTorch init, but drawn from our generator (reproducible)
        for layer in layers[::2]:
            bound = 1.0 / math.sqrt(layer.in_features)
            layer.weight.uniform_(-bound, bound, generator=gen)
            layer.bias.uniform_(-bound, bound, generator=gen)
    net = torch.nn.Sequential(*layers).double()
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    # Cosine decay to 0: the last steps settle instead of jittering (minibatch noise, Adam's own)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(config.steps, 1))

    def logit(points: np.ndarray | torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(points, dtype=torch.float64).reshape(-1, 1)
        return net((t - center) / half).reshape(-1)  # (n,)

    if config.mode == "expected":
        # Midpoint rule on the grid: loss = -sum dx (p_data log D + p_g log(1 - D)) = -V up to the
        # (negligible) mass outside [lo, hi]. Weights (grid,) are fixed; only D changes.
        edges = np.linspace(lo, hi, config.grid_points + 1)
        grid = 0.5 * (edges[1:] + edges[:-1])
        dx = edges[1] - edges[0]
        w_data = torch.as_tensor(dx * p_data.pdf(grid))
        w_gen = torch.as_tensor(dx * p_g.pdf(grid))
    else:
        rng = np.random.default_rng(config.seed)
    losses, stopped = [], None
    logsig = torch.nn.functional.logsigmoid
    for step in range(config.steps):
        if config.mode == "expected":
            a = logit(grid)
            loss = -(w_data @ logsig(a) + w_gen @ logsig(-a))
        else:
            real, fake = logit(p_data.sample(config.batch_size, rng)), logit(p_g.sample(config.batch_size, rng))
            loss = -(logsig(real).mean() + logsig(-fake).mean())
        value_now = loss.item()
        if not math.isfinite(value_now):
            stopped = f"non-finite loss at step {step}"
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(value_now)
    with torch.no_grad():
        d = torch.sigmoid(logit(x)).numpy()

        def learned_logit(points):
            return logit(np.asarray(points).ravel()).numpy().reshape(np.shape(points))

        v = value(p_data, p_g, learned_logit, logit=True)
    m = 0.5 * (np.asarray(p_data.pdf(x)) + np.asarray(p_g.pdf(x)))
    return LearnedDiscriminator(x=x, d=d, d_star=optimal_discriminator(p_data, p_g, x),
                                region=m >= REGION_FRACTION * m.max(), losses=np.asarray(losses),
                                steps=len(losses), mode=config.mode, value=v, stopped=stopped)
