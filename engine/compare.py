"""One data set, every family: five live trainers on the same points, judged by one protocol.

    from engine.compare import Race
    race = Race(train, heldout, modes=(centres, std))      # (n, 2) points; modes where the data has them
    race.step(20)                                          # 20 rounds: each family its steps of a round
    race.scoreboard()                                      # {family: Score}, the latest of each

The families: a Gaussian mixture fitted by EM (``mixture``; one EM iteration a step), the 2D VAE
(``engine.vae.live``), the 2D GAN (``engine.gan.live``), the 2D DDPM (``engine.diffusion.live``) and 2D
flow matching (``engine.flow.live``, the DDPM's network). A round gives each family ``ROUND_STEPS`` of its
own steps, chosen so that a round costs each about the same wall time on a CPU; training is therefore
deterministic in the number of rounds, while each family's training seconds are measured as they pass.

The protocol (``Score``), the same for every family, every ``EVAL_EVERY`` rounds:

* sliced W2 between 1,000 samples and 1,000 held-out points (256 directions, fixed), against its floor:
  the same distance between 1,000 training points and the held-out ones (a perfect model scores ~1x);
  log-likelihoods are means over 300 held-out points;
* modes covered and the share of high-quality samples, where the data has modes (``engine.gan.modes``);
* log-likelihood of the held-out points, where the family gives one: exact for the mixture; for the
  VAE the ELBO, an IWAE bound (K = 64) and the exact value by quadrature over its 1 or 2 latent
  dimensions; for the DDPM its variational bound (a lower bound on log p, T network evaluations a point);
  none for the GAN (it has no density) and none here for flow matching (an exact value needs the ODE's
  divergence along each path: not computed);
* network evaluations per sample, and the wall time to draw 1,000 samples;
* training seconds so far, and the seconds at which sliced W2 first came within 2x and 3x its floor.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.diffusion.live import Diffusion2DConfig, Diffusion2DTrainer
from engine.flow.live import Flow2DConfig, Flow2DTrainer
from engine.gan.live import GAN2DTrainer, GANArchitecture, GANSettings
from engine.gan.modes import mode_coverage
from engine.gaussians import GaussianMixture
from engine.likelihood import em_start, em_update
from engine.training import BaseTrainer, StopReason
from engine.transport import sliced_wasserstein
from engine.vae.grid import log_marginal_grid
from engine.vae.live import VAETrainer
from engine.vae.model import VAEConfig

FAMILIES = ("mixture", "vae", "gan", "ddpm", "flow")
ROUND_STEPS = {"mixture": 1, "vae": 4, "gan": 8, "ddpm": 6, "flow": 6}  # about 5-20 ms each on 2 cores
MAX_ROUNDS = 3000  # then the race stops (about 6 minutes of play; each lane's history grows by a step a round)
EVAL_EVERY = 10  # rounds between two scores of a family (staggered: one family every 2 rounds)
N_SCORE = 1000  # samples, held-out and training points of a score
DIRECTIONS = 256
N_LIKELIHOOD = 300  # held-out points behind a log-likelihood (the DDPM bound costs T evaluations each)
NEVER = 10**9  # a trainer's own evaluation schedule, switched off: the race scores every family itself
NETWORK_EVALUATIONS = {"mixture": 0, "vae": 1, "gan": 1}  # per sample; ddpm: T, flow: its sampler's


class MixtureTrainer(BaseTrainer):
    """A Gaussian mixture with ``k`` components fitted by EM, one iteration a step, on standardised data
    (as ``engine.likelihood.em_mixture``, whose iterations it takes one at a time)."""

    def __init__(self, data, k: int = 8, seed: int = 0):
        super().__init__()
        x = np.asarray(data, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != 2 or len(x) < k:
            raise ValueError(f"data must be an (n, 2) array with n >= k = {k}, got shape {x.shape}")
        self.data, self.k, self.seed = x, k, seed
        spread = x.std(axis=0)
        self._loc, self._scale = x.mean(axis=0), np.where(spread > 0, spread, 1.0)  # points on a line: no 0 / 0
        self._z = (x - self._loc) / self._scale
        self._reset()

    def _reset(self) -> None:
        self.weights, self.means, self.covs = em_start(self._z, self.k, self.seed)

    def _step(self) -> dict[str, float]:
        (self.weights, self.means, self.covs), before = em_update(self._z, self.weights, self.means, self.covs)
        return {"log_likelihood": before - float(np.log(self._scale).sum())}  # in the data's units

    def model(self) -> GaussianMixture:
        w = self.weights / self.weights.sum()
        return GaussianMixture(w, self._loc + self.means * self._scale, self.covs * np.outer(self._scale, self._scale))

    def snapshot(self):
        return self

    def _state(self) -> dict:
        return {"weights": self.weights.copy(), "means": self.means.copy(), "covs": self.covs.copy()}

    def _load_state(self, state: dict) -> None:
        self.weights, self.means, self.covs = (np.asarray(state[k]).copy() for k in ("weights", "means", "covs"))


def build(family: str, data: np.ndarray, seed: int = 0, k: int = 8):
    """The family's trainer on ``data`` with the settings the race uses (its own evaluations off)."""
    if family == "mixture":
        return MixtureTrainer(data, k=k, seed=seed)
    if family == "vae":
        return VAETrainer(VAEConfig(latent_dim=2, seed=seed, batch_size=256, eval_every=NEVER), data)
    if family == "gan":
        return GAN2DTrainer(data, GANArchitecture(seed=seed), GANSettings(), eval_every=NEVER)
    if family == "ddpm":
        return Diffusion2DTrainer(Diffusion2DConfig(seed=seed, eval_every=NEVER), data)
    if family == "flow":
        return Flow2DTrainer(Flow2DConfig(seed=seed, eval_every=NEVER), data)
    raise ValueError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}")


