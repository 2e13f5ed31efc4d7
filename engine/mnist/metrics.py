"""Judging generated digits with a classifier: class coverage, confidence, Fréchet distance.

A trained digit classifier (``engine.mnist.classifier``) answers three questions about a batch of
generated images:

* Which digits does the model make? ``class_histogram`` of the predicted labels and its
  ``class_entropy``: log(10) ~ 2.303 nats is perfectly even coverage of 10 classes, 0 is a single
  class (mode collapse).
* Do they look like digits at all? ``mean_confidence``, the mean of the largest softmax
  probability: near 1 for clean digits, towards 1/10 for blobs the classifier cannot place.
* How far is the whole batch from real digits? The Fréchet distance between Gaussians fitted to
  the classifier's penultimate-layer features of samples and of held-out real images: FID's
  recipe (Heusel et al. 2017) with an MNIST classifier in place of Inception.

Conventions
-----------
* Natural logarithm: entropies are in nats.
* ``frechet_distance`` returns the *squared* quantity, as FID does:
  d² = ||mu1 - mu2||² + Tr(S1 + S2 - 2 (S1 S2)^{1/2}), the squared 2-Wasserstein distance
  between N(mu1, S1) and N(mu2, S2). It is >= 0, symmetric and 0 for identical statistics.
* Covariances use ddof=1 and float64.
* Classifier input: float32 images in [0, 1] of shape (N, 1, 28, 28). ``classify`` also accepts
  uint8 (N, 28, 28) / (N, 1, 28, 28) images (divided by 255) and float (N, 28, 28), as numpy
  arrays or torch tensors. The classifier must provide ``features(x) -> (N, D)`` and
  ``forward(x) -> (N, K)`` logits, and should be in eval mode (``load_pretrained`` gives one);
  this module never changes its mode, because the dashboard shares one copy between sessions.

The sample-based Fréchet distance is biased upwards: even two sets of real digits are apart by
roughly a multiple of D/n (D feature dimensions, n images per set). Only compare numbers at the
same sample sizes, and read them against ``frechet_floor``, the distance between two halves of
the real images, which is what a perfect generator would score at that size.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from scipy import linalg

FRECHET_EPS = 1e-6  # the ridge pytorch-fid adds when sqrtm(S1 S2) is not finite (singular covariances)
_RANGE_SLACK = 1e-3  # float images may overshoot [0, 1] by rounding (sigmoid outputs, bf16 decoders)


def class_histogram(labels, num_classes: int = 10) -> np.ndarray:
    """Fraction of ``labels`` (ints in [0, num_classes)) in each class, shape (num_classes,), sums to 1."""
    labels = np.asarray(labels).reshape(-1)
    if labels.size == 0:
        raise ValueError("class_histogram needs at least one label")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers; got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes}); got {labels.min()}..{labels.max()}")
    return np.bincount(labels, minlength=num_classes) / labels.size


def class_entropy(fractions) -> float:
    """Entropy -sum p log p of class fractions, in nats (0 log 0 = 0); log(K) for K even classes."""
    p = np.asarray(fractions, dtype=np.float64).reshape(-1)
    if p.size == 0 or np.any(p < 0) or not math.isclose(p.sum(), 1.0, abs_tol=1e-6):
        raise ValueError("fractions must be non-negative and sum to 1")
    nz = p[p > 0]
    return float(max(0.0, -np.sum(nz * np.log(nz))))  # max: one class gives -0.0 otherwise


def mean_confidence(probs) -> float:
    """Mean over images of the largest class probability; probs has shape (N, K)."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise ValueError(f"probs must have shape (N, K) with N >= 1; got {probs.shape}")
    return float(probs.max(axis=1).mean())


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of features (N, D), float64, covariance with ddof=1."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"features must have shape (N, D) with N >= 2; got {features.shape}")
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False, ddof=1))


def frechet_distance(mu1, cov1, mu2, cov2, eps: float = FRECHET_EPS) -> float:
    """Squared Fréchet distance ||mu1 - mu2||² + Tr(S1 + S2 - 2 (S1 S2)^{1/2}) between two Gaussians.

    Follows the reference FID implementation (pytorch-fid): sqrtm of S1 S2, retried with eps*I
    added to both covariances (inside the root only) when the root is not finite; the real part is
    kept (rounding leaves tiny imaginary parts); a result that rounding made slightly negative is 0.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    cov1, cov2 = np.atleast_2d(np.asarray(cov1, np.float64)), np.atleast_2d(np.asarray(cov2, np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or cov1.shape != (d, d) or cov2.shape != (d, d):
        raise ValueError(f"shapes do not match: mu {mu1.shape}, {mu2.shape}; cov {cov1.shape}, {cov2.shape}")
    # Dead ReLU units make feature covariances singular; sqrtm then warns although its result is
    # fine, and the one case that is not (non-finite) is handled below, so the warning is noise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(cov1 @ cov2)
        if not np.all(np.isfinite(covmean)):
            offset = eps * np.eye(d)
            covmean = linalg.sqrtm((cov1 + offset) @ (cov2 + offset))
    diff = mu1 - mu2
    value = diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * np.trace(np.real(covmean))
    return float(max(value, 0.0))


def frechet_between(features1, features2) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N1, D) and (N2, D)."""
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))


