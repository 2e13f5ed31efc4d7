"""The MNIST DCGAN's training with a "film" of snapshots, its evaluation, and the shipped checkpoint.

``python -m engine.train dcgan`` trains it on ``training_data().train_images`` (test images 0-7999
when only the test split is present) and ships ``assets/models/dcgan.{safetensors,json}`` plus
``assets/models/dcgan_film.safetensors``, whose sha256 the model card records. The networks and
``DCGANConfig`` are in ``engine.gan.dcgan``; ``build_dcgan`` rebuilds them from a model card.

Training (Radford, Metz & Chintala 2016): Adam with lr 2e-4 and betas (0.5, 0.999) for both
networks, one D step then one G step on the same fakes. Loss: the non-saturating GAN loss of
``engine.gan`` (Goodfellow et al. 2014, sec. 3).

Pixels: every public verb speaks images in [0, 1] of shape (N, 1, 28, 28), the classifier's
convention (``engine.mnist.metrics``); the training batches are in the networks' [-1, 1].

The film (``fit``): at ``config.snapshots`` evenly spaced steps (step 0 included), the samples of a
fixed noise batch as uint8 images, D(x) on held-out real digits, on training digits and on
generated digits, and the classifier's class histogram of generated digits (mode collapse shows
as a spike). The model card's metrics (``evaluate``): the classifier's Fréchet distance of 1000
samples against held-out digits, with the floor at the same sample sizes, class entropy and
mean confidence (see ``engine.mnist.metrics``).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict

import numpy as np
import torch
from torch import nn

from engine.gan.dcgan import DCGAN, DCGANConfig

FILM_GRID = 64  # fixed-noise images per snapshot (an 8x8 grid)
FILM_D = 500  # real held-out / real training / generated digits whose D(x) each snapshot stores
FILM_CLASSES = 500  # generated digits the classifier judges per snapshot (a class share's s.e. <= 2.2%)
N_SAMPLES = 1000  # generated digits behind the card's metrics (the VAE cards use 1000 too)


def build_dcgan(config: dict) -> DCGAN:
    """The registry's builder: a DCGAN from a model card's ``config``."""
    return DCGAN(DCGANConfig(**config))


def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, 28, 28) -> float (N, 1, 28, 28) in [0, 1]."""
    return images.reshape(len(images), 1, 28, 28).float().div_(255.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] (N, 1, 28, 28) -> uint8 (N, 28, 28), rounded."""
    return images.reshape(len(images), 28, 28).clamp(0, 1).mul(255).round().to(torch.uint8).cpu()


# ---------------------------------------------------------------- training
def discriminator_step(model: DCGAN, optimizer: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor,
                       loss: str) -> torch.Tensor:
    """One Adam step of D on real and (detached) generated images, both (B, 1, 28, 28) in [-1, 1]; its loss."""
    from engine.gan.losses import discriminator_loss

    value = discriminator_loss(loss, model.discriminator(real), model.discriminator(fake.detach()))
    optimizer.zero_grad(set_to_none=True)
    value.backward()
    optimizer.step()
    return value.detach()


def train_step(model: DCGAN, opt_d, opt_g, real: torch.Tensor, z: torch.Tensor, loss: str) -> tuple[float, float]:
    """One D step then one G step (the same fakes, as in Radford et al.'s code); returns (loss_d, loss_g)."""
    from engine.gan.losses import generator_loss

    fake = model.generator(z)  # (B, 1, 28, 28) in [-1, 1]
    loss_d = discriminator_step(model, opt_d, real, fake, loss)
    loss_g = generator_loss(loss, model.discriminator(fake))
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()  # also fills D's .grad; the next D step zeroes it first
    opt_g.step()
    return loss_d.item(), loss_g.item()


def snapshot_steps(total: int, frames: int) -> list[int]:
    """``frames`` evenly spaced steps in [0, total] (rounded, duplicates dropped, both ends kept)."""
    return sorted({round(s) for s in np.linspace(0, total, frames)})


@torch.no_grad()
def film_frame(model: DCGAN, classifier: nn.Module, grid_z, class_z, heldout, train, loss: str) -> dict:
    """One film frame with the model in eval mode (as it is shipped): see the module docstring.

    heldout, train: real images (N, 1, 28, 28) in [0, 1]; grid_z (64, latent), class_z (500, latent).
    """
    from engine.gan.losses import discriminator_loss, generator_loss
    from engine.mnist import metrics

    was_training = model.training
    model.eval()
    grid = to_uint8(model.generate(grid_z))  # (64, 28, 28)
    fake = model.generate(class_z)  # (500, 1, 28, 28)
    logits_real, logits_fake = model.discriminate(heldout), model.discriminate(fake[:len(heldout)])
    logits_train = model.discriminate(train)
    model.train(was_training)
    _, probs = metrics.classify(classifier, fake)
    return {"grid": grid, "d_real": torch.sigmoid(logits_real).cpu(), "d_fake": torch.sigmoid(logits_fake).cpu(),
            "d_train": torch.sigmoid(logits_train).cpu(),
            "class_fractions": torch.as_tensor(metrics.class_histogram(probs.argmax(1)), dtype=torch.float32),
            "mean_confidence": torch.tensor(metrics.mean_confidence(probs), dtype=torch.float32),
            "loss_d": discriminator_loss(loss, logits_real, logits_fake).float().cpu(),
            "loss_g": generator_loss(loss, logits_fake).float().cpu()}


def fit(model: DCGAN, data, config: DCGANConfig, classifier: nn.Module, *, max_steps: int | None = None,
        progress=None, log=None) -> tuple[dict, dict]:
    """Train ``model`` on ``data.train_images``; returns ``(summary, film)``.

    ``film`` maps names to CPU tensors (S frames): steps (S,), grid (S, 64, 28, 28) uint8, grid_z,
    d_real / d_train / d_fake (S, 500) probabilities, class_fractions (S, 10), mean_confidence,
    loss_d, loss_g (S,) on the frame's held-out and generated digits, and train_loss_d /
    train_loss_g (T,) of every training step. A non-finite loss stops the run; ``summary["stopped"]``
    then says where (otherwise None). ``progress(total)`` may return a tqdm-like bar; ``log(frame)``
    receives each frame's step and summary numbers.
    """
    device = model.device
    noise = torch.Generator().manual_seed(config.seed + 1)  # batches and z during training
    grid_z = torch.randn((FILM_GRID, config.latent_dim), generator=torch.Generator().manual_seed(config.seed + 2))
    class_z = torch.randn((FILM_CLASSES, config.latent_dim), generator=torch.Generator().manual_seed(config.seed + 3))
    grid_z, class_z = grid_z.to(device), class_z.to(device)
    heldout, train = to_input(data.heldout_images[:FILM_D]).to(device), to_input(data.train_images[:FILM_D]).to(device)
    x_train = to_input(data.train_images).mul_(2).sub_(1)  # (N, 1, 28, 28) in [-1, 1]
    adam = {"lr": config.lr, "betas": (config.beta1, config.beta2)}
    opt_d = torch.optim.Adam(model.discriminator.parameters(), **adam)
    opt_g = torch.optim.Adam(model.generator.parameters(), **adam)
    n = len(x_train)
    per_epoch = n // config.batch_size  # full batches only: a tiny last batch makes BatchNorm statistics noisy
    total = config.epochs * per_epoch if max_steps is None else min(max_steps, config.epochs * per_epoch)
    at = snapshot_steps(total, config.snapshots)
    bar = progress(total) if progress else None
    frames, losses, stopped, step, film_seconds = [], [], None, 0, 0.0
    start = time.perf_counter()

    def shoot():
        nonlocal film_seconds
        t0 = time.perf_counter()
        frame = film_frame(model, classifier, grid_z, class_z, heldout, train, config.loss)
        frames.append({"step": step, **frame})
        film_seconds += time.perf_counter() - t0
        if log:
            log({"step": step, "loss_d": frame["loss_d"].item(), "d_real": frame["d_real"].mean().item(),
                 "d_fake": frame["d_fake"].mean().item(), "confidence": frame["mean_confidence"].item(),
                 "fractions": frame["class_fractions"].tolist()})

    model.train()
    shoot()
    while step < total and stopped is None:
        order = torch.randperm(n, generator=noise)
        for first in range(0, per_epoch * config.batch_size, config.batch_size):
            real = x_train[order[first:first + config.batch_size]].to(device)
            z = torch.randn((config.batch_size, config.latent_dim), generator=noise).to(device)
            loss_d, loss_g = train_step(model, opt_d, opt_g, real, z, config.loss)
            losses.append((loss_d, loss_g))
            step += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss_d=f"{loss_d:.3f}", loss_g=f"{loss_g:.3f}")
            if not (math.isfinite(loss_d) and math.isfinite(loss_g)):
                stopped = {"step": step, "loss_d": loss_d, "loss_g": loss_g}
                break
            if step in at:
                shoot()
            if step >= total:
                break
    if bar is not None:
        bar.close()
    model.eval()
    film = {key: torch.stack([f[key] for f in frames]) for key in frames[0] if key != "step"}
    film |= {"steps": torch.tensor([f["step"] for f in frames], dtype=torch.int64), "grid_z": grid_z.cpu(),
             "train_loss_d": torch.tensor([a for a, _ in losses], dtype=torch.float32),
             "train_loss_g": torch.tensor([b for _, b in losses], dtype=torch.float32)}
    summary = {"steps": step, "epochs": step / per_epoch, "wall_time_s": time.perf_counter() - start,
               "film_seconds": film_seconds, "stopped": stopped, "config": asdict(config)}
    return summary, film


