"""GANs: the losses (re-exported here), the exact 1D game, the live 2D trainer, the MNIST DCGAN.

losses  GAN losses as functions (minimax, non-saturating, WGAN, WGAN-GP, least squares, hinge)
exact   the 1D game made exact: D*, V(D*, G) = -log 4 + 2 JS, a learned D, the generator losses
modes   2D mixture data (ring of 8, grid of 25, ...) and the VEEGAN/PacGAN mode-coverage metric
nets    the small 2D generator / discriminator MLPs and their optimisers
live    the live 2D GAN trainer (settings changeable while training, presets, snapshots)
dcgan   the MNIST DCGAN's networks: generator, discriminator, the DCGAN module, DCGANConfig, slerp
mnist   the MNIST DCGAN's training, its film and evaluation; the shipped checkpoint "dcgan"
"""

from engine.gan.losses import (  # noqa: F401  (the package's public API)
    LOSSES,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    probability_output,
)