def _as_images(images) -> torch.Tensor:
    """Validate images (see module docstring) and return them as a (N, 1, H, W) tensor, dtype kept."""
    x = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    if x.ndim == 3:
        x = x.unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    if x.ndim != 4 or x.shape[1] != 1 or x.shape[0] == 0:
        raise ValueError(f"images must have shape (N, 28, 28) or (N, 1, 28, 28) with N >= 1; got {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x
    if not x.is_floating_point():
        raise ValueError(f"images must be uint8 in [0, 255] or float in [0, 1]; got {x.dtype}")
    lo, hi = float(x.min()), float(x.max())
    if lo < -_RANGE_SLACK or hi > 1 + _RANGE_SLACK:
        raise ValueError(f"float images must lie in [0, 1]; got [{lo:.3g}, {hi:.3g}] "
                         "(tanh outputs in [-1, 1] need (x + 1) / 2 first)")
    return x


def _device_of(module: torch.nn.Module) -> torch.device:
    for tensor in [*module.parameters(), *module.buffers()]:
        return tensor.device
    return torch.device("cpu")


def classify(classifier: torch.nn.Module, images, batch_size: int = 500,
             device: str | torch.device | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Penultimate features (N, D) and softmax probabilities (N, K) of ``images``, float64 numpy.

    Runs ``classifier.features(x)`` and ``classifier(x)`` under ``torch.no_grad`` in batches of
    ``batch_size``, on ``device`` (default: where the classifier's weights are). Images are
    converted per batch, so a large uint8 array is never held as float32 all at once.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    x_all = _as_images(images)
    device = torch.device(device) if device is not None else _device_of(classifier)
    features, probs = [], []
    with torch.no_grad():
        for start in range(0, x_all.shape[0], batch_size):
            x = x_all[start:start + batch_size].to(device)
            # Out of place: for float32 input on the same device, x is a view of the caller's array.
            x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float().clamp(0.0, 1.0)  # (B, 1, 28, 28)
            features.append(classifier.features(x).double().cpu())  # (B, D)
            probs.append(torch.softmax(classifier(x).double(), dim=1).cpu())  # (B, K)
    return torch.cat(features).numpy(), torch.cat(probs).numpy()


def classifier_features(classifier: torch.nn.Module, images, batch_size: int = 500,
                        device: str | torch.device | None = None) -> np.ndarray:
    """Penultimate-layer features (N, D) of ``images``; see :func:`classify`."""
    return classify(classifier, images, batch_size, device)[0]


@dataclass(frozen=True)
class SampleReport:
    """How a classifier judges ``n`` generated images against ``n_reference`` real ones."""

    n: int
    n_reference: int
    fractions: np.ndarray  # (K,) share of samples predicted as each class, sums to 1
    entropy: float  # class_entropy(fractions), nats; log(K) = even coverage, 0 = mode collapse
    mean_confidence: float  # mean max softmax probability, in [1/K, 1]
    frechet: float  # squared Fréchet distance of classifier features, samples vs reference

    def as_dict(self) -> dict:
        """Plain Python numbers (JSON-ready, e.g. for a model card's metrics)."""
        return {"n": self.n, "n_reference": self.n_reference, "fractions": [float(f) for f in self.fractions],
                "entropy": self.entropy, "mean_confidence": self.mean_confidence, "frechet": self.frechet}


def evaluate_samples(classifier: torch.nn.Module, samples, reference_images, *, batch_size: int = 500,
                     device: str | torch.device | None = None) -> SampleReport:
    """Class coverage, confidence and Fréchet distance of ``samples`` vs ``reference_images``.

    ``reference_images`` should be held-out real digits (8000-9999 of the test split for the
    shipped models), never the generator's training images.
    """
    features, probs = classify(classifier, samples, batch_size, device)
    ref_features, _ = classify(classifier, reference_images, batch_size, device)
    fractions = class_histogram(probs.argmax(axis=1), num_classes=probs.shape[1])
    return SampleReport(
        n=int(features.shape[0]),
        n_reference=int(ref_features.shape[0]),
        fractions=fractions,
        entropy=class_entropy(fractions),
        mean_confidence=mean_confidence(probs),
        frechet=frechet_between(features, ref_features),
    )


def frechet_floor(classifier: torch.nn.Module, images, seed: int = 0, *, batch_size: int = 500,
                  device: str | torch.device | None = None) -> float:
    """Fréchet distance between two random halves (floor(N/2) images each) of the same real ``images``.

    The noise floor: a perfect generator scored with n = N/2 samples against N/2 real images
    would land around this value, so it is the zero point to read other scores against.
    """
    features = classifier_features(classifier, images, batch_size, device)
    half = features.shape[0] // 2
    if half < 2:
        raise ValueError(f"frechet_floor needs at least 4 images; got {features.shape[0]}")
    order = np.random.default_rng(seed).permutation(features.shape[0])
    return frechet_between(features[order[:half]], features[order[half:2 * half]])