@torch.no_grad()
def draw(family: str, trainer, n: int, seed: int) -> np.ndarray:
    """``n`` samples (n, 2) of a family's current model (the EMA weights for DDPM and flow)."""
    if family == "mixture":
        return trainer.model().sample(n, np.random.default_rng(seed))
    if family == "vae":
        return trainer.model.sample(n, torch.Generator().manual_seed(seed), noise=True).double().numpy()
    if family == "gan":
        z = torch.randn((n, trainer.architecture.latent_dim), generator=torch.Generator().manual_seed(seed))
        return trainer.nets.g(z).double().numpy()
    if family == "ddpm":
        return trainer.sample(n, seed)[0]
    return trainer.sample(n, seed)


def network_evaluations(family: str, trainer) -> int:
    if family == "ddpm":
        return trainer.config.steps
    if family == "flow":
        from engine.flow import evaluations

        return evaluations(trainer.config.sampler, trainer.config.sample_steps)
    return NETWORK_EVALUATIONS[family]


@torch.no_grad()
def log_likelihoods(family: str, trainer, heldout: np.ndarray, seed: int) -> dict[str, float]:
    """Mean log-likelihood of the held-out points in nats, by every route the family offers."""
    x = torch.as_tensor(heldout, dtype=torch.float32)
    if family == "mixture":
        return {"exact": float(np.mean(trainer.model().logpdf(heldout)))}
    if family == "vae":
        m, gen = trainer.model, torch.Generator().manual_seed(seed)
        exact = log_marginal_grid(m, x).double()  # NaN where the quadrature cannot vouch for a point
        kept = torch.isfinite(exact)
        elbo, iwae = m.elbo(x, 1.0, gen).elbo.double(), m.iwae_bound(x, 64, gen).double()
        out = {"elbo": float(elbo.mean()), "iwae": float(iwae.mean())}
        if kept.float().mean() >= 0.95:  # all three on the same points, or no exact value at all
            out = {name: float(v[kept].mean()) for name, v in (("elbo", elbo), ("iwae", iwae), ("exact", exact))}
        return out
    if family == "ddpm":
        from engine.diffusion import variational_bound

        model = trainer.ema_model
        bound = variational_bound(trainer.schedule, lambda xt, t: model(xt.float(), t).double(),
                                  torch.as_tensor(heldout), torch.Generator().manual_seed(seed))
        return {"bound": -float(bound.mean())}
    return {}


@dataclass(frozen=True)
class Score:
    family: str
    round: int
    steps: int  # the family's own steps so far
    train_seconds: float
    sliced_w2: float
    floor: float
    modes_covered: int | None  # None: the data has no modes to count
    n_modes: int | None
    high_quality: float | None
    log_likelihood: dict  # {"exact" | "elbo" | "iwae" | "bound": nats}; {} when the family gives none
    evaluations: int  # network evaluations per sample
    sample_seconds: float  # wall time for 1,000 samples

    @property
    def ratio(self) -> float:
        return self.sliced_w2 / self.floor


