"""Diffusion: the forward and reverse processes (re-exported here), the live 2D trainer, MNIST.

process     DDPM schedules, q(x_t | x_0), one reverse step with every term, DDIM, the exact predictor
live        the live 2D DDPM trainer (MLP noise predictor, sliced-W2 quality against its floor)
unet        the MNIST U-Net noise predictor eps_theta(x_t, t), its residual block, DDPMConfig
mnist       the MNIST DDPM: the model and its samplers (DDPM, DDIM, inpainting), training; shipped "ddpm"
inpainting  masks for inpainting: half-image and centre presets, rectangles
"""

from engine.diffusion.process import (  # noqa: F401  (the package's public API)
    COSINE_S,
    MAX_BETA,
    SCHEDULES,
    VARIANCES,
    EpsModel,
    ReverseStep,
    Schedule,
    ScheduleConfig,
    cosine_alpha_bar,
    cosine_betas,
    ddim_step,
    ddim_timesteps,
    exact_eps,
    gaussian_kl_to_standard,
    inpaint,
    linear_betas,
    moment_matched_kl_to_standard,
    p_sample,
    posterior_x0_mean,
    predict_x0,
    q_posterior,
    q_sample,
    sample_ddim,
    sample_ddpm,
    time_embedding,
    variational_bound,
)
