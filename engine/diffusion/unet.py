"""The U-Net noise predictor eps_theta(x_t, t) of the MNIST DDPM, its residual block, and ``DDPMConfig``.

Architecture (Ho et al. 2020's U-Net, after PixelCNN++, scaled down for 28x28 and 2 CPU cores):
three resolutions with ``channels`` = (c1, c2, c3) feature maps, one residual block per level on
the way down and on the way up, two at 7x7, skip connections by concatenation, GroupNorm + SiLU,
the step t entering every residual block through a sinusoidal embedding and an MLP
(``engine.diffusion.time_embedding``: sines and cosines of t / T, the Transformer's position code).

    x_t (B, 1, 28, 28) -> stem, down1 (B, c1, 28, 28) -> down2 (B, c2, 14, 14) -> mid (B, c3, 7, 7)
        -> up2 [+ down2] (B, c2, 14, 14) -> up1 [+ down1] (B, c1, 28, 28) -> eps (B, 1, 28, 28)

Down-sampling is a stride-2 3x3 convolution, up-sampling nearest-neighbour then a convolution. No
attention: at 7x7 a 3x3 convolution already sees most of the digit, and attention would double the
CPU cost. The last convolution starts at zero, so the untrained model predicts eps = 0
(x0_hat = x_t / sqrt(abar_t)).

Conventions (those of ``engine.diffusion.process``): x_t in the network's [-1, 1] pixel scale,
t a long tensor (B,) in 1..T, the output the predicted noise of the same shape as x_t.
``DDPMConfig`` holds the training settings too (schedule, lr, warm-up, EMA, ...): it is the one
config a model card stores. The samplers, training and evaluation are in ``engine.diffusion.mnist``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from engine.diffusion import process as dm


@dataclass(frozen=True)
class DDPMConfig:
    """Architecture and training (frozen: hashable for caches, stored in the model card)."""

    schedule: str = "linear"  # Ho et al.: beta from 1e-4 to 0.02 over T = 1000
    steps: int = 1000  # T
    channels: tuple[int, int, int] = (24, 48, 96)  # feature maps at 28x28, 14x14, 7x7 (fits 2 CPU cores)
    embedding: int = 96  # time-embedding width
    groups: int = 8  # GroupNorm groups
    lr: float = 1e-3  # Adam; small U-Nets train faster at 1e-3 than at Ho et al.'s 2e-4, with warm-up and clipping
    warmup: int = 300  # steps of linear lr warm-up
    clip_norm: float = 1.0  # gradient-norm clipping
    batch_size: int = 64
    train_steps: int = 6000  # ~48 epochs of 8,000 digits
    ema: float = 0.999  # EMA decay of the shipped weights (with the usual (1 + n) / (10 + n) ramp at the start)
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))  # JSON gives a list back
        if self.groups < 1:
            raise ValueError(f"groups must be at least 1; got {self.groups}")
        if len(self.channels) != 3 or min(self.channels) < self.groups or any(c % self.groups for c in self.channels):
            raise ValueError(f"channels must be three multiples of groups={self.groups}; got {self.channels}")
        if self.embedding < 2 or self.embedding % 2:
            raise ValueError(f"embedding must be an even number >= 2 (sines and cosines); got {self.embedding}")

    def schedule_config(self) -> dm.ScheduleConfig:
        return dm.ScheduleConfig(self.schedule, self.steps)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, the step embedding added in between, plus a (1x1) skip."""

    def __init__(self, cin: int, cout: int, embedding: int, groups: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.time = nn.Linear(embedding, cout)
        self.norm2, self.conv2 = nn.GroupNorm(groups, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x))) + self.time(emb)[:, :, None, None]
        return self.conv2(F.silu(self.norm2(h))) + self.skip(x)


class UNet(nn.Module):
    """eps_theta(x_t, t): images (B, 1, 28, 28) in the [-1, 1] scale, steps t (B,) in 1..T -> noise (B, 1, 28, 28)."""

    def __init__(self, config: DDPMConfig):
        super().__init__()
        c1, c2, c3 = config.channels
        e, g = config.embedding, config.groups
        self.steps, self.embedding = config.steps, e
        self.time = nn.Sequential(nn.Linear(e, e), nn.SiLU(), nn.Linear(e, e))
        self.stem = nn.Conv2d(1, c1, 3, padding=1)
        self.down1, self.pool1 = ResBlock(c1, c1, e, g), nn.Conv2d(c1, c1, 3, stride=2, padding=1)  # 28 -> 14
        self.down2, self.pool2 = ResBlock(c1, c2, e, g), nn.Conv2d(c2, c2, 3, stride=2, padding=1)  # 14 -> 7
        self.mid1, self.mid2 = ResBlock(c2, c3, e, g), ResBlock(c3, c3, e, g)
        self.up2 = ResBlock(c3 + c2, c2, e, g)  # at 14, after nearest-neighbour upsampling
        self.smooth1 = nn.Conv2d(c2, c2, 3, padding=1)
        self.up1 = ResBlock(c2 + c1, c1, e, g)  # at 28
        self.out = nn.Sequential(nn.GroupNorm(g, c1), nn.SiLU(), nn.Conv2d(c1, 1, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.time(dm.time_embedding(t, self.steps, self.embedding))
        skip1 = self.down1(self.stem(x), emb)  # (B, c1, 28, 28)
        skip2 = self.down2(self.pool1(skip1), emb)  # (B, c2, 14, 14)
        h = self.mid2(self.mid1(self.pool2(skip2), emb), emb)  # (B, c3, 7, 7)
        h = self.up2(torch.cat([F.interpolate(h, scale_factor=2.0, mode="nearest"), skip2], 1), emb)
        h = self.smooth1(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out(self.up1(torch.cat([h, skip1], 1), emb))
