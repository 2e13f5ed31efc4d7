"""engine: the numbers behind the generative-models explainer.

A pure library (numpy / scipy / torch; never streamlit or plotly), so a notebook gets exactly
the numbers the dashboard shows. Import the module you need; nothing heavy loads here:

    from engine.distributions import Normal, Mixture
    from engine import divergences
    divergences.kl(Normal(0, 1), Normal(1, 2))

Modules:
    distributions  1D toy distributions: pdf/logpdf, cdf, ppf, sample(n, rng)
    divergences    KL, reverse KL, JS, TV, W1, W2 between 1D distributions (nats)
    shift_sweep    all six as Q slides past P, with their slopes (disjoint supports)
    checks         the shared argument checks (positive numbers, whole numbers)
    quadrature     adaptive Gauss-Legendre panels and the safeguarded Newton root finder
    transport      sample-based optimal transport (1D and equal-size 2D point sets), sliced Wasserstein
    projections    fitting one Gaussian by forward vs reverse KL (mode covering vs seeking)
    toy2d          2D toy point clouds (gaussian, ring, moons, eight Gaussians, spiral, swiss roll) by name
    likelihood     closed-form and EM fits, KDEs, entropy / cross-entropy, Monte Carlo curves
    capacity       train vs held-out likelihood along a model's capacity; distance to the training set
    gaussians      multivariate Gaussians and Gaussian mixtures (and the helpers the KDEs share)
    kde            Gaussian KDEs: 1D (a Distribution, with cdf / ppf / breakpoints) and d-dimensional
    training       the live-trainer protocol: step, stop on non-finite, rewind, resume
    mle            maximum likelihood by gradient ascent (MLETrainer) and its loss surface
    device         cuda > mps > cpu selection and the torch thread cap
    data.mnist     MNIST IDX loader: search order, MD5 checks, training split; `python -m engine.data`
    data.download  the explicit MNIST download (mirrors, MD5-checked, atomic) and that command's code
    checkpoints    safetensors weights + JSON model cards, hash-checked; load_pretrained(name)
    mnist/         what judges generated digits: classifier (the small CNN), metrics (coverage, Fréchet)

One package per model family, each with the same vocabulary: ``exact`` (closed forms and toy maths),
``live`` (the 2D trainer of the live section), ``mnist`` (the shipped model), plus its own parts.
The package re-exports its core module, so ``from engine.gan import LOSSES`` works:
    vae/           model (VAE, autoencoder, ELBO, IWAE; re-exported), exact (1D-latent toy), grid
                   (exact log p(x) by converged grids), live, mnist, latent (codes, grids, interpolations)
    gan/           losses (re-exported), exact (the 1D game: D*, 2 JS - log 4), modes (mixtures and mode
                   coverage), nets (2D MLPs), live, dcgan (the MNIST DCGAN's networks), mnist (its training
                   film and evaluation)
    diffusion/     process (schedules, q(x_t | x_0), reverse step, DDIM, exact predictor; re-exported),
                   live, unet (the MNIST noise predictor), mnist (the DDPM, its samplers and training),
                   inpainting (masks)
    data.points    uploaded 2D point sets: CSV parsing with coded errors, standardising
    train          `python -m engine.train MODEL`: command-line training that ships a checkpoint
"""

__version__ = "0.1.0"
