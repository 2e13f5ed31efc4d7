"""Variational autoencoders: the model and its bounds (ELBO, IWAE; exact log p(x) in ``engine.vae.grid``).

A VAE (Kingma & Welling 2014) has a prior p(z) = N(0, I), a decoder p(x|z) and an encoder
q(z|x) = N(mu(x), diag exp(log_var(x))). For every x, log p(x) >= ELBO(x) = E_q[log p(x|z)] -
KL(q(z|x) || p(z)) ("reconstruction" minus "kl"), and the gap log p(x) - ELBO(x) is
KL(q(z|x) || p(z|x)). Conventions: natural logs (nats), per-example sums over data dimensions
(never means), KL in closed form, the reconstruction term estimated with one reparameterised
sample z = mu + exp(log_var / 2) * eps.

    from engine.vae.model import VAE, VAEConfig, VAETrainer, log_marginal_grid
    model = VAE(VAEConfig(latent_dim=2))           # seeded init from config.seed
    terms = model.elbo(x, generator=g)              # ELBOTerms(elbo, reconstruction, kl), each (B,)
    model.iwae_bound(x, k=1000, generator=g)        # (B,) tighter bound (Burda et al. 2016)
    iwae_estimates(model.log_weights(x, 5000, g), ks=(1, 10, 100, 1000))  # L_K for every K from one pool
    log_marginal_grid(model, x)                     # (B,) log p(x) by quadrature (1D / 2D latents)

Likelihoods: "gaussian" (toy 2D points: N(x; decoder(z), sigma^2 I) with one sigma per data
dimension, learned by default (``obs_std=None``) with a floor ``min_obs_std``, or fixed to
``obs_std``) and "bernoulli" (MNIST: pixel intensities in [0, 1] used as Bernoulli targets,
log p(x|z) = -binary cross-entropy with the decoder's logits; for grey values this is a
cross-entropy, not a normalised density of the grey image).

Where things live: ``engine.vae.grid`` (the quadrature, re-exported here as ``log_marginal_grid``),
``engine.vae.live`` (``VAETrainer``, ``VAESnapshot``) and ``engine.vae.mnist`` (MNIST presets, training,
evaluation and the shipped checkpoints "vae2d", "vae", "ae").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from engine.checks import positive, whole_number
from engine.gaussians import LOG_2PI
from engine.vae.grid import (
    _MAX_ELEMENTS,
    log_marginal_grid,  # noqa: F401  (re-exported: part of this module's API)
)

LIKELIHOODS = ("gaussian", "bernoulli")
ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU, "tanh": nn.Tanh}


@dataclass(frozen=True)
class VAEConfig:
    """A VAE / autoencoder and how it trains (frozen: hashable for caching, stored in model cards).

    Defaults are the toy 2D setting; ``engine.vae.mnist`` has the MNIST presets.
    """

    data_dim: int = 2  # 2D toy points; 784 for MNIST
    latent_dim: int = 2  # 1 or 2: the latent map can be drawn and log p(x) integrated exactly
    hidden: tuple[int, ...] = (64, 64)  # encoder widths, mirrored by the decoder: ~2 ms per step on 1000 points
    likelihood: str = "gaussian"  # "gaussian" for points, "bernoulli" for pixels in [0, 1]
    obs_std: float | None = None  # None: sigma learned (one per data dim), so a collapsed model can still fit
    min_obs_std: float = 0.03  # floor on a learned sigma: keeps log p(x) finite and the quadrature resolved
    init_obs_std: float = 0.3  # learned sigma's start, below the data's spread (~1): reconstructing pays from
    #   step 1. Starting at 1.0, training sits in the collapsed optimum (KL = 0) on the ring even at beta = 1
    activation: str = "silu"  # smooth decoder curves on toy data (and smooth quadrature integrands)
    beta: float = 1.0  # weight of the KL term (beta-VAE, Higgins et al. 2017); 1 is the true ELBO
    lr: float = 2e-3  # Adam; the toy ELBO levels off in ~2000 full-batch steps
    seed: int = 0  # parameter init and the noise of every sample drawn in training
    batch_size: int | None = None  # None: full batch (toy data are <= a few thousand points)
    epochs: int = 60  # MNIST only: passes over the 8000 training images (why 60: engine.vae.mnist)
    eval_every: int = 25  # toy trainer: steps between exact log p(x) / gap evaluations
    eval_points: int = 128  # toy trainer: fixed subset for exact log p(x); 2D latent: ~10-60 ms per evaluation

    def __post_init__(self):
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {self.activation!r}")
        for name in ("data_dim", "latent_dim", "epochs", "eval_every", "eval_points"):
            whole_number(getattr(self, name), name, 1)
        if not self.hidden or any(int(h) != h or h < 1 for h in self.hidden):
            raise ValueError(f"hidden must be a non-empty tuple of widths >= 1, got {self.hidden!r}")
        if self.obs_std is not None and not (math.isfinite(self.obs_std) and self.obs_std > 0):
            raise ValueError(f"obs_std must be None (learned) or a number > 0, got {self.obs_std!r}")
        if not (0 <= self.min_obs_std < self.init_obs_std < math.inf):
            raise ValueError(f"need 0 <= min_obs_std < init_obs_std, got {self.min_obs_std!r}, {self.init_obs_std!r}")
        _check_positive("lr", self.lr)
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise ValueError(f"beta must be a finite number >= 0, got {self.beta!r}")
        if self.batch_size is not None:  # None: the full batch
            whole_number(self.batch_size, "batch_size", 1)


def config_from_card(config: dict) -> VAEConfig:
    """The ``VAEConfig`` stored in a model card (JSON turns the ``hidden`` tuple into a list)."""
    config = dict(config)
    if "hidden" in config:
        config["hidden"] = tuple(config["hidden"])
    return VAEConfig(**config)


def _check_positive(name: str, value) -> float:
    return positive(value, name)


class ELBOTerms(NamedTuple):
    """Per-example terms, each (B,): elbo = reconstruction - beta * kl (the true ELBO at beta = 1)."""

    elbo: torch.Tensor
    reconstruction: torch.Tensor  # one-sample estimate of E_q[log p(x|z)]
    kl: torch.Tensor  # closed-form KL(q(z|x) || N(0, I))


def gaussian_kl(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(log_var)) || N(0, I)) in closed form, summed over the last axis (Kingma & Welling, app. B)."""
    return 0.5 * (mu.pow(2) + log_var.exp() - 1.0 - log_var).sum(-1)


