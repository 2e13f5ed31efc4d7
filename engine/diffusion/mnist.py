"""A small U-Net DDPM on MNIST: the model with its samplers, its training and its model card.

``python -m engine.train ddpm`` trains it on ``training_data().train_images`` (test images 0-7999
when only the test split is present) and ships ``assets/models/ddpm.{safetensors,json}``.
``MNISTDiffusion`` holds the noise schedule and the U-Net noise predictor of ``engine.diffusion.unet``
(where ``DDPMConfig`` and the architecture are); ``build_ddpm`` rebuilds it from a model card.

Training: Ho et al.'s simple loss ||eps - eps_theta(x_t, t)||^2 with t uniform on 1..T, Adam with a
linear warm-up, gradient-norm clipping, and an exponential moving average (EMA) of the weights;
the shipped weights are the EMA ones (Ho et al. sample from the EMA model too).

Pixels: the network works in [-1, 1]; every public verb speaks images in [0, 1] of shape
(N, 1, 28, 28), the classifier's convention (``engine.mnist.metrics``). Samplers clip x0_hat to [-1, 1]
(Ho et al.'s code does the same), which keeps early steps from overshooting the pixel range.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, replace

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from engine.diffusion import process as dm
from engine.diffusion.unet import DDPMConfig, UNet

CLIP = (-1.0, 1.0)  # x0_hat lives in the network's pixel range
DDIM_STEPS = (10, 20, 50, 100)  # the samplers the model card compares with 1000-step DDPM
N_EVAL = 500  # generated digits per sampler in the model card (500 v 500 held-out; floor: 500 v 500)


class MNISTDiffusion(nn.Module):
    """The U-Net with its noise schedule and the samplers, speaking images in [0, 1].

    Every sampler takes a ``torch.Generator`` (CPU) for its noise, so the same seed gives the same
    digits; ``progress(done)`` is called after each network evaluation.
    """

    def __init__(self, config: DDPMConfig = DDPMConfig()):  # noqa: B008  (frozen, so a safe default)
        super().__init__()
        self.config = config
        self.schedule = dm.Schedule(config.schedule_config())
        with torch.random.fork_rng(devices=[]):  # default inits draw from the global RNG: seed them, leave it alone
            torch.manual_seed(config.seed)
            self.unet = UNet(config)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.unet(x, t)

    def eps(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The noise model in the engine.diffusion convention (x_t in [-1, 1] scale, t long (B,))."""
        return self.unet(x.to(self.device), t.to(self.device))

    def generator(self, seed: int) -> torch.Generator:
        """A generator on the model's device: the same seed gives the same digits on that device."""
        return torch.Generator(device=self.device).manual_seed(int(seed))

    @torch.no_grad()
    def sample_ddpm(self, n: int, seed: int = 0, *, keep: Callable[[int], bool] | None = None,
                    progress=None) -> tuple[torch.Tensor, dict[int, tuple[torch.Tensor, torch.Tensor]]]:
        """n digits by T-step ancestral sampling: ``(images (n, 1, 28, 28) in [0, 1] on the CPU, frames)``.

        ``frames`` maps each t with ``keep(t)`` (T..0) to ``(x_t, x0_hat)`` in [0, 1] on the CPU
        (x_t clamped for display; at t = 0 both are the final digits).
        """
        generator = self.generator(seed)
        x = torch.randn((n, 1, 28, 28), generator=generator, device=self.device)
        frames = {}
        for i, t in enumerate(range(self.schedule.T, 0, -1)):
            step = dm.p_sample(self.schedule, self.eps, x, t, generator, clip=CLIP)
            if keep and keep(t):
                frames[t] = (to_unit(step.x_t), to_unit(step.x0_hat))
            x = step.x_prev
            if progress:
                progress(i + 1)
        if keep and keep(0):
            frames[0] = (to_unit(x), to_unit(x))
        return to_unit(x), frames

    @torch.no_grad()
    def sample_ddim(self, n: int, steps: int = 50, eta: float = 0.0, seed: int = 0, progress=None) -> torch.Tensor:
        """n digits (n, 1, 28, 28) in [0, 1] (CPU) by DDIM with ``steps`` network calls; eta = 0 is deterministic."""
        x = dm.sample_ddim(self.schedule, self.eps, (n, 1, 28, 28), steps, eta, self.generator(seed),
                           device=self.device, clip=CLIP, progress=progress)
        return to_unit(x)

    @torch.no_grad()
    def sample_ddim_frames(self, n: int, steps: int = 50, eta: float = 0.0, seed: int = 0,
                           progress=None) -> tuple[torch.Tensor, dict[int, tuple[torch.Tensor, torch.Tensor]]]:
        """``sample_ddim`` step for step (same seed, same digits), keeping ``(x_t, x0_hat)`` at every step.

        Returns ``(images, frames)`` like ``sample_ddpm``; x0_hat is the clipped prediction the DDIM
        step itself uses (one network call per step, captured rather than recomputed).
        """
        generator = self.generator(seed)
        times = dm.ddim_timesteps(self.schedule.T, steps)
        x = torch.randn((n, 1, 28, 28), generator=generator, device=self.device)  # as dm.sample_ddim draws x_T
        seen = {}

        def eps_model(x_t, t_batch):
            seen["eps"] = self.eps(x_t, t_batch)
            return seen["eps"]

        frames = {}
        for i, (step, prev) in enumerate(zip(times[:-1], times[1:])):
            x_next = dm.ddim_step(self.schedule, eps_model, x, step, prev, eta, generator, clip=CLIP)
            t_batch = torch.full((n,), step, dtype=torch.long, device=x.device)
            frames[step] = (to_unit(x), to_unit(dm.predict_x0(self.schedule, x, t_batch, seen["eps"]).clamp(*CLIP)))
            x = x_next
            if progress:
                progress(i + 1)
        frames[0] = (to_unit(x), to_unit(x))
        return to_unit(x), frames

    @torch.no_grad()
    def reverse_step(self, x_t: torch.Tensor, t: int, seed: int = 0) -> dm.ReverseStep:
        """Every term of one DDPM step from x_t (N, 1, 28, 28) in the network's [-1, 1] scale (not clamped)."""
        return dm.p_sample(self.schedule, self.eps, x_t.to(self.device), t, self.generator(seed), clip=CLIP)

    @torch.no_grad()
    def inpaint(self, images: torch.Tensor, known: torch.Tensor, seed: int = 0, resample: int = 1,
                progress=None) -> torch.Tensor:
        """Regenerate the pixels where ``known`` is 0 so they fit the rest (RePaint, engine.diffusion.inpaint).

        images (N, 1, 28, 28) in [0, 1]; known (N or 1, 1, 28, 28) of 0/1. Returns (N, 1, 28, 28) in
        [0, 1] on the CPU whose known pixels equal the input's.
        """
        images = images.float().cpu()
        x0 = images.to(self.device) * 2.0 - 1.0
        out = dm.inpaint(self.schedule, self.eps, x0, known.to(self.device).float(), self.generator(seed),
                         resample=resample, clip=CLIP, progress=progress)
        known = known.float().cpu().expand_as(images)
        return known * images + (1.0 - known) * to_unit(out)  # blended in [0, 1]: the kept pixels are the input's bits


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """The network's [-1, 1] pixels -> [0, 1] (clamped) on the CPU."""
    return ((x.float() + 1.0) / 2.0).clamp(0.0, 1.0).cpu()


