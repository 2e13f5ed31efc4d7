"""Looking inside a trained latent-variable model of MNIST: codes, decoded grids, interpolations.

Works for ``engine.vae.VAE`` (codes = encoder means) and ``engine.vae.Autoencoder`` (codes =
the deterministic encoding) with a Bernoulli decoder over 784 pixels. Images go in as uint8
(N, 28, 28) and come out as float pixel probabilities (N, 28, 28) in [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch

from engine.vae.model import VAE


def _flat(images) -> torch.Tensor:
    x = torch.as_tensor(np.array(images))  # a copy: shared digits are read-only, torch tensors are not
    x = x.float().div(255.0) if x.dtype == torch.uint8 else x.float()
    return x.reshape(len(x), -1)  # (N, 784)


@torch.no_grad()
def encode(model, images) -> np.ndarray:
    """Codes (N, latent_dim): encoder means for a VAE, the encoding for an autoencoder."""
    x = _flat(images).to(next(model.parameters()).device)
    code = model.encode(x)
    return (code[0] if isinstance(model, VAE) else code).double().cpu().numpy()


@torch.no_grad()
def decode(model, z) -> np.ndarray:
    """Decoder means (pixel probabilities) of codes z (N, latent_dim) as (N, 28, 28)."""
    z = torch.as_tensor(np.asarray(z), dtype=torch.float32, device=next(model.parameters()).device)
    return model.mean(model.decode(z)).reshape(len(z), 28, 28).double().cpu().numpy()


def grid(limit: float = 3.0, n: int = 15) -> np.ndarray:
    """(n*n, 2) codes on a square grid, row by row from the top (z2 = +limit) so a tiled image of
    the decoded grid has z1 growing to the right and z2 growing upwards, like the scatter plot."""
    axis = np.linspace(-limit, limit, n)
    z1, z2 = np.meshgrid(axis, axis[::-1])
    return np.column_stack([z1.ravel(), z2.ravel()])


def interpolate(model, image_a, image_b, steps: int = 10) -> np.ndarray:
    """Decoded images along the straight line between the codes of two images, (steps, 28, 28)."""
    codes = encode(model, np.stack([image_a, image_b]))  # (2, L)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return decode(model, (1 - t) * codes[0] + t * codes[1])


@torch.no_grad()
def sample(model, n: int, seed: int = 0) -> np.ndarray:
    """Decoder means of z ~ N(0, I), (n, 28, 28): what the model generates (no pixel noise)."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn((n, model.config.latent_dim), generator=generator)
    return decode(model, z.numpy())
