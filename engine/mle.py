"""Maximum likelihood by gradient ascent: the live trainer of the likelihood page.

``MLETrainer`` fits a Gaussian (or a k-component mixture) to 1D data by gradient ascent on the
mean log-likelihood, in torch, through the ``engine.training`` protocol (step, stop on a
non-finite metric, rewind, resume). ``loglik_surface`` is the closed-form landscape over
(mu, log sigma) that the page draws the optimiser's path on; ``excursion`` says whether, where and how
far that path left the drawn box (Adam at a huge lr strides ~lr per step out of it without diverging).

    from engine.mle import MLEConfig, MLETrainer

    trainer = MLETrainer(MLEConfig(family="gaussian", optimizer="sgd", lr=50.0), data)
    saved = trainer.state_dict()       # plain numpy / primitives (a checkpoint to rewind to)
    metrics = trainer.step(100)        # one dict per step actually taken (fewer if it stopped)
    if trainer.stopped:                # StopReason(code="non_finite", step=4, detail={...})
        trainer.load_state_dict(saved) # rewind: parameters, optimiser state, lr, history
        trainer.set_lr(0.05)           # then change what made it diverge
        trainer.resume()               # clear the stop (load_state_dict or reset() do it too)
    metrics = trainer.step_for(0.15)   # one page tick: as many steps as fit in ~150 ms
    picture = trainer.snapshot()       # arrays to draw

A stop's detail carries the settings in use: ``lr``, ``optimizer`` and ``family``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.checks import positive, whole_number
from engine.gaussians import LOG_2PI
from engine.training import BaseTrainer, load_optimizer_state, optimizer_state, to_plain


def loglik_surface(x, means, log_stds) -> np.ndarray:
    """Mean log-likelihood of 1D data x under N(mu, sigma^2) on a grid: (len(log_stds), len(means)).

    Closed form from the sufficient statistics (mean xbar and ddof=0 variance s^2):
    (1/n) sum log N(x_i; mu, sigma^2) = -log sigma - log(2 pi)/2 - (s^2 + (xbar - mu)^2) / (2 sigma^2).
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("x must be a non-empty 1D array of finite numbers")
    mu = np.asarray(means, dtype=float)[None, :]  # (1, M)
    ls = np.asarray(log_stds, dtype=float)[:, None]  # (L, 1)
    xbar, s2 = float(x.mean()), float(x.var())
    return -ls - 0.5 * LOG_2PI - (s2 + (xbar - mu) ** 2) * (0.5 * np.exp(-2.0 * ls))


@dataclass(frozen=True)
class Excursion:
    """How an optimiser's (mu, log sigma) path went outside a box (the region a page draws)."""

    first: int  # index of the first point outside (index k = after k steps)
    farthest: tuple[float, float]  # the finite point farthest outside the box (nan, nan if none is finite)
    largest_jump: float  # the longest single step between consecutive finite points (Euclidean)
    now_inside: bool  # whether the path's last point is back in the box


def excursion(path, mean_range, log_std_range) -> Excursion | None:
    """None when every point of ``path`` (steps + 1, 2) lies in [mean_range] x [log_std_range] (closed);
    else where it first left, how far it went and the largest step taken. Non-finite points are outside."""
    path = np.asarray(path, dtype=float).reshape(-1, 2)
    low = np.array([min(mean_range), min(log_std_range)], dtype=float)
    high = np.array([max(mean_range), max(log_std_range)], dtype=float)
    finite = np.all(np.isfinite(path), axis=1)
    inside = finite & np.all((path >= low) & (path <= high), axis=1)
    if inside.all():
        return None
    outside_by = np.where(finite, np.linalg.norm(path - np.clip(path, low, high), axis=1), -np.inf)
    farthest = path[int(np.argmax(outside_by))] if finite[~inside].any() else np.array([math.nan, math.nan])
    both = finite[1:] & finite[:-1]
    jumps = np.linalg.norm(np.diff(path, axis=0), axis=1)[both]
    return Excursion(int(np.flatnonzero(~inside)[0]), (float(farthest[0]), float(farthest[1])),
                     float(jumps.max(initial=0.0)), bool(inside[-1]))


# ---------------------------------------------------------------- MLE by gradient ascent
OPTIMIZERS = ("sgd", "momentum", "adam")
FAMILIES = ("gaussian", "mixture")


