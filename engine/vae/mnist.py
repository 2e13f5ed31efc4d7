"""The MNIST VAEs and autoencoder: presets, training, held-out evaluation and shipped checkpoints.

Three models, each a ``python -m engine.train NAME`` command that writes ``assets/models/NAME.*``:

* ``vae2d``: a VAE with a 2D latent, so the whole latent space can be drawn as a map of digits;
* ``vae``: the same with a 16D latent, for better samples and likelihoods;
* ``ae``: a deterministic autoencoder with vae2d's decoder and a 2D code. Decoding z ~ N(0, I)
  with it asks "is an autoencoder generative?" (nothing placed its codes under N(0, I)).

Data: MNIST images as 784 pixel intensities in [0, 1], used directly as Bernoulli targets
(binary cross-entropy with the decoder's logits; not binarised). For grey pixels this is a
cross-entropy, not the likelihood of a normalised density over grey images, so the nats are
comparable between these models but not with binarised-MNIST results in papers. Trained on
``training_data().train_images`` (test images 0-7999 when only the test split is present);
every metric uses the held-out images (8000-9999).

Metrics in the cards (``evaluate``): held-out mean negative ELBO (one-sample estimate per
image, with its Monte Carlo standard error from a second independent pass), the IWAE bound
with K = 1000 on the first 500 held-out digits (Burda et al. 2016) with its standard error
over digits, reconstruction error, and the classifier's judgement of 1000 prior samples
(``engine.mnist.metrics.evaluate_samples`` against the 2000 held-out digits; samples are decoder
means, i.e. pixel probabilities). For the autoencoder also samples decoded from a Gaussian
fitted to its training codes ("fitted_gaussian_*"): the obvious repair, for comparison.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, replace

import numpy as np
import torch
from torch.nn import functional as F

from engine.vae.model import VAE, Autoencoder, IWAEEstimates, VAEConfig, config_from_card, iwae_estimates

# 784-512-256-latent MLPs: the classic pytorch/examples shape, ~1.07M parameters, ~10 ms per
# batch of 128 on 2 CPU threads (0.6 s per epoch of 8000 images). ReLU: the usual choice on pixels.
# 60 epochs: in 150-epoch runs the held-out loss of all three models stopped improving at 55-75
# epochs (vae 109.8, vae2d 152.2, ae 143.3 nats) and then crept up (overfitting 8000 images).
MNIST_VAE2D = VAEConfig(data_dim=784, latent_dim=2, hidden=(512, 256), likelihood="bernoulli", activation="relu",
                        lr=1e-3, batch_size=128, epochs=60)
MNIST_VAE = replace(MNIST_VAE2D, latent_dim=16)  # 16 dims: sharper samples; more barely helps at 8000 images
MNIST_AE = MNIST_VAE2D  # the same architecture and training; only the encoder is deterministic
MODELS = {"vae2d": (VAE, MNIST_VAE2D), "vae": (VAE, MNIST_VAE), "ae": (Autoencoder, MNIST_AE)}
IWAE_K, IWAE_N = 1000, 500  # importance samples per digit, held-out digits used
N_SAMPLES = 1000  # prior samples judged by the classifier
EVAL_BATCH = 500
# The page's table of L_K on a few digits (iwae_table): one pool of 5000 importance samples per digit
# serves every K, so L_1000 is the mean of 5 independent draws and L_1 of 5000. Each K divides the
# next, so the means increase with K whatever the draws (engine.vae.iwae_estimates).
TABLE_KS = (1, 10, 100, 1000)
TABLE_SAMPLES = 5000


def build_vae(config: dict) -> VAE:
    """The registry's builder: a VAE from a model card's ``config``."""
    return VAE(config_from_card(config))


def build_autoencoder(config: dict) -> Autoencoder:
    return Autoencoder(config_from_card(config))




def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, 28, 28) -> float (N, 784) in [0, 1]."""
    return images.reshape(len(images), -1).float().div_(255.0)


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def heldout_elbo(model: VAE, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One-sample ELBO of each image (N,) in nats, float64; noise from ``generator`` in batches of 500.

    The same generator state and images give the same numbers (up to float rounding), which is
    how the tests reproduce a card's value.
    """
    x_all = to_input(images)
    out = [model.elbo(x_all[i:i + EVAL_BATCH].to(_device(model)), 1.0, generator).elbo.double().cpu()
           for i in range(0, len(x_all), EVAL_BATCH)]
    return torch.cat(out)


@torch.no_grad()
def iwae(model: VAE, images: torch.Tensor, k: int, generator: torch.Generator, batch: int = 50) -> torch.Tensor:
    """IWAE bound with k samples of each image (N,) float64."""
    x_all = to_input(images)
    return torch.cat([model.iwae_bound(x_all[i:i + batch].to(_device(model)), k, generator).cpu()
                      for i in range(0, len(x_all), batch)])


@torch.no_grad()
def iwae_table(model: VAE, images, ks=TABLE_KS, samples: int = TABLE_SAMPLES, seed: int = 0) -> IWAEEstimates:
    """L_K of each image (uint8 (N, 28, 28)) for every K in ``ks``: mean and standard error over the
    independent groups of K in one pool of ``samples`` importance samples per image
    (``engine.vae.iwae_estimates``), as float64 numpy arrays (N, len(ks)). Cost: ``samples``
    decoder passes per image (the page's 8 digits x 5000: measured 0.7-0.8 s of CPU time on one thread)."""
    # a copy either way: digits shared between sessions are read-only numpy arrays
    x = images.clone() if torch.is_tensor(images) else torch.from_numpy(np.array(images))
    x = to_input(x).to(_device(model))
    table = iwae_estimates(model.log_weights(x, samples, torch.Generator().manual_seed(seed)), ks)
    return table._replace(mean=table.mean.cpu().numpy(), stderr=table.stderr.cpu().numpy())


@torch.no_grad()
def reconstruction_errors(model, images: torch.Tensor) -> dict:
    """Cross-entropy (nats per image) and mean squared error (per pixel) of the deterministic reconstruction."""
    x = to_input(images).to(_device(model))
    z = model.encode(x)
    logits = model.decode(z[0] if isinstance(z, tuple) else z)
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
    return {"heldout_reconstruction_nats": bce.mean().item(),
            "heldout_reconstruction_mse": (torch.sigmoid(logits) - x).pow(2).mean().item()}


def sample_images(model, n: int, generator: torch.Generator) -> torch.Tensor:
    """Decoder means of z ~ N(0, I) as images (n, 1, 28, 28) in [0, 1]."""
    with torch.no_grad():
        return model.sample(n, generator).reshape(n, 1, 28, 28).cpu()


def evaluate(model, data, seed: int = 0, iwae_k: int = IWAE_K, iwae_n: int = IWAE_N,
             n_samples: int = N_SAMPLES) -> tuple[dict, dict]:
    """``(metrics, details)`` of a trained VAE or autoencoder on the held-out images (see the module doc)."""
    from engine.checkpoints import load_pretrained
    from engine.mnist import metrics as sample_metrics

    model.eval()
    held = data.heldout_images
    metrics, details = {}, {}
    if isinstance(model, VAE):
        first = heldout_elbo(model, held, torch.Generator().manual_seed(seed))
        second = heldout_elbo(model, held, torch.Generator().manual_seed(seed + 1))
        n = len(first)
        metrics["heldout_neg_elbo"] = -first.mean().item()
        # MC noise of the one-sample mean: Var(e1 - e2) = 2 Var(e), averaged over images
        metrics["heldout_neg_elbo_mc_se"] = math.sqrt(((first - second) ** 2).mean().item() / 2 / n)
        metrics["heldout_neg_elbo_se_over_digits"] = first.std().item() / math.sqrt(n)
        start = time.perf_counter()
        bound = iwae(model, held[:iwae_n], iwae_k, torch.Generator().manual_seed(seed + 2))
        metrics["heldout_iwae_loglik"] = bound.mean().item()
        metrics["heldout_iwae_loglik_se"] = bound.std().item() / math.sqrt(len(bound))
        metrics["heldout_elbo_same_digits"] = first[:iwae_n].mean().item()
        first_index = data.card.get("heldout_range", [0])[0]
        details["iwae"] = {"k": iwae_k, "n": len(bound), "seconds": time.perf_counter() - start,
                           "digits": f"the first {len(bound)} held-out images ({data.card.get('heldout_split', '')} "
                                     f"split images {first_index}-{first_index + len(bound) - 1})"}
        details["elbo"] = {"n": n, "samples_per_image": 1, "generator_seed": seed, "batch_size": EVAL_BATCH,
                           "mc_se_from": f"a second pass with generator seed {seed + 1}"}
    metrics |= reconstruction_errors(model, held)
    classifier, _ = load_pretrained("classifier", device=_device(model))
    samples = sample_images(model, n_samples, torch.Generator().manual_seed(seed + 3))
    report = sample_metrics.evaluate_samples(classifier, samples, held)
    metrics |= {"samples_class_entropy": report.entropy, "samples_mean_confidence": report.mean_confidence,
                "samples_frechet": report.frechet}
    details["samples"] = {**report.as_dict(), "z": "N(0, I)", "images": "decoder means (pixel probabilities)",
                          "reference": "all held-out images", "generator_seed": seed + 3}
    if isinstance(model, Autoencoder):
        # The obvious repair, for comparison: z from a Gaussian fitted to the training codes.
        with torch.no_grad():
            codes = model.encode(to_input(data.train_images).to(_device(model))).double().cpu()  # (N, latent)
            mean = codes.mean(0)
            cov = torch.cov(codes.T).reshape(len(mean), len(mean))
            eps = torch.randn((n_samples, len(mean)), generator=torch.Generator().manual_seed(seed + 4))
            z = (mean + eps.double() @ torch.linalg.cholesky(cov).T).float()
            fitted = model.mean(model.decode(z.to(_device(model)))).reshape(-1, 1, 28, 28).cpu()
        fit_report = sample_metrics.evaluate_samples(classifier, fitted, held)
        metrics |= {"fitted_gaussian_samples_class_entropy": fit_report.entropy,
                    "fitted_gaussian_samples_mean_confidence": fit_report.mean_confidence,
                    "fitted_gaussian_samples_frechet": fit_report.frechet}
        details["codes"] = {"train_mean": mean.tolist(), "train_std": codes.std(0).tolist(),
                            "note": "the training images' codes: N(0, I) overlaps them only by chance"}
        details["fitted_gaussian_samples"] = {**fit_report.as_dict(), "z": "N(mean, covariance of the training "
                                              "codes)", "generator_seed": seed + 4}
    return metrics, details


def fit(model, data, config: VAEConfig, *, max_steps: int | None = None, progress=None, log=None) -> dict:
    """Adam on minibatches of ``data.train_images``: -ELBO for a VAE, cross-entropy for an autoencoder.

    ``progress(total)`` may return a tqdm-like bar; ``log(metrics)`` gets the held-out loss
    after each epoch. Returns a summary (steps, epochs, wall time, per-epoch held-out losses).
    """
    generator = torch.Generator().manual_seed(config.seed)
    device = _device(model)
    x_train, x_held = to_input(data.train_images), to_input(data.heldout_images).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    n = len(x_train)
    per_epoch = math.ceil(n / config.batch_size)
    total = config.epochs * per_epoch if max_steps is None else min(max_steps, config.epochs * per_epoch)
    bar = progress(total) if progress else None
    is_vae = isinstance(model, VAE)
    start, step, epochs, curve = time.perf_counter(), 0, 0, []
    while step < total:
        model.train()
        order = torch.randperm(n, generator=generator)
        for first in range(0, n, config.batch_size):
            x = x_train[order[first:first + config.batch_size]].to(device)
            loss = model.loss(x, generator=generator) if is_vae else model.loss(x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.2f}")
            if step >= total:
                break
        epochs += 1
        model.eval()
        with torch.no_grad():
            held = (model.loss(x_held, generator=torch.Generator().manual_seed(0)) if is_vae
                    else model.loss(x_held)).item()
        curve.append(held)
        if log:
            log({"epoch": epochs, "step": step, "heldout_loss": held})
    if bar is not None:
        bar.close()
    model.eval()
    return {"steps": step, "epochs": epochs, "wall_time_s": time.perf_counter() - start,
            "heldout_loss_per_epoch": curve}


def _trainer(name: str):
    """The ``engine.train`` entry for model ``name``: ``(args, device, data) -> (model, card part)``."""

    def train(args, device, data) -> tuple:
        from tqdm import tqdm

        cls, config = MODELS[name]
        config = replace(config, seed=args.seed, epochs=args.epochs or config.epochs)
        model = cls(config).to(device)
        summary = fit(model, data, config, max_steps=args.max_steps,
                      progress=lambda total: tqdm(total=total, unit="step", dynamic_ncols=True),
                      log=lambda m: print(f"epoch {m['epoch']}: held-out loss {m['heldout_loss']:.2f} nats",
                                          flush=True))
        smoke = args.max_steps is not None  # a smoke run: the same metrics on fewer digits, said in the card
        start = time.perf_counter()
        metrics, details = evaluate(model, data, seed=args.seed, iwae_n=20 if smoke else IWAE_N,
                                    n_samples=100 if smoke else N_SAMPLES)
        loss = ("-ELBO (one reparameterised sample per image), mean over the batch" if cls is VAE
                else "binary cross-entropy of the reconstruction, summed over pixels, mean over the batch")
        return model, {
            "model": cls.__name__,
            "config": asdict(config),
            "metrics": metrics,
            "evaluation": {**details, "seconds": time.perf_counter() - start},
            "training": {"epochs": summary["epochs"], "steps": summary["steps"], "wall_time_s": summary["wall_time_s"],
                         "max_steps": args.max_steps, "threads": torch.get_num_threads(), "optimizer": "Adam",
                         "loss": loss, "heldout_loss_per_epoch": summary["heldout_loss_per_epoch"]},
            "likelihood": "Bernoulli on pixel intensities in [0, 1] (not binarised): binary cross-entropy with "
                          "the decoder's logits, summed over 784 pixels; nats per image",
        }

    return train


TRAINERS = {name: _trainer(name) for name in MODELS}
