"""The two small MLPs of the 2D GAN and their optimisers, with live settings and numpy state.

Used by ``engine.gan.live.GAN2DTrainer``; kept apart so the trainer module stays readable.
G: latent (B, latent_dim) -> ReLU MLP -> (B, 2). D: packed points (B / pack, 2 * pack) ->
LeakyReLU(0.2) MLP -> (B / pack, 1) raw output (logit or critic value). Both have ``depth``
hidden layers of ``width`` units. Weights are initialised from ``architecture.seed`` under a
forked RNG, so building nets never touches torch's global random state.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engine.training import load_optimizer_state, optimizer_state, seeded, to_plain


def _mlp(n_in: int, width: int, depth: int, n_out: int, act) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(n_in if i == 0 else width, width), act()]
    return nn.Sequential(*layers, nn.Linear(width, n_out))


def _optimizer(name: str, params, lr: float, beta1: float) -> torch.optim.Optimizer:
    # Small nets on CPU are dominated by per-op overhead: the fused kernels update every
    # parameter in one call (Adam: ~50 us per step against ~140 us for foreach, 6 tensors).
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(beta1, 0.999), fused=True)
    if name == "rmsprop":  # Arjovsky et al. 2017's choice for WGAN (momentum-free); no fused kernel
        return torch.optim.RMSprop(params, lr=lr, foreach=True)
    return torch.optim.SGD(params, lr=lr, fused=True)


def _set_hyper(opt: torch.optim.Optimizer, lr: float, beta1: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr
        if "betas" in group:
            group["betas"] = (beta1, group["betas"][1])


class GANNets:
    """G, D, their optimisers; ``apply(old, new)`` carries a settings change over."""

    def __init__(self, architecture, settings):
        self.architecture = architecture
        a = architecture
        with seeded(int(a.seed)):
            self.g = _mlp(a.latent_dim, a.width, a.depth, 2, nn.ReLU)
        self.g_params = list(self.g.parameters())
        self.g_opt = _optimizer(settings.g_optimizer, self.g_params, settings.g_lr, settings.beta1)
        self._build_d(settings)

    def _build_d(self, settings) -> None:
        a = self.architecture
        with seeded(int(a.seed) + 7919 * settings.pack):  # a different D per pack, the same for a seed
            self.d = _mlp(2 * settings.pack, a.width, a.depth, 1, lambda: nn.LeakyReLU(0.2))
        self.d_params = list(self.d.parameters())
        self.d_opt = _optimizer(settings.d_optimizer, self.d_params, settings.d_lr, settings.beta1)
        self.n_pack = settings.pack

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2) -> (B / pack, 2 pack): consecutive samples side by side (Lin et al. 2018)."""
        return x if self.n_pack == 1 else x.reshape(-1, 2 * self.n_pack)

    def apply(self, old, new) -> None:
        if new.pack != self.n_pack:
            self._build_d(new)  # D's input size changed: a fresh D (and its optimiser)
        elif new.d_optimizer != old.d_optimizer:
            self.d_opt = _optimizer(new.d_optimizer, self.d_params, new.d_lr, new.beta1)
        if new.g_optimizer != old.g_optimizer:
            self.g_opt = _optimizer(new.g_optimizer, self.g_params, new.g_lr, new.beta1)
        _set_hyper(self.g_opt, new.g_lr, new.beta1)
        _set_hyper(self.d_opt, new.d_lr, new.beta1)

    # ---- numpy state (never pickled tensors: the page may write it to safetensors)
    def state(self) -> dict:
        out = {}
        for name, net, opt in (("g", self.g, self.g_opt), ("d", self.d, self.d_opt)):
            out[name] = {k: to_plain(v) for k, v in net.state_dict().items()}
            out[name + "_opt"] = optimizer_state(opt)
        return out

    def load(self, state: dict) -> None:
        """Weights and optimiser moments from ``state`` (optimiser kinds and pack already applied)."""
        for name, net, opt in (("g", self.g, self.g_opt), ("d", self.d, self.d_opt)):
            net.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in state[name].items()})
            load_optimizer_state(opt, state[name + "_opt"])