def _mlp(sizes: list[int], activation: str, generator: torch.Generator) -> nn.Sequential:
    """Linear layers with ``activation`` between them, initialised like nn.Linear but from ``generator``."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = nn.utils.skip_init(nn.Linear, fan_in, fan_out)  # leaves the global RNG alone
        nn.init.kaiming_uniform_(linear.weight, a=math.sqrt(5), generator=generator)  # nn.Linear's default
        nn.init.uniform_(linear.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), generator=generator)
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class _Decoded(nn.Module):
    """The decoder and the likelihood p(x|z) it defines; shared by VAE and Autoencoder."""

    def __init__(self, config: VAEConfig, generator: torch.Generator):
        super().__init__()
        self.config = config
        self.decoder = _mlp([config.latent_dim, *reversed(config.hidden), config.data_dim], config.activation,
                            generator)
        if config.likelihood == "gaussian" and config.obs_std is None:
            # sigma = floor + softplus(raw): smooth, never below the floor; starts at init_obs_std
            raw = math.log(math.expm1(config.init_obs_std - config.min_obs_std))
            self.raw_obs_std = nn.Parameter(torch.full((config.data_dim,), raw))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder output (..., data_dim): Bernoulli logits, or Gaussian means."""
        return self.decoder(z)

    def obs_std(self) -> torch.Tensor:
        """Gaussian observation std per data dimension (data_dim,)."""
        if self.config.obs_std is not None:
            return torch.full((self.config.data_dim,), float(self.config.obs_std))
        return self.config.min_obs_std + F.softplus(self.raw_obs_std)

    def log_likelihood(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """log p(x | z) summed over data dims, for decoder outputs ``out`` (..., D) and x broadcastable."""
        if self.config.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(out, x.expand_as(out), reduction="none").sum(-1)
        std = self.obs_std().to(out)
        return (-0.5 * ((x - out) / std) ** 2 - torch.log(std) - 0.5 * LOG_2PI).sum(-1)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        """E[x | z]: pixel probabilities (bernoulli) or the Gaussian mean."""
        return torch.sigmoid(out) if self.config.likelihood == "bernoulli" else out

    def _draw(self, out: torch.Tensor, noise: bool, generator: torch.Generator | None) -> torch.Tensor:
        mean = self.mean(out)
        if not noise:
            return mean
        if self.config.likelihood == "bernoulli":
            return torch.bernoulli(mean, generator=generator)
        return mean + self.obs_std().to(out) * _randn(out.shape, generator, out)

    def sample(self, n: int, generator: torch.Generator | None = None, noise: bool = False) -> torch.Tensor:
        """Decode z ~ N(0, I): (n, data_dim) decoder means, plus observation noise if ``noise``."""
        ref = next(self.parameters())
        z = _randn((int(n), self.config.latent_dim), generator, ref)
        return self._draw(self.decode(z), noise, generator)


def _randn(shape, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """Standard normal noise of ``shape`` from ``generator`` (drawn on its device), as ``like``'s dtype/device."""
    device = generator.device if generator is not None else like.device
    return torch.randn(shape, generator=generator, device=device).to(like)


class VAE(_Decoded):
    """MLP encoder q(z|x) = N(mu, diag exp(log_var)) and MLP decoder p(x|z); prior N(0, I)."""

    def __init__(self, config: VAEConfig = VAEConfig()):
        generator = torch.Generator().manual_seed(int(config.seed))
        super().__init__(config, generator)
        self.encoder = _mlp([config.data_dim, *config.hidden, 2 * config.latent_dim], config.activation, generator)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, log_var), each (B, latent_dim)."""
        return self.encoder(x).chunk(2, dim=-1)

    def reparameterize(self, mu, log_var, generator: torch.Generator | None = None) -> torch.Tensor:
        """z = mu + exp(log_var / 2) * eps, eps ~ N(0, I): differentiable in (mu, log_var)."""
        return mu + torch.exp(0.5 * log_var) * _randn(mu.shape, generator, mu)

    def elbo(self, x: torch.Tensor, beta: float = 1.0, generator: torch.Generator | None = None) -> ELBOTerms:
        """One-sample ELBO terms per example (B,); ``elbo`` is the beta-ELBO (the ELBO at beta = 1)."""
        mu, log_var = self.encode(x)
        z = self.reparameterize(mu, log_var, generator)
        reconstruction = self.log_likelihood(x, self.decode(z))
        kl = gaussian_kl(mu, log_var)
        return ELBOTerms(reconstruction - beta * kl, reconstruction, kl)

    def loss(self, x: torch.Tensor, beta: float | None = None, generator: torch.Generator | None = None):
        """-mean beta-ELBO of the batch (``beta`` defaults to the config's)."""
        return -self.elbo(x, self.config.beta if beta is None else beta, generator).elbo.mean()

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decoder mean at the encoder mean, (B, data_dim): the deterministic reconstruction."""
        return self.mean(self.decode(self.encode(x)[0]))

    def log_weights(self, x: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """log p(x, z_j) - log q(z_j | x) for k draws z_j ~ q(z|x): (k, B) float64, the importance weights
        of every bound below. Drawn in chunks so at most ~_MAX_ELEMENTS decoder outputs exist at once."""
        whole_number(k, "k", 1)
        mu, log_var = self.encode(x)  # (B, L)
        std = torch.exp(0.5 * log_var)
        chunk = max(1, _MAX_ELEMENTS // max(1, x.shape[0] * self.config.data_dim))
        log_w = []
        for start in range(0, int(k), chunk):
            eps = _randn((min(chunk, int(k) - start), *mu.shape), generator, mu)  # (c, B, L)
            z = mu + std * eps
            log_q = (-0.5 * eps.pow(2) - 0.5 * log_var - 0.5 * LOG_2PI).sum(-1)  # (c, B)
            log_prior = (-0.5 * z.pow(2) - 0.5 * LOG_2PI).sum(-1)
            log_w.append((self.log_likelihood(x, self.decode(z)) + log_prior - log_q).double())
        return torch.cat(log_w)

    def iwae_bound(self, x: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """log (1/k) sum_j p(x, z_j) / q(z_j | x), z_j ~ q(z|x): (B,) float64 (Burda et al. 2016, eq. 8).

        k = 1 is the ELBO in expectation; the expectation rises with k towards log p(x).
        """
        return torch.logsumexp(self.log_weights(x, k, generator), dim=0) - math.log(k)


class IWAEEstimates(NamedTuple):
    """L_K estimates from one pool of importance weights (``iwae_estimates``); arrays (B, len(ks))."""

    ks: tuple[int, ...]
    mean: torch.Tensor  # mean of the pool's S // K independent draws of L_K: an unbiased estimate of L_K
    stderr: torch.Tensor  # their standard deviation / sqrt(S // K): the Monte Carlo noise of ``mean``
    groups: tuple[int, ...]  # S // K: how many independent draws of L_K each mean averages


def iwae_estimates(log_w: torch.Tensor, ks) -> IWAEEstimates:
    """Estimates of the bounds L_K for several K from one pool of S log-weights per example (S, B).

    For each K the pool is cut into S // K consecutive groups of K: each group gives one
    independent draw of log (1/K) sum_j w_j, whose expectation is L_K (Burda et al. 2016). Each
    estimate is a random number; only the expectations are ordered, L_1 <= L_K <= L_K' <= log p(x)
    for K <= K'. Sharing the pool orders the estimates too, exactly: when K divides K' and S is a
    multiple of K', every group of K' is made of K'/K groups of K and, log being concave (Jensen),
    the log of their mean weight is at least the mean of their logs. So with ks = (1, 10, 100, 1000)
    and S a multiple of 1000, each row increases whatever the draws. Sample i goes to group i // K.
    """
    ks = tuple(int(k) for k in ks)
    count = log_w.shape[0]
    if not ks or any(k < 1 for k in ks):
        raise ValueError(f"ks must be whole numbers >= 1, got {ks!r}")
    if max(ks) * 2 > count:
        raise ValueError(f"need at least two groups of the largest K ({max(ks)}) for a standard error; "
                         f"got {count} log-weights")
    means, errors, groups = [], [], []
    for k in ks:
        n = count // k
        blocks = log_w[:n * k].reshape(n, k, *log_w.shape[1:])  # (groups, K, B)
        draws = torch.logsumexp(blocks, dim=1) - math.log(k)  # (groups, B): independent draws of L_K
        means.append(draws.mean(0))
        errors.append(draws.std(0, correction=1) / math.sqrt(n))
        groups.append(n)
    return IWAEEstimates(ks, torch.stack(means, -1), torch.stack(errors, -1), tuple(groups))


class Autoencoder(_Decoded):
    """Deterministic encoder z = e(x) and the VAE's decoder (same architecture for the same config)."""

    def __init__(self, config: VAEConfig = VAEConfig()):
        generator = torch.Generator().manual_seed(int(config.seed))
        super().__init__(config, generator)
        self.encoder = _mlp([config.data_dim, *config.hidden, config.latent_dim], config.activation, generator)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code z (B, latent_dim)."""
        return self.encoder(x)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.mean(self.decode(self.encode(x)))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction only: -mean log p(x | z = e(x)) (binary cross-entropy summed over pixels for MNIST)."""
        return -self.log_likelihood(x, self.decode(self.encode(x))).mean()
