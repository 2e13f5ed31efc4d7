"""A small CNN digit classifier: the judge of generated MNIST digits.

The VAE, GAN and diffusion chapters ask "which digits does the model make, how sure is a
classifier about them, and how far are they from real digits in the classifier's feature
space?" (``engine.mnist.metrics``). This module provides that classifier and its training loop;
``python -m engine.train classifier`` runs it and ships ``assets/models/classifier.*``.

Input convention: float images in [0, 1] of shape (B, 1, 28, 28); the network normalises
them itself, so every caller feeds the same thing a decoder produces.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn
from torch.nn import functional as F

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # pixel statistics of MNIST in [0, 1] (the usual constants)


@dataclass(frozen=True)
class ClassifierConfig:
    """Architecture and training settings (frozen: hashable, and stored in the model card)."""

    channels: tuple[int, int] = (32, 64)  # two conv blocks are enough for >98% on 8000 digits
    hidden: int = 128  # width of the penultimate layer: the feature space of the Fréchet distance
    dropout: float = 0.3  # 8000 training images overfit quickly without it
    epochs: int = 15  # held-out accuracy stops improving around here with shift augmentation
    batch_size: int = 128
    lr: float = 2e-3  # Adam, decayed by a cosine schedule to 0 over the run
    weight_decay: float = 1e-4
    max_shift: int = 2  # random translations of up to 2 px: cheap augmentation, worth ~0.5% accuracy
    seed: int = 0


class DigitClassifier(nn.Module):
    """conv(3x3) -> pool -> conv(3x3) -> pool -> dense(hidden) -> dense(10)."""

    def __init__(self, config: ClassifierConfig = ClassifierConfig()):
        super().__init__()
        c1, c2 = config.channels
        self.config = config
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(c1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(c2)
        self.dense = nn.Linear(c2 * 7 * 7, config.hidden)
        self.dropout = nn.Dropout(config.dropout)
        self.out = nn.Linear(config.hidden, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations (B, hidden) of images x (B, 1, 28, 28) in [0, 1]."""
        x = (x - MNIST_MEAN) / MNIST_STD
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)  # (B, c1, 14, 14)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)  # (B, c2, 7, 7)
        return F.relu(self.dense(x.flatten(1)))  # (B, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, 10)."""
        return self.out(self.dropout(self.features(x)))


def build_classifier(config: dict | None = None) -> DigitClassifier:
    """The architecture described by a model card's ``config`` (the checkpoint registry's builder)."""
    config = dict(config or {})
    if "channels" in config:
        config["channels"] = tuple(config["channels"])  # JSON turns tuples into lists
    return DigitClassifier(ClassifierConfig(**config))




def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [0, 1]; float input is passed through."""
    if images.dtype == torch.uint8:
        images = images.float().div_(255.0)
    return images if images.dim() == 4 else images.unsqueeze(1)


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by up to ``max_shift`` pixels (zero fill), one offset per image."""
    if max_shift == 0:
        return x
    b = x.shape[0]
    padded = F.pad(x, (max_shift,) * 4)  # (B, 1, 28 + 2s, 28 + 2s)
    dx, dy = (torch.randint(0, 2 * max_shift + 1, (2, b), generator=generator)).tolist()
    return torch.stack([padded[i, :, y:y + 28, x_:x_ + 28] for i, (x_, y) in enumerate(zip(dx, dy))])


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> dict:
    """Accuracy and mean cross-entropy of ``model`` on uint8 images (N, 28, 28)."""
    model.eval()
    device = next(model.parameters()).device
    correct, loss = 0, 0.0
    for start in range(0, len(images), batch_size):
        x = to_input(images[start:start + batch_size]).to(device)
        y = labels[start:start + batch_size].to(device)
        logits = model(x).float()
        loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
    return {"accuracy": correct / len(images), "loss": loss / len(images)}


def fit(data, config: ClassifierConfig, device: torch.device, *, max_steps: int | None = None,
        progress: Callable[[int], object] | None = None, log: Callable[[dict], None] | None = None):
    """Train a classifier on ``data`` (an ``engine.data.mnist.TrainingData``).

    ``progress(total_steps)`` may return a tqdm-like bar (``update``, ``set_postfix``);
    ``log(metrics)`` receives the held-out metrics after every epoch. Returns
    ``(model, summary)`` where summary holds steps, epochs, wall time and final metrics.
    On CUDA the forward pass runs in bfloat16 autocast (mixed precision).
    """
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model = DigitClassifier(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    n = len(data.train_images)
    steps_per_epoch = math.ceil(n / config.batch_size)
    total = config.epochs * steps_per_epoch if max_steps is None else min(max_steps, config.epochs * steps_per_epoch)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
    bar = progress(total) if progress else None
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    start, step, epochs_done, heldout = time.perf_counter(), 0, 0, {}
    while step < total:
        model.train()
        order = torch.randperm(n, generator=generator)
        for first in range(0, n, config.batch_size):
            index = order[first:first + config.batch_size]
            x = random_shift(to_input(data.train_images[index]), config.max_shift, generator).to(device)
            y = data.train_labels[index].to(device)
            with autocast:
                loss = F.cross_entropy(model(x).float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
            if step >= total:
                break
        epochs_done += 1
        heldout = evaluate(model, data.heldout_images, data.heldout_labels)
        if log:
            log({"epoch": epochs_done, "step": step, **heldout})
    if bar is not None:
        bar.close()
    model.eval()
    return model, {"steps": step, "epochs": epochs_done, "wall_time_s": time.perf_counter() - start,
                   "heldout_accuracy": heldout["accuracy"], "heldout_loss": heldout["loss"],
                   "config": asdict(config)}


def train_classifier(args, device, data) -> tuple:
    """Fit the evaluation classifier; returns (model, the model-specific part of its card)."""
    from tqdm import tqdm

    from engine.mnist import metrics

    config = ClassifierConfig(seed=args.seed)
    if args.epochs is not None:
        config = replace(config, epochs=args.epochs)
    model, summary = fit(
        data, config, device, max_steps=args.max_steps,
        progress=lambda total: tqdm(total=total, unit="step", dynamic_ncols=True),
        log=lambda m: print(f"epoch {m['epoch']}: held-out accuracy {m['accuracy']:.4f}, loss {m['loss']:.4f}",
                            flush=True),
    )
    floor = metrics.frechet_floor(model, data.heldout_images, seed=args.seed)
    return model, {
        "metrics": {"heldout_accuracy": summary["heldout_accuracy"], "heldout_loss": summary["heldout_loss"],
                    "frechet_floor_heldout_halves": floor},
        "training": {"epochs": summary["epochs"], "steps": summary["steps"], "wall_time_s": summary["wall_time_s"],
                     "max_steps": args.max_steps, "threads": torch.get_num_threads()},
        "config": summary["config"],
    }


TRAINERS = {"classifier": train_classifier}  # `python -m engine.train classifier`