@dataclass(frozen=True)
class MLEConfig:
    """Settings of ``MLETrainer`` (frozen, so hashable for caching)."""

    family: str = "gaussian"  # two parameters (mu, log sigma): the page can draw the whole surface
    k: int = 2  # mixture components (ignored for "gaussian"); 2 is the smallest bimodal fit
    optimizer: str = "adam"  # per-parameter step sizes cope with mu and log sigma's different curvature
    lr: float = 0.05  # Adam moves each parameter ~lr per step: the optimum of standardised data in ~100s of steps
    seed: int = 0  # mixture initial means (data points) and minibatch order
    init: tuple[float, float] = (-3.0, 1.0)  # (mu0, log sigma0), far from standardised data's (0, 0): a visible path
    batch_size: int | None = None  # None: full batch, exact gradients, a smooth path; an int adds SGD noise
    momentum: float = 0.9  # heavy-ball coefficient of "momentum" (the textbook default)

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        whole_number(self.k, "k", 1)
        _check_lr(self.lr)
        if self.batch_size is not None:  # None: the full batch
            whole_number(self.batch_size, "batch_size", 1)
        if len(self.init) != 2 or not all(math.isfinite(float(v)) for v in self.init):
            raise ValueError(f"init must be two finite numbers (mu0, log_sigma0), got {self.init!r}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")


def _check_lr(lr) -> float:
    return positive(lr, "lr")


@dataclass(frozen=True, eq=False)
class MLESnapshot:
    """What the page draws: current parameters, the (mu, log sigma) path, the fitted model."""

    step: int
    means: np.ndarray  # (k,)
    stds: np.ndarray  # (k,)
    weights: np.ndarray  # (k,)
    path: np.ndarray  # (step_count + 1, 2): (mu, log sigma) of component 0, the start first
    model: Any  # engine.distributions Normal / Mixture, or None when a parameter is not finite


