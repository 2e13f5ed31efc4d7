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

from engine.checks import positive, whole_number
from engine.diffusion.live import N_EVAL, TimeMLP, sliced_w2
from engine.flow import matching as fm
from engine.training import BaseTrainer, load_optimizer_state, optimizer_state, to_plain


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


class Flow2DTrainer(BaseTrainer):
    """Live flow-matching training on 2D points (Adam, minibatches from ``data``, EMA weights sample).

    ``fresh(n, seed) -> (n, 2)`` draws new data for the quality metric (a named toy set); without it the
    metric compares against a resample of ``data``. Each step's metrics: {"loss"}; ``evaluations`` holds
    {"step", "sliced_w2"} every ``eval_every`` steps and at step 0.
    """

    def __init__(self, config: Flow2DConfig, data, fresh=None):
        super().__init__()
        x = np.asarray(data, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != 2 or len(x) < 2 or not np.all(np.isfinite(x)):
            raise ValueError(f"data must be a finite (n, 2) array with n >= 2, got shape {x.shape}")
        positive(config.lr, "the learning rate")
        whole_number(config.sample_steps, "the number of sampling steps", 1)
        if config.sampler not in fm.SAMPLERS:
            raise ValueError(f"unknown sampler {config.sampler!r}; choose one of {', '.join(fm.SAMPLERS)}")
        self.config, self.data, self._fresh = config, x, fresh
        self._x = torch.as_tensor(x, dtype=torch.float32)
        self.lr = config.lr
        self._gen = torch.Generator()
        self.sliced_w2_floor = sliced_w2(self._reference(seed=10_001), self._reference(seed=10_002), seed=0)
        self._reset()

    def _reference(self, seed: int) -> np.ndarray:
        if self._fresh is not None:
            return np.asarray(self._fresh(N_EVAL, seed), dtype=np.float64)
        return self.data[np.random.default_rng(seed).integers(0, len(self.data), N_EVAL)]

    def _network(self) -> TimeMLP:
        c = self.config
        return TimeMLP(c.width, c.depth, c.embedding, total=1.0)

    def _reset(self) -> None:
        torch.manual_seed(self.config.seed)
        self.model = self._network()
        self.ema_model = self._network().requires_grad_(False)
        self.ema_model.load_state_dict(self.model.state_dict())
        self._params, self._ema_params = list(self.model.parameters()), list(self.ema_model.parameters())
        self._opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        self._gen.manual_seed(self.config.seed)
        self.evaluations: list[dict] = []
        self.samples = np.zeros((0, 2))  # the latest evaluation's samples (N_EVAL, 2)
        self.evaluations.append(self.evaluate())

    def set_lr(self, lr: float) -> None:
        self.lr = positive(lr, "the learning rate")
        for group in self._opt.param_groups:
            group["lr"] = self.lr

    def _step(self) -> dict[str, float]:
        b = self.config.batch_size
        x1 = self._x[torch.randint(0, len(self._x), (b,), generator=self._gen)]
        x0 = torch.randn(x1.shape, generator=self._gen)
        t = torch.rand(b, generator=self._gen)
        loss = (self.model(fm.interpolate(x0, x1, t), t) - fm.target(x0, x1)).pow(2).sum(1).mean()
        self._opt.zero_grad(set_to_none=True)
        loss.backward()
        self._opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(self._ema_params, self._params, 1.0 - self.config.ema)
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

    def _stop_detail(self) -> dict:
        return {"lr": self.lr}

    def _settings(self) -> dict:
        return {"lr": self.lr}

    def _apply_settings(self, settings: dict) -> None:
        self.set_lr(settings["lr"])

    def snapshot(self):
        return self

    def _state(self) -> dict:
        return {
            "model": {k: to_plain(v) for k, v in self.model.state_dict().items()},
            "ema_model": {k: to_plain(v) for k, v in self.ema_model.state_dict().items()},
            "lr": self.lr,
            "optimizer_state": optimizer_state(self._opt),
            "generator": self._gen.get_state().numpy().copy(),
            "evaluations": [dict(e) for e in self.evaluations],
            "samples": self.samples.copy(),
        }

    def _load_state(self, state: dict) -> None:
        self.model.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in state["model"].items()})
        self.ema_model.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in state["ema_model"].items()})
        self.lr = positive(state["lr"], "the learning rate")
        self._opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        load_optimizer_state(self._opt, state["optimizer_state"])
        self._gen.set_state(torch.as_tensor(np.array(state["generator"], dtype=np.uint8)))
        self.evaluations = [dict(e) for e in state["evaluations"]]
        self.samples = np.asarray(state["samples"]).copy()
