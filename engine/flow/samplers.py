"""DDPM, DDIM and flow matching from the same noise, each with the same number of network evaluations.

The three are driven by the exact fields of one finite point set (what networks trained to the end on
those points compute; no training needed): the DDPM's and DDIM's noise predictor
``engine.diffusion.exact_eps`` on a cosine schedule of T = 1000 steps, respaced to ``steps`` (Song et al.
2021: eta = 1 is the DDPM's ancestral sampling on the respaced chain, eta = 0 is DDIM), and the flow's
velocity ``engine.flow.exact_velocity`` with Euler or Heun. All three start from the same noise.

DDIM is Euler's method on the flow's path in another clock (``engine.flow.matching``): its steps are
uniform in the DDPM's t, the flow's in its own t, which puts more of the flow's steps where the paths
bend near the data. ``on_ddim_clock=True`` runs the flow's Euler on DDIM's times and lands exactly
where DDIM does (``tests/engine/test_flow.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.diffusion import Schedule, ScheduleConfig, ddim_step, ddim_timesteps, exact_eps
from engine.flow import matching as fm

SCHEDULE = ScheduleConfig("cosine", 1000)
KINDS = ("ddpm", "ddim", "flow")


@dataclass(frozen=True)
class SamplerPaths:
    """Each sampler's path of every particle: ``paths[kind]`` (K, n, 2), noise first, samples last."""

    paths: dict[str, np.ndarray]
    evaluations: dict[str, int]  # network evaluations per sample

    def samples(self, kind: str) -> np.ndarray:
        return self.paths[kind][-1]


def flow_times_of(schedule: Schedule, steps: list[int]) -> list[float]:
    """The flow's times of DDPM steps (``from_vp``'s t): sqrt(abar) / (sqrt(abar) + sqrt(1 - abar))."""
    a = np.sqrt(schedule.alpha_bar[np.asarray(steps)])
    return list(a / (a + np.sqrt(1.0 - schedule.alpha_bar[np.asarray(steps)])))


def _chains(schedule: Schedule, eps_model, noise: torch.Tensor, steps: int, seed: int) -> dict[str, np.ndarray]:
    """DDPM (eta = 1) and DDIM (eta = 0) on ``steps`` evenly respaced steps of the chain, from ``noise``."""
    times = ddim_timesteps(schedule.T, steps)
    paths = {}
    for kind, eta in (("ddpm", 1.0), ("ddim", 0.0)):
        generator = torch.Generator().manual_seed(seed + 1)
        path = [noise]
        for t, t_prev in zip(times[:-1], times[1:]):
            path.append(ddim_step(schedule, eps_model, path[-1], t, t_prev, eta, generator))
        paths[kind] = torch.stack(path).numpy()
    return paths


def _noise(n: int, seed: int) -> torch.Tensor:
    return torch.randn((n, 2), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@torch.no_grad()
def trained_samplers(ddpm, flow, n: int, steps: int, seed: int, flow_sampler: str = "euler") -> SamplerPaths:
    """The same three samplers driven by trained networks: a live DDPM's EMA noise predictor
    (``engine.diffusion.live.Diffusion2DTrainer``, its own chain of T steps respaced to ``steps``) and a live
    flow-matching trainer's EMA velocity (``engine.flow.live.Flow2DTrainer``), from the same noise."""
    steps = min(steps, ddpm.schedule.T)
    noise = _noise(n, seed)
    eps = ddpm.ema_model
    paths = _chains(ddpm.schedule, lambda x, t: eps(x.float(), t).double(), noise, steps, seed)
    velocity = flow.ema_model
    paths["flow"] = fm.sample(lambda x, t: velocity(x.float(), t.float()).double(), noise, steps, flow_sampler).numpy()
    return SamplerPaths(paths, {"ddpm": steps, "ddim": steps, "flow": fm.evaluations(flow_sampler, steps)})


@torch.no_grad()
def three_samplers(points, n: int, steps: int, seed: int, flow_sampler: str = "euler",
                   on_ddim_clock: bool = False) -> SamplerPaths:
    """The paths of ``n`` particles under DDPM (eta = 1), DDIM (eta = 0) and flow matching, ``steps`` steps
    each, from the same standard normal draw (``seed``). DDPM/DDIM paths are the chain's states x_t, the
    flow's its states x_t; both start at the noise and end at the samples, so they share one picture."""
    schedule = Schedule(SCHEDULE)
    noise = _noise(n, seed)
    times = ddim_timesteps(schedule.T, steps)
    paths = _chains(schedule, exact_eps(schedule, points), noise, steps, seed)
    velocity = fm.exact_velocity(points)
    if on_ddim_clock:  # Euler on DDIM's times: the noise enters at t(T) ~ 0 (scaled), t = 1 at DDPM step 0
        grid = flow_times_of(schedule, times)
        path = [fm.from_vp(noise, schedule.alpha_bar[times[0]])[0]]
        for t, t_next in zip(grid[:-1], grid[1:]):
            path.append(fm.euler_step(velocity, path[-1], float(t), float(t_next)))
        paths["flow"] = torch.stack(path).numpy()
    else:
        paths["flow"] = fm.sample(velocity, noise, steps, flow_sampler).numpy()
    flow_cost = steps if on_ddim_clock else fm.evaluations(flow_sampler, steps)  # DDIM's clock: Euler steps
    evaluations = {"ddpm": steps, "ddim": steps, "flow": flow_cost}
    return SamplerPaths(paths, evaluations)