@dataclass
class Lane:
    """One family in the race: its trainer, its training seconds, its scores."""

    trainer: object
    seconds: float = 0.0
    scores: list[Score] = field(default_factory=list)
    reached: dict = field(default_factory=dict)  # {2: seconds, 3: seconds}: first time within k x the floor


class Race:
    """Five families trained side by side on ``train``, scored against ``heldout`` (see the module)."""

    def __init__(self, train, heldout, modes: tuple[np.ndarray, float] | None = None, families=FAMILIES,
                 seed: int = 0, eval_every: int = EVAL_EVERY, k: int = 8, max_rounds: int | None = MAX_ROUNDS):
        self.train = np.asarray(train, dtype=np.float64)
        self.heldout = np.asarray(heldout, dtype=np.float64)
        if self.train.ndim != 2 or self.train.shape[1] != 2 or len(self.train) < 16 or len(self.heldout) < 16:
            raise ValueError("the race needs (n, 2) training and held-out sets of at least 16 points each")
        self.data = self.train
        self.modes, self.families, self.seed, self.eval_every, self.k = modes, tuple(families), seed, eval_every, k
        self.max_rounds = max_rounds  # None: no limit (a benchmark); the page's sessions keep the default
        pick = np.random.default_rng(seed + 5)
        self._score_heldout = self.heldout[pick.choice(len(self.heldout), N_SCORE, replace=len(self.heldout) < N_SCORE)]
        score_train = self.train[pick.choice(len(self.train), N_SCORE, replace=len(self.train) < N_SCORE)]
        self.floor = self._w2(score_train)
        self.stopped = None
        self.reset()

    def sliced_w2_of(self, samples: np.ndarray) -> float:
        """Sliced W2 of any (n, 2) samples against the held-out points, as the scores measure it."""
        return self._w2(samples)

    def _w2(self, samples: np.ndarray) -> float:
        if not np.all(np.isfinite(samples)):
            return math.nan
        return sliced_wasserstein(samples, self._score_heldout, n_directions=DIRECTIONS, p=2, rng=0)

    def reset(self) -> None:
        self.step_count, self.history, self.stopped = 0, [], None
        self.lanes = {f: Lane(build(f, self.train, self.seed, self.k)) for f in self.families}
        for family in self.families:
            self.score(family)

    def resume(self) -> None:
        """Clear the lanes' stops (a NaN); the race's own end at ``MAX_ROUNDS`` stays until a reset."""
        for lane in self.lanes.values():
            if lane.trainer.stopped is not None:
                lane.trainer.resume()

    def step(self, n: int = 1, only: set[str] | None = None) -> list[dict[str, float]]:
        """``n`` rounds; each family takes its ``ROUND_STEPS`` (a family that stopped itself sits out, and so
        does one not in ``only`` when it is given: a benchmark stops a family at its time budget)."""
        taken = []
        for _ in range(int(n)):
            if self.max_rounds is not None and self.step_count >= self.max_rounds:  # a session's memory is bounded
                self.stopped = StopReason("rounds", self.step_count, {"rounds": self.max_rounds})
                break
            for family, lane in self.lanes.items():
                if lane.trainer.stopped is None and (only is None or family in only):
                    start = time.perf_counter()
                    lane.trainer.step(ROUND_STEPS[family])
                    lane.seconds += time.perf_counter() - start
            self.step_count += 1
            metrics = {f: lane.seconds for f, lane in self.lanes.items()}
            self.history = [metrics]  # the latest round only: a race's memory grows with its lanes' histories
            taken.append(metrics)
            for i, family in enumerate(self.families):  # staggered: one family's score per few rounds
                if (self.step_count + i * self.eval_every // len(self.families)) % self.eval_every == 0:
                    self.score(family)
        return taken

    def step_for(self, seconds: float, max_steps: int = 100_000) -> list[dict[str, float]]:
        taken, start = [], time.perf_counter()
        while len(taken) < max_steps and time.perf_counter() - start < seconds:
            taken += self.step(1)
        return taken

    def score(self, family: str) -> Score:
        """Score a family now (see the module docstring) and keep it."""
        lane = self.lanes[family]
        seed = self.seed + 1000 + self.step_count
        start = time.perf_counter()
        samples = draw(family, lane.trainer, N_SCORE, seed)
        sample_seconds = time.perf_counter() - start
        w2 = self._w2(samples)
        modes = mode_coverage(samples, *self.modes) if self.modes is not None and np.all(np.isfinite(samples)) \
            else None
        try:
            likelihood = log_likelihoods(family, lane.trainer, self._score_heldout[:N_LIKELIHOOD], seed)
        except (ValueError, RuntimeError):  # a diverged model: no number rather than a crash
            likelihood = {}
        score = Score(family, self.step_count, lane.trainer.step_count, lane.seconds, w2, self.floor,
                      None if modes is None else modes.modes_covered, None if modes is None else modes.n_modes,
                      None if modes is None else modes.high_quality, likelihood,
                      network_evaluations(family, lane.trainer), sample_seconds * 1000 / N_SCORE)
        lane.scores.append(score)
        for k in (3, 2):
            if k not in lane.reached and score.ratio <= k:
                lane.reached[k] = lane.seconds
        return score

    def scoreboard(self) -> dict[str, Score]:
        return {family: lane.scores[-1] for family, lane in self.lanes.items()}

    def snapshot(self):
        return self

    def state_dict(self) -> dict:
        lanes = {family: lane.trainer.state_dict() for family, lane in self.lanes.items()}
        return {"step_count": self.step_count, "lanes": lanes}

    def load_state_dict(self, state: dict) -> None:
        self.step_count = int(state["step_count"])
        for family, lane_state in state["lanes"].items():
            self.lanes[family].trainer.load_state_dict(lane_state)


def view(family: str, trainer, bounds: tuple[float, float, float, float], grid: int = 48, paths: int = 30) -> dict:
    """What each family shows of itself (numbers to draw) over ``bounds`` (xmin, xmax, ymin, ymax):

    * mixture: ``density`` (grid, grid) [iy, ix] at ``xs``, ``ys``;
    * vae: ``grid`` (22, 41, 2): the decoder's means along 11 lines of each latent axis over [-2.5, 2.5];
    * gan: ``d`` (grid, grid): the discriminator's output there (a probability, or a critic's value);
    * ddpm, flow: ``paths`` (paths, K, 2) from noise to sample (every 5th DDPM step kept)."""
    xs, ys = np.linspace(bounds[0], bounds[1], grid), np.linspace(bounds[2], bounds[3], grid)
    if family == "mixture":
        gx, gy = np.meshgrid(xs, ys)
        density = trainer.model().pdf(np.column_stack([gx.ravel(), gy.ravel()])).reshape(grid, grid)
        return {"xs": xs, "ys": ys, "density": density}
    if family == "gan":  # its snapshot takes gradients (G's arrows): not under no_grad
        snap = trainer.snapshot(grid=grid, bounds=bounds)
        return {"xs": snap.xs, "ys": snap.ys, "d": snap.d_values}
    with torch.no_grad():
        return _network_view(family, trainer, paths)


def _network_view(family: str, trainer, paths: int) -> dict:
    if family == "vae":
        t, k = torch.linspace(-2.5, 2.5, 41), torch.linspace(-2.5, 2.5, 11)
        lines = [torch.stack([t, torch.full_like(t, v)], 1) for v in k] + \
                [torch.stack([torch.full_like(t, v), t], 1) for v in k]
        z = torch.cat(lines)
        if trainer.config.latent_dim == 1:
            z = z[:, :1]
        return {"grid": trainer.model.mean(trainer.model.decode(z)).double().numpy().reshape(-1, 41, 2)}
    if family == "ddpm":
        film = trainer.reverse_film(n=paths, seed=0, every=5)
        return {"paths": film.trajectories(range(paths))}
    return {"paths": np.transpose(trainer.trajectories(paths, seed=0), (1, 0, 2))}


def bounds_of(points: np.ndarray, margin: float = 0.25) -> tuple[float, float, float, float]:
    """A square view around the points (0.5-99.5 percentiles, ``margin`` of the side added each way)."""
    lo, hi = np.percentile(points, [0.5, 99.5], axis=0)
    centre, half = (lo + hi) / 2, max(float(np.max(hi - lo)) / 2 * (1 + 2 * margin), 0.5)
    return (centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half)
