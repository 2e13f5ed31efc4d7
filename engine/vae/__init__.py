"""Latent variables and the VAE: the models (re-exported here), exact toy maths, the live 2D trainer, MNIST.

model   VAE and autoencoder models, ELBO terms, IWAE bound
exact   exact 1D-latent toy model: log p(x), posterior, ELBO, KL gap, IWAE bounds
grid    exact log p(x) of a 1D/2D-latent VAE by converged grids
live    the live VAE trainer on 2D data (exact gap while training, beta)
mnist   MNIST VAE/AE presets, training, evaluation, shipped-checkpoint registration
latent  codes, decoded grids, interpolations and IWAE tables of MNIST models
"""

from engine.vae.model import (  # noqa: F401  (the package's public API)
    ACTIVATIONS,
    LIKELIHOODS,
    VAE,
    Autoencoder,
    ELBOTerms,
    IWAEEstimates,
    VAEConfig,
    config_from_card,
    gaussian_kl,
    iwae_estimates,
    log_marginal_grid,
)
