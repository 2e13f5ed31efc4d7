"""A 2D flow-matching (rectified-flow) model trained live, on the shared trainer protocol.

    from engine import toy2d
    from engine.flow.live import Flow2DConfig, Flow2DTrainer

    trainer = Flow2DTrainer(Flow2DConfig(), toy2d.sample("moons", 8000, 0),
                            fresh=lambda n, seed: toy2d.sample("moons", n, seed))
    trainer.step(500)[-1]              # {"loss": mean squared error of the predicted velocity}
    trainer.evaluate()                 # {"step", "sliced_w2"}: 1,000 samples against 1,000 fresh data points
    path = trainer.trajectories(200, seed=0, steps=20, sampler="heun")   # (21, 200, 2), noise to data
    v = trainer.velocity_field(t=0.5, points=grid)                      # the learned field at one time

The network is the live DDPM's (``engine.diffusion.live.TimeMLP``: the same widths, depths and time
embedding), trained on the flow-matching loss E ||v_theta((1 - t) x_0 + t x_1, t) - (x_1 - x_0)||^2 with
t ~ U(0, 1) (``engine.flow.matching``). Samples come from the EMA weights, by Euler or Heun with a
chosen number of steps, and are judged as the DDPM's are: sliced W2 against fresh data, read against
the floor of two data draws (``sliced_w2_floor``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.checks import whole_number
from engine.diffusion.live import N_EVAL, PointsTrainer, TimeMLP, sliced_w2
from engine.flow import matching as fm


@dataclass(frozen=True)
class Flow2DConfig:
    width: int = 128  # the live DDPM's network (engine.diffusion.live.Diffusion2DConfig)
    depth: int = 3
    embedding: int = 32
    lr: float = 2e-3
    batch_size: int = 512
    ema: float = 0.995
    seed: int = 0
    sampler: str = "euler"  # the evaluation's sampler (engine.flow.SAMPLERS)
    sample_steps: int = 40  # the evaluation's steps: 40 network evaluations, against the DDPM's T = 100
    eval_every: int = 500


class Flow2DTrainer(PointsTrainer):
    """Live flow-matching training on 2D points (Adam, minibatches from ``data``, EMA weights sample).

    ``fresh(n, seed) -> (n, 2)`` draws new data for the quality metric (a named toy set); without it the
    metric compares against a resample of ``data``. Each step's metrics: {"loss"}; ``evaluations`` holds
    {"step", "sliced_w2"} every ``eval_every`` steps and at step 0.
    """

    def __init__(self, config: Flow2DConfig, data, fresh=None):
        super().__init__()
        whole_number(config.sample_steps, "the number of sampling steps", 1)
        if config.sampler not in fm.SAMPLERS:
            raise ValueError(f"unknown sampler {config.sampler!r}; choose one of {', '.join(fm.SAMPLERS)}")
        self.config = config
        self._points(data, fresh, config.lr)
        self._reset()

    def _reset(self) -> None:
        c = self.config
        self._networks(lambda: TimeMLP(c.width, c.depth, c.embedding, total=1.0))
        self.evaluations: list[dict] = []
        self.samples = np.zeros((0, 2))  # the latest evaluation's samples (N_EVAL, 2)
        self.evaluations.append(self.evaluate())

    def _step(self) -> dict[str, float]:
        b = self.config.batch_size
        x1 = self._x[torch.randint(0, len(self._x), (b,), generator=self._gen)]
        x0 = torch.randn(x1.shape, generator=self._gen)
        t = torch.rand(b, generator=self._gen)
        loss = (self.model(fm.interpolate(x0, x1, t), t) - fm.target(x0, x1)).pow(2).sum(1).mean()
        self._opt.zero_grad(set_to_none=True)
        loss.backward()
        self._opt.step()
        self._ema_update()
        if (self.step_count + 1) % self.config.eval_every == 0:
            self.evaluations.append(self.evaluate(self.step_count + 1))
        return {"loss": loss.item()}

    @torch.no_grad()
    def trajectories(self, n: int, seed: int, steps: int | None = None, sampler: str | None = None) -> np.ndarray:
        """(steps + 1, n, 2) float64: n particles from noise (seeded) to samples, every step kept."""
        steps = self.config.sample_steps if steps is None else steps
        sampler = self.config.sampler if sampler is None else sampler
        x0 = torch.randn((n, 2), generator=torch.Generator().manual_seed(seed))
        return fm.sample(self.ema_model, x0, steps, sampler).double().numpy()

    def sample(self, n: int, seed: int, steps: int | None = None, sampler: str | None = None) -> np.ndarray:
        return self.trajectories(n, seed, steps, sampler)[-1]

    @torch.no_grad()
    def velocity_field(self, t: float, points) -> np.ndarray:
        """v_theta(x, t) (m, 2) at ``points`` (m, 2), from the EMA weights."""
        x = torch.as_tensor(np.asarray(points, dtype=np.float32).reshape(-1, 2))
        return self.ema_model(x, torch.full((len(x),), float(t))).double().numpy()

    def evaluate(self, step: int | None = None) -> dict:
        """Sliced W2 between ``N_EVAL`` samples (the config's sampler and steps) and as many fresh points."""
        step = self.step_count if step is None else step
        self.samples = self.sample(N_EVAL, seed=step + 1)
        return {"step": step, "sliced_w2": sliced_w2(self.samples, self._reference(seed=step + 20_000), seed=step)}

    def _state(self) -> dict:
        return self._network_state()

    def _load_state(self, state: dict) -> None:
        self._load_network_state(state)
