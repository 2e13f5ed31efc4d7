"""Flow matching (rectified flow): learn the velocity that carries noise to data along straight lines.

Time runs from noise to data, t in [0, 1] (Liu et al. 2023, "Flow straight and fast"; Lipman et al. 2023,
"Flow matching for generative modeling", with sigma_min = 0):

    x_t = (1 - t) x_0 + t x_1,        x_0 ~ N(0, I) (noise),  x_1 ~ the data
    d x_t / d t = x_1 - x_0           the conditional velocity: the regression target
    L(theta) = E_{t ~ U(0, 1), x_0, x_1} || v_theta(x_t, t) - (x_1 - x_0) ||^2

The minimiser over all functions is the marginal velocity v*(x, t) = E[x_1 - x_0 | x_t = x]; the ODE
dx/dt = v*(x, t) started from x(0) ~ N(0, I) has x(1) distributed as the data (the continuity equation
holds for the marginals of the path). Each pair (x_0, x_1) travels a straight line, but v* averages over
the pairs that pass through x, so the sampler's paths curve where the data has several modes.

What is here:

* the path and its target (``interpolate``, ``target``) and the sampler's ODE steps: ``euler_step`` (one
  network evaluation) and ``heun_step`` (two: Euler, then the trapezoid with the slope at the end), and
  ``sample`` with either and a step count, returning the whole trajectory. As in Karras et al. 2022
  (EDM, algorithm 1), Heun's last step, the one that ends on the data (t = 1), is a plain Euler step:
  an exact field divides by 1 - t there, and the correction would double the cost of the final step for
  nothing. Heun with n steps therefore costs 2 n - 1 evaluations (``evaluations``);
* the exact velocity fields, as the diffusion chapter has its exact noise predictor: for data uniform on a
  finite point set (``exact_velocity``: what a network trained to the end on those points computes) and
  for Gaussian data N(m, S) (``gaussian_velocity``, in closed form, whose flow maps x_0 to m + S^(1/2) x_0);
* the link to DDIM (``from_vp``, ``velocity_from_eps``): a DDPM state x = sqrt(abar) x_1 + sqrt(1 - abar) eps
  is a point of this path after scaling, x / (sqrt(abar) + sqrt(1 - abar)) at t = sqrt(abar) /
  (sqrt(abar) + sqrt(1 - abar)); a noise prediction eps gives the velocity v = (x - eps) / t; and one
  deterministic DDIM step (eta = 0) is then exactly one Euler step of this ODE between the matching times
  (Song et al. 2021, section 4.3: DDIM is Euler's method in x / sqrt(abar) against sqrt(1 - abar) /
  sqrt(abar), which on this path is x_t / t against (1 - t) / t). ``tests/engine/test_flow.py`` checks it
  against ``engine.diffusion.ddim_step``;
* ``straightness``: path length over the distance travelled (1 for a straight path).

Tensors are (n, d); t is a float or an (n,) tensor. Nothing here trains: ``engine.flow.live`` does.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from engine.checks import whole_number

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # v(x (n, d), t (n,)) -> (n, d)
SAMPLERS = ("euler", "heun")


def evaluations(sampler: str, steps: int) -> int:
    """Network evaluations of ``sample`` (Heun corrects every step but the last)."""
    return steps if sampler == "euler" else 2 * steps - 1


def interpolate(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t = (1 - t) x_0 + t x_1 for times t (n,)."""
    t = t.reshape(-1, *([1] * (x0.dim() - 1)))
    return (1.0 - t) * x0 + t * x1