def to_network(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, 28, 28) or floats in [0, 1] (N, 1, 28, 28) -> (N, 1, 28, 28) in [-1, 1]."""
    x = images.reshape(len(images), 1, 28, 28).float()
    if images.dtype == torch.uint8:
        x = x / 255.0
    return x * 2.0 - 1.0


def build_ddpm(config: dict) -> MNISTDiffusion:
    """The registry's builder: the model from a model card's ``config``."""
    return MNISTDiffusion(DDPMConfig(**config))


# ---------------------------------------------------------------- training
def fit(model: MNISTDiffusion, data, config: DDPMConfig, *, max_steps: int | None = None, progress=None,
        log=None, log_every: int = 250) -> tuple[MNISTDiffusion, dict]:
    """Train ``model`` on ``data.train_images``; returns ``(ema_model, summary)``.

    ``summary``: steps, epochs, wall_time_s, stopped (None, or where a loss became non-finite),
    and ``loss_curve``: the mean training loss of every ``log_every`` steps as [step, loss] pairs.
    """
    device = model.device
    noise = torch.Generator().manual_seed(config.seed + 1)
    x_train = to_network(torch.as_tensor(data.train_images))  # (N, 1, 28, 28), CPU
    ema = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.Adam(model.unet.parameters(), lr=config.lr)
    warm = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(1, config.warmup)))
    total = config.train_steps if max_steps is None else min(max_steps, config.train_steps)
    bar = progress(total) if progress else None
    curve, window, stopped, step, start = [], [], None, 0, time.perf_counter()
    model.train()
    while step < total:
        batch = x_train[torch.randint(len(x_train), (config.batch_size,), generator=noise)]
        t = torch.randint(1, config.steps + 1, (config.batch_size,), generator=noise)
        eps = torch.randn(batch.shape, generator=noise)
        batch, t, eps = batch.to(device), t.to(device), eps.to(device)
        loss = F.mse_loss(model(dm.q_sample(model.schedule, batch, t, eps), t), eps)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.unet.parameters(), config.clip_norm)
        optimizer.step()
        warm.step()
        step += 1
        value = loss.item()
        if not math.isfinite(value):
            stopped = {"step": step, "loss": value}
            break
        decay = min(config.ema, (1.0 + step) / (10.0 + step))
        with torch.no_grad():  # after the check: the EMA never absorbs a non-finite step
            for target, source in zip(ema.parameters(), model.parameters()):
                target.lerp_(source, 1.0 - decay)
        window.append(value)
        if bar is not None:
            bar.update(1)
        if step % log_every == 0 or step == total:
            curve.append([step, float(np.mean(window))])
            window = []
            if log:
                log({"step": step, "loss": curve[-1][1], "seconds": time.perf_counter() - start})
    if bar is not None:
        bar.close()
    model.eval()
    summary = {"steps": step, "epochs": step * config.batch_size / len(x_train),
               "wall_time_s": time.perf_counter() - start, "stopped": stopped, "loss_curve": curve}
    return ema.eval(), summary


# ---------------------------------------------------------------- evaluation and the command
def sampler_names() -> list[str]:
    return ["ddpm"] + [f"ddim{s}" for s in DDIM_STEPS]


def sample_with(model: MNISTDiffusion, sampler: str, n: int, seed: int, eta: float = 0.0,
                batch_size: int = 250) -> torch.Tensor:
    """n digits from ``sampler`` ("ddpm" or "ddim<steps>"), in batches; (n, 1, 28, 28) in [0, 1]."""
    out = []
    for i, first in enumerate(range(0, n, batch_size)):
        size = min(batch_size, n - first)
        if sampler == "ddpm":
            out.append(model.sample_ddpm(size, seed + i)[0])
        elif sampler.startswith("ddim"):
            out.append(model.sample_ddim(size, int(sampler[4:]), eta, seed + i))
        else:
            raise ValueError(f"unknown sampler {sampler!r}; choose ddpm or ddim<steps>")
    return torch.cat(out)


@torch.no_grad()
def evaluate(model: MNISTDiffusion, data, classifier: nn.Module, seed: int = 0, n_samples: int = N_EVAL,
             samplers: list[str] | None = None, log=None) -> tuple[dict, dict]:
    """``(metrics, details)``: per sampler, the classifier Fréchet distance of ``n_samples`` digits
    against ``n_samples`` held-out digits, class entropy and coverage, and wall time; plus the floor:
    another ``n_samples`` held-out digits against the same ones (a perfect generator scores about that).
    """
    from engine.mnist import metrics

    held = data.heldout_images
    order = np.random.default_rng(seed).permutation(len(held))
    if 2 * n_samples > len(order):
        raise ValueError(f"n_samples={n_samples} needs {2 * n_samples} held-out digits; there are {len(order)}")
    ref_features, _ = metrics.classify(classifier, held[order[:n_samples]])
    floor_features, _ = metrics.classify(classifier, held[order[n_samples:2 * n_samples]])
    out = {"frechet_floor_same_size": metrics.frechet_between(floor_features, ref_features)}
    table = {}
    for name in samplers or sampler_names():
        start = time.perf_counter()
        samples = sample_with(model, name, n_samples, seed + 100)
        seconds = time.perf_counter() - start
        features, probs = metrics.classify(classifier, samples)
        fractions = metrics.class_histogram(probs.argmax(1))
        table[name] = {"frechet": metrics.frechet_between(features, ref_features),
                       "class_entropy": metrics.class_entropy(fractions),
                       "classes_covered": int((fractions > 0.02).sum()),
                       "mean_confidence": metrics.mean_confidence(probs),
                       "seconds_per_digit": seconds / n_samples, "fractions": [float(f) for f in fractions]}
        if log:
            log(name, table[name])
    for name in ("ddpm", "ddim50"):
        if name in table:
            out[f"{name}_frechet"] = table[name]["frechet"]
            out[f"{name}_class_entropy"] = table[name]["class_entropy"]
    details = {"n_samples": n_samples, "n_reference": n_samples, "seed": seed + 100, "eta": 0.0,
               "halves": f"held-out digits permuted by numpy default_rng({seed}); the first {n_samples} are the "
                         f"reference, the next {n_samples} give the floor",
               "coverage": "a class counts as covered when more than 2% of the digits are classified as it",
               "samplers": table}
    return out, details


def train_ddpm(args, device, data) -> tuple:
    """The ``engine.train`` entry: ``(args, device, data) -> (EMA model, card part)``."""
    from tqdm import tqdm

    from engine.checkpoints import load_pretrained

    config = replace(DDPMConfig(), seed=args.seed)
    if args.epochs is not None:
        config = replace(config, train_steps=max(1, round(args.epochs * len(data.train_images) / config.batch_size)))
    classifier, _ = load_pretrained("classifier", device=device)
    model = MNISTDiffusion(config).to(device)
    ema, summary = fit(model, data, config, max_steps=args.max_steps,
                       progress=lambda total: tqdm(total=total, unit="step", dynamic_ncols=True, mininterval=5),
                       log=lambda m: print(f"step {m['step']}: loss {m['loss']:.4f} ({m['seconds']:.0f} s)",
                                           flush=True))
    if summary["stopped"] is not None:
        raise RuntimeError(f"training stopped: the loss became non-finite ({summary['stopped']}); nothing was saved")
    smoke = args.max_steps is not None and args.max_steps < config.train_steps
    start = time.perf_counter()
    metrics, details = evaluate(
        ema, data, classifier, seed=args.seed, n_samples=50 if smoke else N_EVAL,
        samplers=["ddim10"] if smoke else None,
        log=lambda name, row: print(f"{name}: Fréchet {row['frechet']:.1f}, entropy {row['class_entropy']:.3f}, "
                                    f"{row['seconds_per_digit'] * 1000:.1f} ms/digit", flush=True))
    return ema, {
        "model": "DDPM (U-Net noise predictor)",
        "config": asdict(config),
        "metrics": metrics,
        "evaluation": {**details, "seconds": time.perf_counter() - start},
        "training": {"steps": summary["steps"], "epochs": summary["epochs"], "wall_time_s": summary["wall_time_s"],
                     "max_steps": args.max_steps, "threads": torch.get_num_threads(),
                     "optimizer": f"Adam, lr {config.lr} after {config.warmup} warm-up steps, grad-norm clip "
                                  f"{config.clip_norm}; shipped weights are the EMA ({config.ema})",
                     "loss": "Ho et al. simple loss: mean squared error of the predicted noise, t uniform on 1..T",
                     "loss_curve": summary["loss_curve"]},
    }


TRAINERS = {"ddpm": train_ddpm}
