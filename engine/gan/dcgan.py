"""The DCGAN for MNIST: generator, discriminator, the ``DCGAN`` module that holds both, and its config.

Architecture (Radford, Metz & Chintala 2016, "DCGAN", scaled down for 28x28 and 2 CPU cores):
no pooling, only strided (transposed) convolutions; BatchNorm and ReLU in the generator, tanh
output; LeakyReLU(0.2) in the discriminator; weights initialised N(0, 0.02) (BatchNorm scales
N(1, 0.02)), seeded by ``config.seed`` without touching the global RNG.

    G: z (B, latent) -> (B, 2g, 7, 7) -> (B, g, 14, 14) -> (B, 1, 28, 28) in [-1, 1]   (tanh)
    D: x (B, 1, 28, 28) in [-1, 1] -> (B, d, 14, 14) -> (B, 2d, 7, 7) -> logits (B,), D(x) = sigmoid(logit)

Generator and discriminator live in one ``DCGAN`` module, so a checkpoint is one safetensors file.
The discriminator has no BatchNorm: with it, D(x) would depend on the rest of its batch and on
train/eval mode, and the training film's D(x) histograms should be a property of each image.

Pixels: the networks work in [-1, 1]; every public verb of ``DCGAN`` (``generate``, ``sample``,
``discriminate``, ``interpolate``) speaks images in [0, 1] of shape (N, 1, 28, 28), the classifier's
convention (``engine.mnist.metrics``). Latents are drawn on the CPU, so a seed gives the same
digits on every device; ``interpolate_latents`` walks the great circle (White 2016, "Sampling
generative networks") or the straight line between two latents.

``DCGANConfig`` holds the training settings too (lr, Adam betas, loss, epochs, film frames): it is
the one config a model card stores. Training, the film and evaluation are in ``engine.gan.mnist``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

INTERPOLATION_MODES = ("slerp", "linear")


@dataclass(frozen=True)
class DCGANConfig:
    """Architecture and training (frozen: hashable for caches, stored in the model card)."""

    latent_dim: int = 64  # z ~ N(0, I_64); Radford used 100, MNIST needs less and 64 interpolates the same
    g_channels: int = 64  # G: z -> (2g, 7, 7) -> (g, 14, 14) -> (1, 28, 28); chosen to fit ~10 min on 2 CPU threads
    d_channels: int = 64  # D: (1, 28, 28) -> (d, 14, 14) -> (2d, 7, 7) -> logit
    leak: float = 0.2  # LeakyReLU slope in D (Radford et al.)
    loss: str = "non_saturating"  # -log D(G(z)) for G: strong gradients while D wins early on
    lr: float = 2e-4  # Adam, both networks (Radford et al.: 1e-3 was too high)
    beta1: float = 0.5  # Radford et al.: 0.9 oscillated and was unstable
    beta2: float = 0.999
    batch_size: int = 64
    epochs: int = 40  # 5000 steps: 25 -> 40 epochs took FID (1000 v 1000) 197 -> 170, still no D overfitting
    snapshots: int = 25  # frames of the training film, evenly spaced, step 0 and the last step included
    seed: int = 0

    def __post_init__(self):
        if self.latent_dim < 1 or self.g_channels < 1 or self.d_channels < 1:
            raise ValueError("latent_dim, g_channels and d_channels must be positive")
        if self.snapshots < 2:
            raise ValueError("snapshots must be at least 2 (the first and the last step)")


def _init_weights(module: nn.Module, generator: torch.Generator) -> None:
    """DCGAN initialisation: conv/linear weights N(0, 0.02), BatchNorm scales N(1, 0.02), biases 0."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, 0.02, generator=generator)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02, generator=generator)
        if getattr(layer, "bias", None) is not None:
            nn.init.zeros_(layer.bias)


