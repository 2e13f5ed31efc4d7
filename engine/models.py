"""The shipped models in one table: where each is built and trained, its rebuild command, its headline.

    from engine.models import SHIPPED
    SHIPPED["dcgan"].rebuild            # 'python -m engine.train dcgan'
    SHIPPED["dcgan"].builder()(config)  # the architecture a card describes (imports its module)
    SHIPPED["dcgan"].trainer()          # what `python -m engine.train dcgan` runs

Each model's module holds ``build_*`` (card config -> module) and ``TRAINERS[name]``; this table names
them, so ``engine.checkpoints.load_pretrained``, ``engine.train`` and the dashboard all read the same
list. Shipping another model is one line here. Nothing heavy is imported until a model is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ShippedModel:
    name: str
    module: str  # the engine module with its builder and trainer
    build: str  # name of the builder in that module: card["config"] -> nn.Module
    headline: tuple[str, ...]  # the card metrics the home page quotes (each one its chapter page shows)

    @property
    def rebuild(self) -> str:
        return f"python -m engine.train {self.name}"

    def builder(self) -> Callable:
        return getattr(importlib.import_module(self.module), self.build)

    def trainer(self) -> Callable:
        return importlib.import_module(self.module).TRAINERS[self.name]


# The DCGAN's headline is the 1000-samples-vs-1000-held-out protocol of the GAN page and the README,
# with its real-vs-real floor at that size (its card's `samples_frechet` is against all 2000 held-out
# digits).
SHIPPED: dict[str, ShippedModel] = {m.name: m for m in (
    ShippedModel("classifier", "engine.mnist.classifier", "build_classifier",
                 ("heldout_accuracy", "frechet_floor_heldout_halves")),
    ShippedModel("vae2d", "engine.vae.mnist", "build_vae",
                 ("heldout_neg_elbo", "heldout_iwae_loglik", "samples_frechet")),
    ShippedModel("vae", "engine.vae.mnist", "build_vae",
                 ("heldout_neg_elbo", "heldout_iwae_loglik", "samples_frechet")),
    ShippedModel("ae", "engine.vae.mnist", "build_autoencoder", ("heldout_reconstruction_nats", "samples_frechet")),
    ShippedModel("dcgan", "engine.gan.mnist", "build_dcgan",
                 ("samples_frechet_vs_half", "frechet_floor_same_size", "samples_class_entropy")),
    ShippedModel("ddpm", "engine.diffusion.mnist", "build_ddpm",
                 ("ddpm_frechet", "ddim50_frechet", "frechet_floor_same_size")),
)}
