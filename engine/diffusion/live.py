"""A 2D DDPM trained live: an MLP noise predictor with a time embedding, on the shared trainer protocol.

    from engine import toy2d
    from engine.diffusion.live import Diffusion2DConfig, Diffusion2DTrainer

    trainer = Diffusion2DTrainer(Diffusion2DConfig(), toy2d.sample("moons", 8000, 0),
                                 fresh=lambda n, seed: toy2d.sample("moons", n, seed))
    trainer.step(500)[-1]          # {"loss": mean squared error of the predicted noise}
    trainer.evaluate()             # {"step", "sliced_w2"}: 1,000 samples against 1,000 fresh data points
    film = trainer.reverse_film()  # x_T ... x_0 of 1,000 particles, every step (for scrubbing / animation)
    eps, score = trainer.noise_field(t=50, points=grid)      # the learned field at one step
    step = trainer.reverse_step(film.at(50)[:1], t=50, seed=0)  # x_50 -> x_49 of one particle, every term
    exact = trainer.reverse_film(predictor="exact")  # the same chain driven by the data's exact noise predictor

Training minimises Ho et al.'s simple loss E_{t, x_0, eps} ||eps - eps_theta(sqrt(abar_t) x_0 +
sqrt(1 - abar_t) eps, t)||^2 with t uniform on 1..T. The quality metric is the sliced Wasserstein-2
distance (500 random directions) between model samples and fresh data, read against its floor: the
same distance between two independent data draws of the same size (``sliced_w2_floor``).

The reverse chain can also be driven by the exact noise predictor of ``N_EXACT`` of the training points
(``engine.diffusion.exact_eps``, the minimiser of that loss): what the network is learning, available
before any training. An untrained network's chain throws particles thousands of units away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.checks import positive, whole_number
from engine.diffusion import process as dm
from engine.training import BaseTrainer, load_optimizer_state, optimizer_state, seeded, to_plain

N_EVAL = 1000  # samples and fresh data points per quality evaluation (the protocol)
N_DIRECTIONS = 500  # sliced W2 projections
LOSS_BINS = 20  # the loss-per-timestep chart groups t into this many bins
N_EXACT = 1000  # training points behind the exact noise predictor: a chain of 1,000 particles over T = 100
#                 steps costs about 0.75 CPU-s with them (4x the network's), and the predictor stays exact
#                 for the points it holds
PREDICTORS = ("network", "exact")  # what drives the reverse chain: the EMA network or eps* of the data


@dataclass(frozen=True)
class ReverseFilm:
    """The reverse chain of ``n`` particles: ``frames[k]`` (n, 2) is x_t at t = ``steps[k]`` (T down to 0)."""

    steps: np.ndarray  # (K,) int, decreasing, first T, last 0
    frames: np.ndarray  # (K, n, 2) float64
    every: int = 1  # the kept steps are the multiples of ``every``, plus T
    predictor: str = "network"  # "network" (the EMA weights) or "exact" (eps* of the training points)

    def at(self, t: int) -> np.ndarray:
        """x_t (n, 2) of every particle; ``t`` must be a kept step."""
        found = np.flatnonzero(self.steps == t)
        if not found.size:
            raise ValueError(f"step {t} was not kept in this film (kept every {self.every} steps)")
        return self.frames[found[0]]

    def trajectories(self, indices) -> np.ndarray:
        """(len(indices), K, 2): the paths of the chosen particles from x_T to x_0."""
        return np.transpose(self.frames[:, np.asarray(indices, dtype=int)], (1, 0, 2))


@dataclass(frozen=True)
class Diffusion2DConfig:
    schedule: str = "cosine"  # cosine keeps more signal at small t than linear for the same T
    steps: int = 100  # T: 100 steps already reach N(0, I) with a rescaled or cosine schedule; sampling stays cheap
    rescale: bool = True  # linear only: see engine.diffusion.linear_betas (False shows tiny-diffusion's failure)
    width: int = 128  # tiny-diffusion's MLP width: enough for moons and the swiss roll
    depth: int = 3  # hidden layers
    embedding: int = 32  # sinusoidal time-embedding size (Vaswani et al.; Ho et al. use it for t)
    lr: float = 2e-3  # Adam; the model is small and the loss is noisy, a larger lr converges faster at no cost
    batch_size: int = 512
    ema: float = 0.995  # samples use an exponential moving average of the weights (Ho et al.: 0.9999, far longer runs)
    seed: int = 0
    eval_every: int = 500  # steps between sliced-W2 evaluations (each costs one full reverse chain)

    def schedule_config(self) -> dm.ScheduleConfig:
        return dm.ScheduleConfig(self.schedule, self.steps, self.rescale)


class TimeMLP(nn.Module):
    """An MLP on [x, embedding(t)] -> (B, 2), t in 0..total: the DDPM's noise predictor and flow matching's
    velocity (``engine.flow.live``) are this same network."""

    def __init__(self, width: int, depth: int, embedding: int, total: float):
        super().__init__()
        self.total, self.embedding = total, embedding
        layers, size = [], 2 + embedding
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.SiLU()]
            size = width
        self.net = nn.Sequential(*layers, nn.Linear(size, 2))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, dm.time_embedding(t, self.total, self.embedding)], dim=1))


class NoiseMLP(TimeMLP):
    """eps_theta(x_t, t): the MLP on [x_t, embedding(t)] -> predicted noise (B, 2), t in 1..T."""

    def __init__(self, config: Diffusion2DConfig):
        super().__init__(config.width, config.depth, config.embedding, config.steps)


def sliced_w2(x: np.ndarray, y: np.ndarray, seed: int) -> float:
    from engine.transport import sliced_wasserstein

    return sliced_wasserstein(x, y, n_directions=N_DIRECTIONS, p=2, rng=seed)


class PointsTrainer(BaseTrainer):
    """What the live DDPM and flow-matching trainers share: 2D points, a network with EMA weights trained
    by Adam at a live learning rate, a seeded minibatch generator, and the quality protocol's fresh data.

    A subclass sets ``model``, ``ema_model``, ``_opt`` in ``_reset`` and adds its own state to
    ``_network_state()`` in ``_state``."""

    def _points(self, data, fresh, lr: float) -> None:
        x = np.asarray(data, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != 2 or len(x) < 2 or not np.all(np.isfinite(x)):
            raise ValueError(f"data must be a finite (n, 2) array with n >= 2, got shape {x.shape}")
        self.data, self._fresh = x, fresh
        self._x = torch.as_tensor(x, dtype=torch.float32)
        self.lr = positive(lr, "the learning rate")
        self._gen = torch.Generator()
        self.sliced_w2_floor = sliced_w2(self._reference(seed=10_001), self._reference(seed=10_002), seed=0)

    def _reference(self, seed: int) -> np.ndarray:
        if self._fresh is not None:
            return np.asarray(self._fresh(N_EVAL, seed), dtype=np.float64)
        return self.data[np.random.default_rng(seed).integers(0, len(self.data), N_EVAL)]

    def _networks(self, build) -> None:
        """``model`` and its EMA copy from ``build()`` (seeded), Adam, and the minibatch generator reseeded."""
        with seeded(self.config.seed):
            self.model = build()
            self.ema_model = build().requires_grad_(False)
        self.ema_model.load_state_dict(self.model.state_dict())
        self._params, self._ema_params = list(self.model.parameters()), list(self.ema_model.parameters())
        self._opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        self._gen.manual_seed(self.config.seed)

    def _ema_update(self) -> None:
        with torch.no_grad():
            torch._foreach_lerp_(self._ema_params, self._params, 1.0 - self.config.ema)

    def set_lr(self, lr: float) -> None:
        self.lr = positive(lr, "the learning rate")
        for group in self._opt.param_groups:
            group["lr"] = self.lr

    def _stop_detail(self) -> dict:
        return {"lr": self.lr}

    def _settings(self) -> dict:
        return {"lr": self.lr}

    def _apply_settings(self, settings: dict) -> None:
        self.set_lr(settings["lr"])

    def snapshot(self):
        return self

    def _network_state(self) -> dict:
        return {
            "model": {k: to_plain(v) for k, v in self.model.state_dict().items()},
            "ema_model": {k: to_plain(v) for k, v in self.ema_model.state_dict().items()},
            "lr": self.lr,
            "optimizer_state": optimizer_state(self._opt),
            "generator": self._gen.get_state().numpy().copy(),
            "evaluations": [dict(e) for e in self.evaluations],
            "samples": self.samples.copy(),
        }

    def _load_network_state(self, state: dict) -> None:
        self.model.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in state["model"].items()})
        self.ema_model.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in state["ema_model"].items()})
        self.lr = positive(state["lr"], "the learning rate")
        self._opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        load_optimizer_state(self._opt, state["optimizer_state"])
        self._gen.set_state(torch.as_tensor(np.array(state["generator"], dtype=np.uint8)))
        self.evaluations = [dict(e) for e in state["evaluations"]]
        self.samples = np.asarray(state["samples"], dtype=np.float64).copy()


class Diffusion2DTrainer(PointsTrainer):
    """Live DDPM training on 2D points (Adam, minibatches drawn from ``data``).

    ``fresh(n, seed) -> (n, 2)`` draws new data for the quality metric (a named toy set); without
    it the metric compares against a resample of ``data`` (an uploaded point set). Each step's
    metrics: {"loss"}; ``evaluations`` holds {"step", "sliced_w2"} every ``eval_every`` steps and at
    step 0; ``loss_by_t`` is a running mean of the loss in ``LOSS_BINS`` bins of t.
    """

    def __init__(self, config: Diffusion2DConfig, data, fresh=None):
        super().__init__()
        whole_number(config.steps, "the number of diffusion steps T", 2)
        self.config = config
        self._points(data, fresh, config.lr)
        self.schedule = dm.Schedule(config.schedule_config())
        x = self.data
        keep = np.random.default_rng(0).permutation(len(x))[:N_EXACT]  # a fixed subsample: cost O(N_EXACT) a call
        self.exact_points = x[np.sort(keep)]  # (min(n, N_EXACT), 2)
        self.exact_model = dm.exact_eps(self.schedule, self.exact_points)
        self._reset()

    def _reset(self) -> None:
        self._networks(lambda: NoiseMLP(self.config))
        self.loss_sum, self.loss_count = np.zeros(LOSS_BINS), np.zeros(LOSS_BINS)
        self.evaluations: list[dict] = []
        self.samples = np.zeros((0, 2))  # (N_EVAL, 2): the latest evaluation's model samples, drawn live
        self.evaluations.append(self.evaluate())

    def _step(self) -> dict[str, float]:
        b = self.config.batch_size
        x0 = self._x[torch.randint(0, len(self._x), (b,), generator=self._gen)]
        t = torch.randint(1, self.config.steps + 1, (b,), generator=self._gen)
        noise = torch.randn(x0.shape, generator=self._gen)
        per_point = (self.model(dm.q_sample(self.schedule, x0, t, noise), t) - noise).pow(2).mean(1)  # (B,)
        loss = per_point.mean()
        self._opt.zero_grad(set_to_none=True)
        loss.backward()
        self._opt.step()
        self._ema_update()
        bins = ((t - 1) * LOSS_BINS // self.config.steps).numpy()
        np.add.at(self.loss_sum, bins, per_point.detach().double().numpy())
        np.add.at(self.loss_count, bins, 1)
        if (self.step_count + 1) % self.config.eval_every == 0:
            self.evaluations.append(self.evaluate(self.step_count + 1))
        return {"loss": loss.item()}

    def loss_by_t(self) -> tuple[np.ndarray, np.ndarray]:
        """(bin centres in t, mean loss in each bin so far; NaN where no step fell)."""
        centres = (np.arange(LOSS_BINS) + 0.5) * self.config.steps / LOSS_BINS
        with np.errstate(invalid="ignore", divide="ignore"):
            return centres, self.loss_sum / self.loss_count

    def eps_model(self, predictor: str = "network") -> dm.EpsModel:
        """The noise predictor behind sampling: the EMA network, or ``exact_model`` (eps* of ``exact_points``)."""
        if predictor not in PREDICTORS:
            raise ValueError(f"unknown predictor {predictor!r}; choose one of {', '.join(PREDICTORS)}")
        return self.ema_model if predictor == "network" else self.exact_model

    @torch.no_grad()
    def sample(self, n: int, seed: int, keep=None,
               predictor: str = "network") -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """``(x_0 (n, 2), {t: x_t})`` by ancestral sampling; ``keep(t)`` picks the frames kept."""
        x, frames = dm.sample_ddpm(self.schedule, self.eps_model(predictor), (n, 2),
                                   torch.Generator().manual_seed(seed), keep=keep)
        return x.double().numpy(), {t: f.double().numpy() for t, f in frames.items()}

    def evaluate(self, step: int | None = None) -> dict:
        """Sliced W2 between ``N_EVAL`` model samples and as many fresh data points (fixed seeds per step).

        The samples are kept in ``self.samples`` (N_EVAL, 2), so a page can draw them at no extra cost.
        """
        step = self.step_count if step is None else step
        self.samples, _ = self.sample(N_EVAL, seed=step + 1)
        fresh = self._reference(seed=step + 20_000)
        return {"step": step, "sliced_w2": sliced_w2(self.samples, fresh, seed=step)}

    def reverse_film(self, n: int = N_EVAL, seed: int = 0, every: int = 1, predictor: str = "network") -> ReverseFilm:
        """The reverse chain x_T -> x_0 of ``n`` particles, keeping x_t at every ``every``-th step (and T, 0).

        The chain is ``sample(n, seed, predictor=predictor)``'s, so ``film.at(0)`` is exactly its result;
        ``every`` only thins what is kept (an animation of a long chain), never the steps taken.
        """
        every = whole_number(every, "every", 1)
        total = self.config.steps
        _, frames = self.sample(n, seed, keep=lambda t: t % every == 0 or t == total, predictor=predictor)
        steps = np.array(sorted(frames, reverse=True))
        return ReverseFilm(steps, np.stack([frames[t] for t in steps]), every, predictor)

    def _eps_float64(self, predictor: str):
        """The predictor on float64 inputs with a float64 output (the EMA network itself runs in float32):
        every other term of a step is then float64 arithmetic, so x_{t-1} = mu + sigma z holds to float64
        rounding."""
        model = self.eps_model(predictor)
        if predictor == "exact":
            return model  # computes in its input's dtype
        return lambda x, t: model(x.float(), t).double()

    @torch.no_grad()
    def noise_field(self, t: int, points, predictor: str = "network") -> tuple[np.ndarray, np.ndarray]:
        """(eps_theta(x, t), score) at ``points`` (m, 2) for one step ``t`` in 1..T, both (m, 2) float64.

        The score of the noised marginal is s_theta(x, t) = -eps_theta(x, t) / sqrt(1 - alpha_bar_t)
        (denoising score matching, Vincent 2011; Song et al. 2021): it points from x towards where the
        noised data are dense.
        """
        if not 1 <= t <= self.config.steps:
            raise ValueError(f"t must lie in 1..{self.config.steps}, got {t}")
        x = torch.as_tensor(np.asarray(points, dtype=np.float64).reshape(-1, 2))
        eps = self._eps_float64(predictor)(x, torch.full((len(x),), int(t), dtype=torch.long)).numpy()
        return eps, -eps / math.sqrt(1.0 - self.schedule.alpha_bar[t])

    def reverse_step(self, x_t, t: int, seed: int, predictor: str = "network") -> dm.ReverseStep:
        """One DDPM step x_t -> x_{t-1} of points ``x_t`` (m, 2) at step ``t``, every term (float64 tensors).

        ``engine.diffusion.p_sample`` with the EMA network (the one that samples) or the exact predictor,
        and z drawn from ``torch.Generator().manual_seed(seed)``.
        """
        x = torch.as_tensor(np.asarray(x_t, dtype=np.float64).reshape(-1, 2))
        return dm.p_sample(self.schedule, self._eps_float64(predictor), x, int(t),
                           torch.Generator().manual_seed(seed))

    def _state(self) -> dict:
        return {**self._network_state(), "loss_sum": self.loss_sum.copy(), "loss_count": self.loss_count.copy()}

    def _load_state(self, state: dict) -> None:
        self._load_network_state(state)
        self.loss_sum, self.loss_count = state["loss_sum"].copy(), state["loss_count"].copy()