class Generator(nn.Module):
    """z (B, latent) -> images (B, 1, 28, 28) in [-1, 1]."""

    def __init__(self, config: DCGANConfig):
        super().__init__()
        g = config.g_channels
        self.project = nn.Linear(config.latent_dim, 2 * g * 7 * 7, bias=False)  # the "reshaped matmul" of DCGAN
        self.body = nn.Sequential(
            nn.BatchNorm2d(2 * g), nn.ReLU(),
            nn.ConvTranspose2d(2 * g, g, 4, stride=2, padding=1, bias=False),  # (B, g, 14, 14)
            nn.BatchNorm2d(g), nn.ReLU(),
            nn.ConvTranspose2d(g, 1, 4, stride=2, padding=1),  # (B, 1, 28, 28)
            nn.Tanh(),
        )
        self.channels = 2 * g

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(z).view(len(z), self.channels, 7, 7))


class Discriminator(nn.Module):
    """images (B, 1, 28, 28) in [-1, 1] -> logits (B,); D(x) = sigmoid(logit)."""

    def __init__(self, config: DCGANConfig):
        super().__init__()
        d = config.d_channels
        self.body = nn.Sequential(
            nn.Conv2d(1, d, 4, stride=2, padding=1), nn.LeakyReLU(config.leak),  # (B, d, 14, 14)
            nn.Conv2d(d, 2 * d, 4, stride=2, padding=1), nn.LeakyReLU(config.leak),  # (B, 2d, 7, 7)
            nn.Flatten(), nn.Linear(2 * d * 7 * 7, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).squeeze(1)


class DCGAN(nn.Module):
    """Generator and discriminator in one module (one state_dict, one checkpoint file)."""

    def __init__(self, config: DCGANConfig = DCGANConfig()):
        super().__init__()
        self.config = config
        with torch.random.fork_rng(devices=[]):  # the layers' default init draws from the global RNG; keep it
            self.generator = Generator(config)
            self.discriminator = Discriminator(config)
        _init_weights(self, torch.Generator().manual_seed(int(config.seed)))  # then every weight is redrawn, seeded

    @property
    def device(self) -> torch.device:
        """Where the weights are (inputs are moved there; latents are drawn on the CPU first)."""
        return next(self.parameters()).device

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I), shape (n, latent_dim), drawn on the CPU (same numbers on every device)."""
        return torch.randn((n, self.config.latent_dim), generator=generator).to(self.device)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Images (N, 1, 28, 28) in [0, 1] for latents z (N, latent_dim)."""
        return (self.generator(z.to(self.device)) + 1.0) / 2.0

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n generated images (n, 1, 28, 28) in [0, 1]; same generator state -> same images (in eval mode)."""
        return self.generate(self.latent(n, generator))

    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        """D's logits (N,) for images x (N, 1, 28, 28) or (N, 28, 28) in [0, 1]; D(x) = sigmoid(logits)."""
        x = x.to(self.device).float()
        x = x.unsqueeze(1) if x.dim() == 3 else x
        return self.discriminator(2.0 * x - 1.0)

    def interpolate(self, z0: torch.Tensor, z1: torch.Tensor, steps: int = 10, mode: str = "slerp") -> torch.Tensor:
        """Images (steps, 1, 28, 28) along a path from latent z0 to z1 (each (latent_dim,)).

        "slerp" follows the great circle (White 2016): the norm of z stays near sqrt(latent_dim),
        where N(0, I) puts its mass, whereas the midpoint of a straight line is shorter by ~1/sqrt(2).
        """
        return self.generate(interpolate_latents(z0, z1, steps, mode).to(self.device))


def interpolate_latents(z0: torch.Tensor, z1: torch.Tensor, steps: int, mode: str = "slerp") -> torch.Tensor:
    """Latents (steps, D) from z0 to z1 (D,), both ends included; ``mode`` is "slerp" or "linear"."""
    if mode not in INTERPOLATION_MODES:
        raise ValueError(f"unknown interpolation mode {mode!r}; choose one of {INTERPOLATION_MODES}")
    if steps < 2:
        raise ValueError(f"steps must be at least 2; got {steps}")
    z0, z1 = z0.reshape(-1).double(), z1.reshape(-1).double()
    t = torch.linspace(0.0, 1.0, steps, dtype=torch.float64)[:, None]  # (steps, 1)
    cos = torch.dot(z0, z1) / (z0.norm() * z1.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if mode == "linear" or omega < 1e-6:  # (anti)parallel ends: slerp's formula is 0/0; the line is the answer
        return ((1 - t) * z0 + t * z1).float()
    return ((torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)).float()
