"""Denoising diffusion (DDPM, Ho et al. 2020): noise schedules, the forward process q, one reverse
step with every term, DDIM (Song et al. 2021) and RePaint-style inpainting (Lugmayr et al. 2022).

Notation as in Ho et al.: beta_t for t = 1..T, alpha_t = 1 - beta_t, alpha_bar_t = prod_{s<=t} alpha_s.

    q(x_t | x_0)            = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)                  (Ho eq. 4)
    q(x_{t-1} | x_t, x_0)   = N(mu_tilde_t, beta_tilde_t I)                                   (Ho eq. 6-7)
        mu_tilde_t   = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) x_0
                       + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) x_t
        beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t
    x0_hat                  = (x_t - sqrt(1 - alpha_bar_t) eps_theta(x_t, t)) / sqrt(alpha_bar_t)
    x_{t-1}                 = mu_tilde_t(x0_hat, x_t) + sigma_t z,   z ~ N(0, I), no noise at t = 1
    eps*(x_t, t)            = (x_t - sqrt(alpha_bar_t) E[x_0 | x_t]) / sqrt(1 - alpha_bar_t)   (``exact_eps``:
                              the optimal noise predictor of a finite data set, E[x_0 | x_t] a softmax mean)

Index convention: every schedule array has T + 1 entries and index t is step t, with index 0 the
data itself (alpha_bar_0 = 1, beta_0 = 0). So a "t slider from 0 to T" reads the arrays directly,
and a noise model is called as ``eps_model(x_t, t)`` with ``t`` a long tensor (B,) in 1..T.
Coefficients are computed once in float64 (``Schedule``) and cast to the input's dtype by
``extract``; unknown options raise ValueError.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from engine.checks import whole_number

SCHEDULES = ("linear", "cosine")
VARIANCES = ("beta", "beta_tilde")  # sigma_t^2 = beta_t (Ho's "fixed large") or the posterior's beta_tilde_t
COSINE_S = 0.008  # Nichol & Dhariwal 2021: keeps beta_1 from being vanishingly small
MAX_BETA = 0.999  # their clip: the cosine schedule's last betas would otherwise reach 1

EpsModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t (B, ...), t (B,) long) -> eps (B, ...)


@dataclass(frozen=True)
class ScheduleConfig:
    kind: str = "linear"  # "linear" (Ho et al.) or "cosine" (Nichol & Dhariwal)
    steps: int = 1000  # T
    rescale: bool = True  # linear only: scale beta by 1000 / T so that any T ends near N(0, I) (improved-diffusion)


def linear_betas(steps: int, rescale: bool = True) -> np.ndarray:
    """Ho et al.'s beta_1..beta_T, linear from 1e-4 to 0.02 at T = 1000; ``rescale`` keeps the total
    noise the same for other T (both ends times 1000 / T), as improved-diffusion does. Without it a
    short chain (tiny-diffusion's T = 50) never reaches pure noise."""
    scale = 1000.0 / steps if rescale else 1.0
    return np.linspace(scale * 1e-4, min(scale * 0.02, MAX_BETA), steps, dtype=np.float64)


def cosine_alpha_bar(t: np.ndarray, steps: int, s: float = COSINE_S) -> np.ndarray:
    """Nichol & Dhariwal eq. 17: alpha_bar(t) = f(t) / f(0), f(t) = cos^2(((t / T) + s) / (1 + s) * pi / 2)."""
    f = np.cos((np.asarray(t, dtype=np.float64) / steps + s) / (1.0 + s) * math.pi / 2.0) ** 2
    return f / math.cos(s / (1.0 + s) * math.pi / 2.0) ** 2


def cosine_betas(steps: int) -> np.ndarray:
    alpha_bar = cosine_alpha_bar(np.arange(steps + 1), steps)
    return np.minimum(1.0 - alpha_bar[1:] / alpha_bar[:-1], MAX_BETA)


class Schedule:
    """All coefficients of one noise schedule, float64 numpy arrays of length T + 1 (index = t).

    Attributes: ``betas``, ``alphas``, ``alpha_bar``, ``alpha_bar_prev`` (alpha_bar_{t-1}; 1 at t = 0),
    ``posterior_variance`` (beta_tilde_t), ``posterior_mean_coef1`` / ``coef2`` (of x_0 and x_t in
    mu_tilde_t), ``log_snr`` (log alpha_bar / (1 - alpha_bar); +inf at t = 0).
    """

    def __init__(self, config: ScheduleConfig = ScheduleConfig()):
        if config.kind not in SCHEDULES:
            raise ValueError(f"unknown schedule {config.kind!r}; choose one of {', '.join(SCHEDULES)}")
        self.config = config
        self.T = whole_number(config.steps, "the number of diffusion steps T", 2)
        betas = linear_betas(self.T, config.rescale) if config.kind == "linear" else cosine_betas(self.T)
        self.betas = np.concatenate([[0.0], betas])  # (T + 1,)
        self.alphas = 1.0 - self.betas
        self.alpha_bar = np.cumprod(self.alphas)
        self.alpha_bar_prev = np.concatenate([[1.0], self.alpha_bar[:-1]])
        with np.errstate(divide="ignore", invalid="ignore"):  # t = 0 has 0 / 0: defined as 0 below
            one_minus = 1.0 - self.alpha_bar
            self.posterior_variance = np.where(one_minus > 0, self.betas * (1.0 - self.alpha_bar_prev) / one_minus, 0.0)
            self.posterior_mean_coef1 = np.where(one_minus > 0, self.betas * np.sqrt(self.alpha_bar_prev) / one_minus,
                                                 1.0)
            self.posterior_mean_coef2 = np.where(one_minus > 0,
                                                 (1.0 - self.alpha_bar_prev) * np.sqrt(self.alphas) / one_minus, 0.0)
            self.log_snr = np.log(self.alpha_bar) - np.log(one_minus)
        self._tensors: dict[tuple[str, torch.device], torch.Tensor] = {}

    def tensor(self, name: str, device: torch.device | str = "cpu") -> torch.Tensor:
        """A coefficient array as a float64 tensor on ``device`` (cached)."""
        key = (name, torch.device(device))
        if key not in self._tensors:
            self._tensors[key] = torch.from_numpy(np.ascontiguousarray(getattr(self, name))).to(key[1])
        return self._tensors[key]

    def extract(self, name: str, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """Coefficient ``name`` at steps ``t`` (B,), shaped (B, 1, ..., 1) to broadcast against ``like``."""
        values = self.tensor(name, like.device)[t.to(like.device).long()]
        return values.to(like.dtype).reshape(-1, *([1] * (like.ndim - 1)))

    def sigma(self, variance: str = "beta_tilde") -> np.ndarray:
        """sigma_t (T + 1,) of the reverse step: sqrt(beta_t) or sqrt(beta_tilde_t)."""
        if variance not in VARIANCES:
            raise ValueError(f"unknown variance {variance!r}; choose one of {', '.join(VARIANCES)}")
        return np.sqrt(self.betas if variance == "beta" else self.posterior_variance)

    def prior_kl_per_dim(self, second_moment: float) -> float:
        """Upper bound on KL(q(x_T) || N(0, I)) per dimension, in nats: the DDPM prior term L_T.

        By convexity KL(q(x_T) || N(0,I)) <= E_x0 KL(q(x_T | x_0) || N(0,I)), and per dimension that is
        0.5 (alpha_bar_T E[x0^2] + (1 - alpha_bar_T) - 1 - log(1 - alpha_bar_T)); ``second_moment`` is E[x0^2].
        """
        return gaussian_kl_to_standard(float(self.alpha_bar[-1]), second_moment)


def gaussian_kl_to_standard(alpha_bar, second_moment: float):
    """Per-dimension E_x0 KL(N(sqrt(a) x0, 1 - a) || N(0, 1)) for a = alpha_bar (scalar or array); inf at a = 1."""
    a = np.asarray(alpha_bar, dtype=np.float64)
    with np.errstate(divide="ignore"):
        value = 0.5 * (a * second_moment + (1.0 - a) - 1.0 - np.log1p(-a))
    return np.where(a >= 1.0, np.inf, value) if value.ndim else (math.inf if a >= 1.0 else float(value))


def moment_matched_kl_to_standard(alpha_bar, mean, cov) -> np.ndarray:
    """Per-dimension KL(N(mu_t, Sigma_t) || N(0, I)) per alpha_bar: mu_t = sqrt(a) mean, Sigma_t = a cov + (1 - a) I.

    The Gaussian with q(x_t)'s mean and covariance is closer to N(0, I) than q(x_t) itself
    (KL(q || N) = KL(q || N_matched) + KL(N_matched || N) for any Gaussian N), so this is a lower
    bound on KL(q(x_t) || N(0, I)), as ``gaussian_kl_to_standard`` is an upper one. In the
    eigenbasis of cov (eigenvalues v_i, mean m_i) it is (1 / 2d) sum_i (l_i + a m_i^2 - 1 - log l_i)
    with l_i = a v_i + 1 - a.
    """
    a = np.asarray(alpha_bar, dtype=np.float64)[..., None]  # (..., 1)
    variances, basis = np.linalg.eigh(np.asarray(cov, dtype=np.float64))
    rotated = basis.T @ np.asarray(mean, dtype=np.float64)  # (d,)
    spread = a * variances + 1.0 - a  # (..., d)
    return 0.5 * np.mean(spread + a * rotated**2 - 1.0 - np.log(spread), axis=-1)


def q_sample(schedule: Schedule, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) noise, for steps t (B,) (t = 0 gives x_0)."""
    return (schedule.extract("alpha_bar", t, x0).sqrt() * x0
            + (1.0 - schedule.extract("alpha_bar", t, x0)).sqrt() * noise)


def q_posterior(schedule: Schedule, x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor):
    """Mean mu_tilde_t and variance beta_tilde_t (broadcastable) of q(x_{t-1} | x_t, x_0)."""
    mean = schedule.extract("posterior_mean_coef1", t, xt) * x0 + schedule.extract("posterior_mean_coef2", t, xt) * xt
    return mean, schedule.extract("posterior_variance", t, xt)


def predict_x0(schedule: Schedule, xt: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t): where eps says x_t came from."""
    a = schedule.extract("alpha_bar", t, xt)
    return (xt - (1.0 - a).sqrt() * eps) / a.sqrt()


def posterior_x0_mean(schedule: Schedule, data: torch.Tensor, xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """E[x_0 | x_t] (B, d) when x_0 is uniform on the finite set ``data`` (M, d); ``xt`` (B, d), steps ``t`` (B,).

    q(x_t) is then the mixture (1/M) sum_i N(sqrt(a) x_i, (1 - a) I), a = alpha_bar_t, and Bayes gives
    E[x_0 | x_t] = sum_i w_i x_i with w = softmax_i(-||x_t - sqrt(a) x_i||^2 / (2 (1 - a))). The term
    ||x_t||^2 is the same for every i and drops out of the softmax, so the logits are one matrix product:
    (sqrt(a) x_t . x_i - a ||x_i||^2 / 2) / (1 - a). Computed in ``xt``'s dtype; cost O(B M d).
    """
    data = data.to(device=xt.device, dtype=xt.dtype)
    a = schedule.extract("alpha_bar", t, xt)  # (B, 1)
    logits = (a.sqrt() * (xt @ data.T) - 0.5 * a * (data * data).sum(1)[None, :]) / (1.0 - a)  # (B, M)
    return torch.softmax(logits, dim=1) @ data


def exact_eps(schedule: Schedule, data) -> EpsModel:
    """The optimal noise predictor for data uniform on the finite set ``data`` (M, d): the minimiser of
    Ho et al.'s simple loss over all functions, eps*(x_t, t) = E[eps | x_t] =
    (x_t - sqrt(alpha_bar_t) E[x_0 | x_t]) / sqrt(1 - alpha_bar_t) (``posterior_x0_mean``).

    It is what a network trained to the end on exactly these points would compute; sampling with it
    returns the points themselves (it has memorised them). Steps t in 1..T; the result has x_t's dtype.
    """
    points = torch.as_tensor(np.asarray(data, dtype=np.float64))
    if points.ndim != 2 or len(points) < 1 or not torch.isfinite(points).all():
        raise ValueError(f"data must be a finite (M, d) array with M >= 1, got shape {tuple(points.shape)}")

    def eps(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = schedule.extract("alpha_bar", t, xt)
        return (xt - a.sqrt() * posterior_x0_mean(schedule, points, xt, t)) / (1.0 - a).sqrt()

    return eps


@dataclass(frozen=True)
class ReverseStep:
    """Every term of one DDPM step x_t -> x_{t-1} (tensors of the batch's shape)."""

    t: int
    x_t: torch.Tensor
    eps: torch.Tensor  # eps_theta(x_t, t): the predicted noise
    x0_hat: torch.Tensor  # the denoised guess it implies (clipped to ``clip`` if given)
    mean: torch.Tensor  # mu_tilde_t(x0_hat, x_t)
    sigma: float  # sigma_t (0 at t = 1: the last step adds no noise)
    z: torch.Tensor  # the standard normal draw
    x_prev: torch.Tensor  # mean + sigma z
    clipped: float = 0.0  # share of x0_hat's entries the clip moved (0 without a clip)


@torch.no_grad()
def p_sample(schedule: Schedule, eps_model: EpsModel, xt: torch.Tensor, t: int, generator: torch.Generator | None,
             variance: str = "beta_tilde", clip: tuple[float, float] | None = None) -> ReverseStep:
    """One reverse step at integer step ``t`` (1..T), all terms returned (Ho et al. algorithm 2)."""
    if not 1 <= t <= schedule.T:
        raise ValueError(f"t must lie in 1..{schedule.T}, got {t}")
    steps = torch.full((xt.shape[0],), t, dtype=torch.long, device=xt.device)
    eps = eps_model(xt, steps)
    x0_hat = predict_x0(schedule, xt, steps, eps)
    clipped = 0.0
    if clip is not None:
        clipped = float(((x0_hat < clip[0]) | (x0_hat > clip[1])).double().mean())
        x0_hat = x0_hat.clamp(*clip)
    mean, _ = q_posterior(schedule, x0_hat, xt, steps)
    sigma = 0.0 if t == 1 else float(schedule.sigma(variance)[t])
    z = torch.randn(xt.shape, generator=generator, device=xt.device, dtype=xt.dtype)
    return ReverseStep(t, xt, eps, x0_hat, mean, sigma, z, mean + sigma * z, clipped)


@torch.no_grad()
def sample_ddpm(schedule: Schedule, eps_model: EpsModel, shape: tuple, generator: torch.Generator | None,
                device="cpu", variance: str = "beta_tilde", clip=None, keep: Callable[[int], bool] | None = None,
                progress: Callable[[int], None] | None = None) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """Ancestral sampling from x_T ~ N(0, I) down to x_0: ``(x_0, frames)``.

    ``frames`` maps t -> x_t for every t with ``keep(t)`` true (t = T..0), for scrubbing and
    animation; ``progress(done)`` is called after each step.
    """
    x = torch.randn(shape, generator=generator, device=device)
    frames = {schedule.T: x.cpu()} if keep and keep(schedule.T) else {}
    for i, t in enumerate(range(schedule.T, 0, -1)):
        x = p_sample(schedule, eps_model, x, t, generator, variance, clip).x_prev
        if keep and keep(t - 1):
            frames[t - 1] = x.cpu()
        if progress:
            progress(i + 1)
    return x, frames


def ddim_timesteps(total: int, steps: int) -> list[int]:
    """``steps`` + 1 decreasing steps from T to 0, evenly spaced (Song et al.'s uniform skip)."""
    steps = whole_number(steps, "the number of DDIM steps", 1)
    if steps > total:
        raise ValueError(f"DDIM cannot take more steps ({steps}) than the chain has (T = {total})")
    return sorted({int(round(v)) for v in np.linspace(0, total, steps + 1)}, reverse=True)


@torch.no_grad()
def ddim_step(schedule: Schedule, eps_model: EpsModel, xt: torch.Tensor, t: int, t_prev: int, eta: float,
              generator: torch.Generator | None, clip=None) -> torch.Tensor:
    """x_t -> x_{t_prev} (Song et al. 2021 eq. 12); eta = 0 is deterministic, eta = 1 is DDPM-like."""
    if not eta >= 0.0:
        raise ValueError(f"eta must be >= 0 (0: deterministic DDIM, 1: DDPM-like noise); got {eta}")
    steps = torch.full((xt.shape[0],), t, dtype=torch.long, device=xt.device)
    eps = eps_model(xt, steps)
    x0_hat = predict_x0(schedule, xt, steps, eps)
    if clip is not None:
        x0_hat = x0_hat.clamp(*clip)
        eps = (xt - math.sqrt(schedule.alpha_bar[t]) * x0_hat) / math.sqrt(1.0 - schedule.alpha_bar[t])
    a_t, a_prev = schedule.alpha_bar[t], schedule.alpha_bar[t_prev]
    sigma = eta * math.sqrt((1.0 - a_prev) / (1.0 - a_t) * (1.0 - a_t / a_prev))
    direction = math.sqrt(max(1.0 - a_prev - sigma**2, 0.0)) * eps
    x = math.sqrt(a_prev) * x0_hat + direction
    if sigma > 0:
        x = x + sigma * torch.randn(xt.shape, generator=generator, device=xt.device, dtype=xt.dtype)
    return x


@torch.no_grad()
def sample_ddim(schedule: Schedule, eps_model: EpsModel, shape: tuple, steps: int, eta: float,
                generator: torch.Generator | None, device="cpu", clip=None,
                progress: Callable[[int], None] | None = None) -> torch.Tensor:
    """DDIM sampling with ``steps`` model calls from x_T ~ N(0, I)."""
    times = ddim_timesteps(schedule.T, steps)
    x = torch.randn(shape, generator=generator, device=device)
    for i, (t, t_prev) in enumerate(zip(times[:-1], times[1:])):
        x = ddim_step(schedule, eps_model, x, t, t_prev, eta, generator, clip)
        if progress:
            progress(i + 1)
    return x


@torch.no_grad()
def inpaint(schedule: Schedule, eps_model: EpsModel, x0: torch.Tensor, known: torch.Tensor,
            generator: torch.Generator | None, resample: int = 1, variance: str = "beta_tilde", clip=None,
            progress: Callable[[int], None] | None = None) -> torch.Tensor:
    """Regenerate the unknown part of ``x0`` so that it fits the known part (RePaint, jump length 1).

    ``known`` is 1 where x0 is kept, 0 where it is regenerated (broadcastable to x0). At each step
    the known region is replaced by x0 noised to the same level (exactly q(x_{t-1} | x_0)), the
    unknown region comes from the model's reverse step; ``resample`` > 1 re-noises x_{t-1} back to
    x_t (one forward step) and repeats, letting the two regions harmonise (Lugmayr et al. 2022).
    At t = 0 the known region equals x0 exactly.
    """
    resample = whole_number(resample, "resample", 1)
    known = known.to(x0.dtype).expand_as(x0)
    x = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    for i, t in enumerate(range(schedule.T, 0, -1)):
        for u in range(resample):
            unknown = p_sample(schedule, eps_model, x, t, generator, variance, clip).x_prev
            noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
            prev = torch.full((x0.shape[0],), t - 1, dtype=torch.long, device=x0.device)
            x_prev = known * q_sample(schedule, x0, prev, noise) + (1.0 - known) * unknown
            if u < resample - 1:  # back to level t: x_t ~ q(x_t | x_{t-1}) = N(sqrt(alpha_t) x_{t-1}, beta_t)
                noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
                x = math.sqrt(schedule.alphas[t]) * x_prev + math.sqrt(schedule.betas[t]) * noise
        x = x_prev
        if progress:
            progress(i + 1)
    return x


@torch.no_grad()
def variational_bound(schedule: Schedule, eps_model: EpsModel, x0: torch.Tensor,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """The DDPM's variational bound L(x_0) >= -log p_theta(x_0), per point (B,), in nats (Ho et al. 2020, eq. 5):

        L = KL(q(x_T | x_0) || N(0, I)) + sum_{t=2..T} KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t))
            - log p(x_0 | x_1)

    Each KL term is between Gaussians: q's mean and variance beta_tilde_t against the model's mean (from
    its noise prediction) with the same variance, so it is ||mu_tilde - mu_theta||^2 / (2 beta_tilde_t);
    the decoder p(x_0 | x_1) is N(mu_theta(x_1, 1), beta_1 I) (beta_tilde_1 = 0). One x_t per point and
    step, drawn from q(x_t | x_0): an unbiased estimate of the bound, exact in expectation. Every step
    costs one network evaluation (T in all)."""
    x0 = x0.to(torch.float64)
    b, d, total = x0.shape[0], x0[0].numel(), schedule.T
    a_last = float(schedule.alpha_bar[total])
    bound = 0.5 * (a_last * x0.pow(2) + (1.0 - a_last) - 1.0 - math.log(1.0 - a_last)).reshape(b, -1).sum(1)
    for t in range(1, total + 1):
        steps = torch.full((b,), t, dtype=torch.long)
        noise = torch.randn(x0.shape, generator=generator, dtype=torch.float64)
        xt = q_sample(schedule, x0, steps, noise)
        mean_model, _ = q_posterior(schedule, predict_x0(schedule, xt, steps, eps_model(xt, steps).to(torch.float64)),
                                    xt, steps)
        if t == 1:  # the decoder: -log N(x_0; mu_theta(x_1, 1), beta_1 I)
            var = float(schedule.betas[1])
            bound = bound + (0.5 * (x0 - mean_model).pow(2) / var).reshape(b, -1).sum(1) \
                + 0.5 * d * math.log(2 * math.pi * var)
        else:
            mean_q, _ = q_posterior(schedule, x0, xt, steps)
            var = float(schedule.posterior_variance[t])
            bound = bound + (0.5 * (mean_q - mean_model).pow(2) / var).reshape(b, -1).sum(1)
    return bound


def time_embedding(t: torch.Tensor, total: int, size: int) -> torch.Tensor:
    """Sinusoidal embedding (B, size) of steps t (B,) in 1..total, at frequencies from 1 to 1000 per chain."""
    half = size // 2
    freqs = torch.exp(torch.linspace(0.0, math.log(1000.0), half, device=t.device))  # (half,)
    angle = (t.float() / total)[:, None] * freqs[None, :]  # (B, half)
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)
