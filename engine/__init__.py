"""engine: the numbers behind the generative-models explainer.

A pure library (numpy / scipy / torch; never streamlit or plotly), so a notebook gets exactly
the numbers the dashboard shows. Import the module you need; nothing heavy loads here:

    from engine.distributions import Normal, Mixture
    from engine import divergences
    divergences.kl(Normal(0, 1), Normal(1, 2))

Modules:
    distributions  1D toy distributions: pdf/logpdf, cdf, ppf, sample(n, rng)
    divergences    KL, reverse KL, JS, TV, W1, W2 between 1D distributions (nats)
    checks         the shared argument checks (positive numbers, whole numbers)
    quadrature     adaptive Gauss-Legendre panels and the safeguarded Newton root finder
    transport      sample-based optimal transport (1D and equal-size 2D point sets), sliced Wasserstein
    projections    fitting one Gaussian by forward vs reverse KL (mode covering vs seeking)
    toy2d          2D toy point clouds (gaussian, ring, moons, eight Gaussians, spiral, swiss roll) by name
    likelihood     closed-form and EM fits, KDEs, entropy / cross-entropy, Monte Carlo curves
    gaussians      multivariate Gaussians and Gaussian mixtures (and the helpers the KDEs share)
    kde            Gaussian KDEs: 1D (a Distribution, with cdf / ppf / breakpoints) and d-dimensional
    training       the live-trainer protocol: step, stop on non-finite, rewind, resume
    mle            maximum likelihood by gradient ascent (MLETrainer) and its loss surface
    device         cuda > mps > cpu selection and the torch thread cap
    data.mnist     MNIST IDX loader: search order, MD5 checks, training split; `python -m engine.data.mnist`
    data.download  the explicit MNIST download (mirrors, MD5-checked, atomic) and that command's code
    checkpoints    safetensors weights + JSON model cards, hash-checked; load_pretrained(name)
    classifier     the small CNN that judges generated digits, and its training loop
    metrics        class coverage, confidence and classifier Fréchet distance of samples
    vae            VAE and autoencoder models, ELBO terms, IWAE bound
    vae_grid       exact log p(x) of a 1D/2D-latent VAE by converged grids
    vae_trainer    the live VAE trainer on 2D data (exact gap while training, beta)
    vae_mnist      MNIST VAE/AE presets, training, evaluation, shipped-checkpoint registration
    latent         codes, decoded grids, interpolations and IWAE tables of MNIST models
    vae_toy        exact 1D-latent toy model: log p(x), posterior, ELBO, KL gap, IWAE bounds
    gan            GAN losses as functions (minimax, non-saturating, WGAN, WGAN-GP, least squares, hinge)
    gan_theory     the 1D game made exact: D*, V(D*, G) = -log 4 + 2 JS, a learned D, the generator losses
    gan_modes      2D mixture data (ring of 8, grid of 25, ...) and the VEEGAN/PacGAN mode-coverage metric
    gan_nets       the small 2D generator / discriminator MLPs and their optimisers
    gan_toy        the live 2D GAN trainer (settings changeable while training, presets, snapshots)
    gan_mnist      the MNIST DCGAN, its training film and evaluation; the shipped checkpoint "dcgan"
    diffusion      DDPM schedules, q(x_t | x_0), one reverse step with every term, DDIM, inpainting
    diffusion_toy  the live 2D DDPM trainer (MLP noise predictor, sliced-W2 quality against its floor)
    ddpm_mnist     the MNIST U-Net DDPM: samplers (DDPM, DDIM, inpainting), training, evaluation; shipped "ddpm"
    inpainting     masks for inpainting: half-image and centre presets, rectangles
    data.points    uploaded 2D point sets: CSV parsing with coded errors, standardising
    train          `python -m engine.train MODEL`: command-line training that ships a checkpoint
"""

__version__ = "0.1.0"