def target(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """The conditional velocity x_1 - x_0 (the same at every t: the path is a straight line)."""
    return x1 - x0


def _times(t: float, x: torch.Tensor) -> torch.Tensor:
    return torch.full((x.shape[0],), float(t), dtype=x.dtype, device=x.device)


def euler_step(velocity: Velocity, x: torch.Tensor, t: float, t_next: float) -> torch.Tensor:
    return x + (t_next - t) * velocity(x, _times(t, x))


def heun_step(velocity: Velocity, x: torch.Tensor, t: float, t_next: float) -> torch.Tensor:
    """Heun's method (the explicit trapezoid): second order, two evaluations of the velocity."""
    h = t_next - t
    slope = velocity(x, _times(t, x))
    guess = x + h * slope
    return x + 0.5 * h * (slope + velocity(guess, _times(t_next, x)))


@torch.no_grad()
def sample(velocity: Velocity, x0: torch.Tensor, steps: int, sampler: str = "euler") -> torch.Tensor:
    """The ODE from t = 0 to 1 in ``steps`` equal steps: the trajectory (steps + 1, n, d), x0 first."""
    steps = whole_number(steps, "the number of sampling steps", 1)
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    times = np.linspace(0.0, 1.0, steps + 1)
    path = [x0]
    for i, (t, t_next) in enumerate(zip(times[:-1], times[1:])):
        step = heun_step if sampler == "heun" and i < steps - 1 else euler_step
        path.append(step(velocity, path[-1], float(t), float(t_next)))
    return torch.stack(path)


def posterior_data_mean(points: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """E[x_1 | x_t = x] (n, d) when x_1 is uniform on ``points`` (m, d): softmax weights of
    -||x - t p_i||^2 / (2 (1 - t)^2), the Gaussian likelihood of x_t given x_1 = p_i (for t < 1)."""
    t = t.reshape(-1, 1).to(x.dtype)
    points = points.to(device=x.device, dtype=x.dtype)
    logits = (t * (x @ points.T) - 0.5 * t**2 * (points * points).sum(1)[None, :]) / (1.0 - t) ** 2
    return torch.softmax(logits, dim=1) @ points


def exact_velocity(points) -> Velocity:
    """v*(x, t) = (E[x_1 | x_t = x] - x) / (1 - t) for data uniform on the finite set ``points`` (m, d):
    the minimiser of the flow-matching loss on those points (x_1 - x_0 = (x_1 - x_t) / (1 - t)). Its ODE ends
    on the points themselves (it has memorised them). Defined for t < 1; computed in x's dtype."""
    data = torch.as_tensor(np.asarray(points, dtype=np.float64))
    if data.ndim != 2 or len(data) < 1 or not torch.isfinite(data).all():
        raise ValueError(f"points must be a finite (m, d) array with m >= 1, got shape {tuple(data.shape)}")

    def v(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (posterior_data_mean(data, x, t) - x) / (1.0 - t.reshape(-1, 1).to(x.dtype))

    return v


def gaussian_velocity(mean, cov) -> Velocity:
    """v*(x, t) for Gaussian data N(mean, cov), in closed form (float64).

    x_t is Gaussian with mean t m and covariance S_t = (1 - t)^2 I + t^2 S, and x_1 - x_0 has mean m and
    covariance with x_t of t S - (1 - t) I, so E[x_1 - x_0 | x_t = x] = m + (t S - (1 - t) I) S_t^-1 (x - t m).
    Its flow maps x_0 to m + S^(1/2) x_0 (the symmetric root): d/dt S_t^(1/2) = (t S - (1 - t) I) S_t^-1/2.
    """
    m = torch.as_tensor(np.asarray(mean, dtype=np.float64))
    s = torch.as_tensor(np.asarray(cov, dtype=np.float64))
    eye = torch.eye(len(m), dtype=torch.float64)
    if s.shape != (len(m), len(m)) or not torch.all(torch.linalg.eigvalsh(s) > 0):
        raise ValueError("cov must be a symmetric positive definite (d, d) matrix for a mean of length d")

    def v(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.float64)
        tt = t.to(torch.float64).reshape(-1, 1, 1)
        spread = (1.0 - tt) ** 2 * eye + tt**2 * s  # (n, d, d)
        gain = torch.linalg.solve(spread, (tt * s - (1.0 - tt) * eye).transpose(1, 2)).transpose(1, 2)
        return m + (gain @ (x - tt[:, :, 0] * m)[:, :, None])[:, :, 0]

    return v


def gaussian_transport(mean, cov, x0) -> np.ndarray:
    """Where the exact Gaussian flow takes ``x0`` (n, d) at t = 1: m + S^(1/2) x_0."""
    variances, basis = np.linalg.eigh(np.asarray(cov, dtype=np.float64))
    root = basis @ np.diag(np.sqrt(variances)) @ basis.T
    return np.asarray(mean, dtype=np.float64) + np.asarray(x0, dtype=np.float64) @ root


# ---- the link to DDPM / DDIM
def from_vp(x: torch.Tensor, alpha_bar: float) -> tuple[torch.Tensor, float]:
    """A DDPM state x = sqrt(abar) x_1 + sqrt(1 - abar) eps as a point of this path: (x_t, t)."""
    a, b = math.sqrt(alpha_bar), math.sqrt(1.0 - alpha_bar)
    return x / (a + b), a / (a + b)


def to_vp(x: torch.Tensor, t: float) -> torch.Tensor:
    """The inverse of ``from_vp`` (t in (0, 1)): the DDPM state x_t / sqrt(t^2 + (1 - t)^2), at
    abar = t^2 / (t^2 + (1 - t)^2)."""
    return x / math.sqrt(t**2 + (1.0 - t) ** 2)


def velocity_from_eps(x: torch.Tensor, t: float, eps: torch.Tensor) -> torch.Tensor:
    """The velocity a noise prediction implies on this path: x = (1 - t) eps + t x_1 gives v = x_1 - eps
    = (x - eps) / t (t > 0)."""
    return (x - eps) / t


def straightness(trajectory) -> np.ndarray:
    """Per particle, the length of its path over the distance between its ends (>= 1; 1: straight).
    ``trajectory`` (K, n, d) as ``sample`` returns it."""
    path = np.asarray(trajectory, dtype=np.float64)
    length = np.linalg.norm(np.diff(path, axis=0), axis=2).sum(axis=0)
    chord = np.linalg.norm(path[-1] - path[0], axis=1)
    return length / np.maximum(chord, 1e-12)