# ---------------------------------------------------------------- evaluation, the film file, the command
@torch.no_grad()
def evaluate(model: DCGAN, data, classifier: nn.Module, seed: int = 0, n_samples: int = N_SAMPLES) -> tuple[dict, dict]:
    """``(metrics, details)`` of ``n_samples`` generated digits against the held-out digits.

    Two Fréchet distances, because the sample-based one is biased by the set sizes (engine.mnist.metrics):
    ``samples_frechet`` against all held-out digits (the VAE cards' protocol, comparable with them)
    and ``samples_frechet_vs_half`` against a random half of them, reported with
    ``frechet_floor_same_size``, the other half against that half: a perfect generator with
    ``n_samples`` = half the held-out digits scores around the floor.
    """
    from engine.mnist import metrics

    model.eval()
    samples = model.sample(n_samples, torch.Generator().manual_seed(seed + 4)).cpu()  # (n, 1, 28, 28)
    features, probs = metrics.classify(classifier, samples)
    held_features, _ = metrics.classify(classifier, data.heldout_images)
    order = np.random.default_rng(seed).permutation(len(held_features))
    half_a, half_b = held_features[order[:len(order) // 2]], held_features[order[len(order) // 2:]]
    fractions = metrics.class_histogram(probs.argmax(1))
    d_real = torch.sigmoid(model.discriminate(to_input(data.heldout_images))).cpu()
    d_fake = torch.sigmoid(model.discriminate(samples)).cpu()
    out = {
        "samples_frechet": metrics.frechet_between(features, held_features),
        "samples_frechet_vs_half": metrics.frechet_between(features, half_a),
        "frechet_floor_same_size": metrics.frechet_between(half_b, half_a),
        "samples_class_entropy": metrics.class_entropy(fractions),
        "samples_mean_confidence": metrics.mean_confidence(probs),
        "d_heldout_mean": d_real.mean().item(), "d_samples_mean": d_fake.mean().item(),
    }
    details = {"n_samples": n_samples, "generator_seed": seed + 4, "n_heldout": len(held_features),
               "halves": f"held-out digits split by numpy default_rng({seed}).permutation; "
                         f"{len(half_a)} vs {len(half_b)}",
               "fractions": [float(f) for f in fractions],
               "images": "generator in eval mode (BatchNorm running statistics), pixels (tanh + 1) / 2"}
    return out, details


def film_path(folder, name: str = "dcgan"):
    from pathlib import Path

    return Path(folder) / f"{name}_film.safetensors"


def load_film(card: dict, folder=None) -> dict[str, np.ndarray]:
    """The training film named by a model card (``card["film"]``), hash-checked, as numpy arrays.

    ``folder`` defaults to ``engine.checkpoints.ASSETS_DIR`` (read at call time). Raises
    CheckpointError with the rebuild command when the file is missing, altered or unreadable.
    """
    from engine import checkpoints

    film = card.get("film") if isinstance(card, dict) else None
    rebuild = card.get("rebuild") if isinstance(card, dict) else None
    if not isinstance(film, dict) or not isinstance(film.get("file"), str):
        raise checkpoints.CheckpointError("the model card names no training film", rebuild)
    folder = checkpoints.ASSETS_DIR if folder is None else folder
    from pathlib import Path

    tensors = checkpoints.load_tensors(Path(folder) / Path(film["file"]).name, film.get("sha256"), rebuild=rebuild)
    return {k: v.numpy() for k, v in tensors.items()}


def train_dcgan(args, device, data) -> tuple:
    """The ``engine.train`` entry: ``(args, device, data) -> (model, card part)``; writes the film file too."""
    from dataclasses import replace

    from tqdm import tqdm

    from engine.checkpoints import load_pretrained, save_tensors

    config = replace(DCGANConfig(), seed=args.seed, epochs=args.epochs or DCGANConfig().epochs)
    classifier, _ = load_pretrained("classifier", device=device)
    model = DCGAN(config).to(device)

    def log(frame):
        counts = " ".join(f"{f:.2f}" for f in frame["fractions"])
        print(f"step {frame['step']}: D loss {frame['loss_d']:.3f}, mean D(real) {frame['d_real']:.3f}, "
              f"mean D(G(z)) {frame['d_fake']:.3f}, confidence {frame['confidence']:.3f}, classes {counts}", flush=True)

    summary, film = fit(model, data, config, classifier, max_steps=args.max_steps, log=log,
                        progress=lambda total: tqdm(total=total, unit="step", dynamic_ncols=True))
    if summary["stopped"] is not None:
        raise RuntimeError(f"training stopped: a loss became non-finite ({summary['stopped']}); nothing was saved")
    smoke = args.max_steps is not None
    start = time.perf_counter()
    metrics, details = evaluate(model, data, classifier, seed=args.seed, n_samples=200 if smoke else N_SAMPLES)
    path = film_path(args.out)
    sha = save_tensors(path, film)
    frames = [{"step": int(s), "d_heldout_mean": float(r.mean()), "d_train_mean": float(t.mean()),
               "d_generated_mean": float(f.mean()), "loss_d": float(ld), "class_entropy": _entropy(c)}
              for s, r, t, f, ld, c in zip(film["steps"], film["d_real"], film["d_train"], film["d_fake"],
                                           film["loss_d"], film["class_fractions"])]
    return model, {
        "model": "DCGAN",
        "config": asdict(config),
        "metrics": metrics,
        "evaluation": {**details, "seconds": time.perf_counter() - start},
        "training": {"epochs": summary["epochs"], "steps": summary["steps"], "wall_time_s": summary["wall_time_s"],
                     "film_seconds": summary["film_seconds"], "max_steps": args.max_steps,
                     "threads": torch.get_num_threads(), "optimizer": "Adam (both networks)",
                     "loss": f"{config.loss} (engine.gan); one D step per G step"},
        "film": {"file": path.name, "sha256": sha, "frames": len(frames), "grid": FILM_GRID, "d_digits": FILM_D,
                 "class_digits": FILM_CLASSES, "real_digits": _real_digits(data),
                 "per_frame": frames},
    }


def _real_digits(data) -> str:
    """Which real images the film's D(x) columns use, from the data card (the first FILM_D of each set)."""
    card = getattr(data, "card", {})
    held, train = card.get("heldout_range", [0]), card.get("train_range", [0])
    return (f"d_real: the first {FILM_D} held-out images ({card.get('heldout_split', '')} split images "
            f"{held[0]}-{held[0] + FILM_D - 1}); d_train: the first {FILM_D} training images "
            f"({card.get('train_split', '')} split images {train[0]}-{train[0] + FILM_D - 1})")


def _entropy(fractions: torch.Tensor) -> float:
    from engine.mnist.metrics import class_entropy

    return class_entropy(fractions.double().numpy() / float(fractions.sum()))


TRAINERS = {"dcgan": train_dcgan}
