"""GAN losses as plain functions of the discriminator's raw outputs.

Every function takes D's raw outputs (logits for the probability losses, critic values for the
others), shape (B,), and returns the scalar that the network in question minimises:

    kind            D minimises                              G minimises            reference
    minimax         -E log s(D(x)) - E log(1 - s(D(G(z))))   E log(1 - s(D(G(z))))  Goodfellow 2014, eq. 1
    non_saturating  same as minimax                          -E log s(D(G(z)))      Goodfellow 2014, sec. 3
    wgan            E D(G(z)) - E D(x)  (+ weight clipping)  -E D(G(z))             Arjovsky 2017, alg. 1
    wgan_gp         E D(G(z)) - E D(x)  (+ gradient_penalty) -E D(G(z))             Gulrajani 2017, alg. 1
    least_squares   E (D(x)-1)^2 / 2 + E D(G(z))^2 / 2       E (D(G(z))-1)^2 / 2    Mao 2017, eq. 2 (a=0, b=c=1)
    hinge           E relu(1 - D(x)) + E relu(1 + D(G(z)))   -E D(G(z))             Lim 2017; Miyato 2018

s is the logistic sigmoid. log s(t) = -softplus(-t) and log(1 - s(t)) = -softplus(t) are used
so that saturated logits give finite losses and gradients. The WGAN weight clipping and the
WGAN-GP penalty are not part of the loss value: the trainer clips after each D update and adds
``gp_weight * gradient_penalty(...)`` to D's loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

LOSSES = ("minimax", "non_saturating", "wgan", "wgan_gp", "least_squares", "hinge")
_PROBABILITY = ("minimax", "non_saturating")


def _check(kind: str) -> str:
    if kind not in LOSSES:
        raise ValueError(f"unknown GAN loss {kind!r}; choose one of {', '.join(LOSSES)}")
    return kind


def probability_output(kind: str) -> bool:
    """True when sigmoid(D's output) is D's probability that x is real (minimax, non_saturating);
    False for critics (wgan, wgan_gp, least_squares, hinge), whose raw value is what matters."""
    return _check(kind) in _PROBABILITY


def discriminator_loss(kind: str, real: Tensor, fake: Tensor) -> Tensor:
    """The scalar D minimises, from its raw outputs on real (B,) and generated (B',) samples."""
    kind = _check(kind)
    if kind in _PROBABILITY:  # binary cross-entropy with labels 1 (real) and 0 (fake)
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if kind in ("wgan", "wgan_gp"):  # minus the critic's estimate of W1 (Kantorovich-Rubinstein dual)
        return fake.mean() - real.mean()
    if kind == "least_squares":
        return 0.5 * ((real - 1.0) ** 2).mean() + 0.5 * (fake**2).mean()
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()  # hinge


def generator_loss(kind: str, fake: Tensor) -> Tensor:
    """The scalar G minimises, from D's raw outputs on generated samples (B,)."""
    kind = _check(kind)
    if kind == "minimax":  # E log(1 - D(G(z))): flat where D confidently rejects (early training)
        return -F.softplus(fake).mean()
    if kind == "non_saturating":  # -E log D(G(z)): same fixed points, strong gradient early
        return F.softplus(-fake).mean()
    if kind == "least_squares":
        return 0.5 * ((fake - 1.0) ** 2).mean()
    return -fake.mean()  # wgan, wgan_gp, hinge


def gradient_penalty(critic, real: Tensor, fake: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """E[(||grad_x critic(x_hat)||_2 - 1)^2] at x_hat = e x + (1 - e) G(z), e ~ U[0, 1] per row.

    Gulrajani et al. 2017, eq. 3. real, fake: (B, ...) inputs as the critic sees them (packed rows
    under PacGAN); the norm is over all but the first axis. The graph is kept (create_graph) so
    the penalty's gradient reaches the critic's weights.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), generator=generator, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)
    out = critic(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()