class MLETrainer(BaseTrainer):
    """Gradient ascent on the mean log-likelihood of 1D data, in torch (float64).

    Parameters: means (k,), log stds (k,) and, for mixtures, weight logits (k,) (softmax
    weights). The loss is the negative mean log-likelihood over the batch (the full data unless
    ``batch_size``). Metrics of each step: "loss", "log_likelihood" (= -loss) and "grad_norm"
    at the parameters the step started from (where its gradient was taken); "mu" and
    "log_sigma" (component 0) after the update, i.e. the new end of the path.

    ``device`` (default cpu) is where the tensors live; Apple's mps has no float64, so float32
    is used there. Deterministic given ``config.seed``. ``set_lr`` / ``set_optimizer`` act on the
    next step; ``reset()`` restarts from the initial parameters but keeps the current lr and
    optimiser (they mirror the page's controls).
    """

    def __init__(self, config: MLEConfig, data, device=None):
        super().__init__()
        import torch

        self._torch = torch
        x = np.asarray(data, dtype=float)
        if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
            raise ValueError(f"data must be a non-empty 1D array of finite numbers, got shape {x.shape}")
        k = 1 if config.family == "gaussian" else config.k
        if k > x.size:
            raise ValueError(f"k={k} components need at least k data points, got n={x.size}")
        self.config, self.k = config, k
        self.device = torch.device(device if device is not None else "cpu")
        self._dtype = torch.float32 if self.device.type == "mps" else torch.float64
        self.data = x
        self._x = torch.as_tensor(x, dtype=self._dtype, device=self.device)
        self.lr, self.optimizer_name = _check_lr(config.lr), config.optimizer
        self._gen = torch.Generator()  # cpu: minibatch indices are drawn there on every device
        self._reset()

    # ---- parameters and optimiser
    def _initial(self) -> dict[str, np.ndarray]:
        if self.config.family == "gaussian":
            mu0, ls0 = (float(v) for v in self.config.init)
            return {"means": np.array([mu0]), "log_stds": np.array([ls0]), "logits": np.zeros(1)}
        idx = np.random.default_rng(self.config.seed).choice(self.data.size, self.k, replace=False)
        return {"means": np.sort(self.data[idx]), "log_stds": np.full(self.k, math.log(self.data.std() or 1.0)),
                "logits": np.zeros(self.k)}

    def _params(self) -> list:
        ps = [self._p["means"], self._p["log_stds"]]
        return ps if self.config.family == "gaussian" else ps + [self._p["logits"]]  # Gaussian: weight fixed at 1

    def _build_optimizer(self):
        optim = self._torch.optim
        if self.optimizer_name == "adam":
            return optim.Adam(self._params(), lr=self.lr)
        momentum = self.config.momentum if self.optimizer_name == "momentum" else 0.0
        return optim.SGD(self._params(), lr=self.lr, momentum=momentum)

    def _reset(self) -> None:
        t = self._torch
        self._p = {k: t.tensor(v, dtype=self._dtype, device=self.device, requires_grad=True)
                   for k, v in self._initial().items()}
        self._opt = self._build_optimizer()
        self._gen.manual_seed(int(self.config.seed))
        self._path = [(float(self._p["means"][0].detach()), float(self._p["log_stds"][0].detach()))]

    def set_lr(self, lr: float) -> None:
        """New learning rate from the next step; parameters and optimiser state are kept."""
        self.lr = _check_lr(lr)
        for group in self._opt.param_groups:
            group["lr"] = self.lr

    def set_optimizer(self, name: str) -> None:
        """Switch optimiser from the next step; its state (momentum, Adam moments) starts fresh
        unless ``name`` is the one already in use."""
        if name not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
        if name != self.optimizer_name:
            self.optimizer_name = name
            self._opt = self._build_optimizer()

    # ---- the step
    def _loss(self, xb):
        """Negative mean log-likelihood of the batch xb (B,).

        Written through sigma = exp(log sigma), not log sigma directly: when a diverging run
        pushes sigma past the float range (sigma = inf or 0), log sigma is still a finite
        number but the model is not, and the loss then comes out inf / NaN and stops training.
        """
        t, p = self._torch, self._p
        sigma = t.exp(p["log_stds"])  # (k,)
        z = (xb[:, None] - p["means"]) / sigma  # (B, k)
        comp = -0.5 * z * z - t.log(sigma) - 0.5 * LOG_2PI  # (B, k) log N(x_b; mu_j, sigma_j^2)
        if self.config.family == "gaussian":
            return -comp[:, 0].mean()
        return -t.logsumexp(t.log_softmax(p["logits"], dim=0) + comp, dim=1).mean()

    def _step(self) -> dict[str, float]:
        t = self._torch
        xb = self._x
        b = self.config.batch_size
        if b is not None and b < self._x.numel():
            xb = self._x[t.randperm(self._x.numel(), generator=self._gen)[:b].to(self.device)]
        self._opt.zero_grad(set_to_none=True)
        loss = self._loss(xb)
        loss.backward()
        with t.no_grad():
            grad_norm = t.sqrt(sum((q.grad * q.grad).sum() for q in self._params()))
        self._opt.step()
        loss_v, gn, mu, ls = t.stack([loss.detach(), grad_norm, self._p["means"][0].detach(),
                                      self._p["log_stds"][0].detach()]).tolist()  # one device sync
        self._path.append((mu, ls))
        return {"loss": loss_v, "log_likelihood": -loss_v, "grad_norm": gn, "mu": mu, "log_sigma": ls}

    def _stop_detail(self) -> dict:
        return {"lr": self.lr, "optimizer": self.optimizer_name, "family": self.config.family}

    def _settings(self) -> dict:
        return {"lr": self.lr, "optimizer": self.optimizer_name}

    def _apply_settings(self, settings: dict) -> None:
        self.set_optimizer(settings["optimizer"])
        self.set_lr(settings["lr"])

    # ---- drawing and state
    def snapshot(self) -> MLESnapshot:
        from engine.distributions import Mixture, Normal

        p = {k: v.detach().cpu().numpy().astype(float) for k, v in self._p.items()}
        stds = np.exp(p["log_stds"])
        logits = p["logits"] - p["logits"].max() if np.all(np.isfinite(p["logits"])) else p["logits"]
        weights = np.exp(logits) / np.exp(logits).sum()
        model = None
        if all(np.all(np.isfinite(v)) for v in (p["means"], stds, weights)) and np.all(stds > 0):
            normals = tuple(Normal(m, s) for m, s in zip(p["means"], stds))
            model = normals[0] if self.config.family == "gaussian" else Mixture(normals, tuple(weights))
        return MLESnapshot(self.step_count, p["means"], stds, weights, np.array(self._path), model)

    def _state(self) -> dict:
        return {
            "params": {k: to_plain(v) for k, v in self._p.items()},
            "optimizer": self.optimizer_name,
            "lr": self.lr,
            "optimizer_state": optimizer_state(self._opt),
            "generator": self._gen.get_state().numpy().copy(),
            "path": np.array(self._path),
        }

    def _load_state(self, state: dict) -> None:
        t = self._torch
        with t.no_grad():
            for k, v in state["params"].items():
                self._p[k].copy_(t.as_tensor(np.asarray(v), dtype=self._dtype))
        self.optimizer_name, self.lr = state["optimizer"], _check_lr(state["lr"])
        self._opt = self._build_optimizer()
        load_optimizer_state(self._opt, state["optimizer_state"])
        self._gen.set_state(t.as_tensor(np.array(state["generator"], dtype=np.uint8)))
        self._path = [tuple(row) for row in np.asarray(state["path"], dtype=float)]
