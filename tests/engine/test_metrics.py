"""engine.mnist.metrics against closed forms, an independent eigenvalue formula, and a transparent fake classifier.

Tolerances
----------
* Fréchet distance with well-conditioned covariances: 1e-8 absolute (values are O(1-10)). For
  diagonal or commuting covariances the closed form is ||mu1 - mu2||² + sum (sqrt a - sqrt b)²;
  sqrtm of such products is exact to rounding (~1e-14), so 1e-8 leaves 10^6 headroom while still
  catching a missing factor or a dropped term.
* Sample-based Fréchet distance: its error is dominated by the noise of the mean difference,
  std = 2 sqrt(d' (S1 + S2) d / n) = 0.0122 at n = 1e5 for the Gaussians below; the RMS error
  over 20 seeds must be below 0.04 (about 3x that) and shrink as n grows tenfold.
* Classifier features: 1e-6 absolute where only float32 rounding differs (batching, uint8 vs
  float input); features are band means in [0, 1].
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy import linalg
from scipy.stats import special_ortho_group
from torch import nn

from engine.mnist import metrics
from engine.mnist.metrics import (
    SampleReport,
    class_entropy,
    class_histogram,
    classifier_features,
    classify,
    evaluate_samples,
    feature_statistics,
    frechet_between,
    frechet_distance,
    frechet_floor,
    mean_confidence,
)

ABS = 1e-8


def closed_form(mu1, a, mu2, b):
    """Squared Fréchet distance of N(mu1, Q diag(a) Q') and N(mu2, Q diag(b) Q') (commuting covariances)."""
    return float(np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))


def eig_reference(mu1, s1, mu2, s2):
    """Independent formula: Tr (S1 S2)^{1/2} = sum sqrt(eig(S1^{1/2} S2 S1^{1/2})), via symmetric eigh."""
    w, v = np.linalg.eigh(s1)
    root = v @ np.diag(np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root @ s2 @ root)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(np.clip(inner, 0, None))))


# --- Fréchet distance -------------------------------------------------------------------------

def test_diagonal_covariances_match_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    a, b = rng.uniform(0.1, 3.0, 6), rng.uniform(0.1, 3.0, 6)
    got = frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(closed_form(mu1, a, mu2, b), abs=ABS)


def test_commuting_covariances_match_closed_form():
    rng = np.random.default_rng(1)
    q = special_ortho_group.rvs(5, random_state=1)
    a, b = rng.uniform(0.2, 2.0, 5), rng.uniform(0.2, 2.0, 5)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    got = frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(closed_form(mu1, a, mu2, b), abs=ABS)


def test_general_covariances_match_eigenvalue_formula_and_are_symmetric():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(12, 4)), rng.normal(size=(12, 4))
    s1, s2 = x.T @ x / 12 + 0.1 * np.eye(4), y.T @ y / 12 + 0.1 * np.eye(4)
    mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
    forward = frechet_distance(mu1, s1, mu2, s2)
    assert forward == pytest.approx(eig_reference(mu1, s1, mu2, s2), abs=ABS)
    assert forward == pytest.approx(frechet_distance(mu2, s2, mu1, s1), abs=ABS)


def test_identical_statistics_give_zero_and_one_dimension_works():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 4))
    mu, cov = feature_statistics(x)
    assert 0.0 <= frechet_distance(mu, cov, mu, cov) < ABS
    assert frechet_distance(0.0, 1.0, 1.0, 4.0) == pytest.approx(1.0 + (1.0 - 2.0) ** 2, abs=ABS)


def test_singular_covariances_are_finite_and_quiet():
    # Disjoint supports: S1 S2 = 0 exactly, so Tr (S1 S2)^{1/2} = 0 and d² = Tr S1 + Tr S2 = 2.
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sqrtm's LinAlgWarning on singular input must not reach users
        got = frechet_distance(np.zeros(3), np.diag([1.0, 0, 0]), np.zeros(3), np.diag([0, 1.0, 0]))
    assert got == pytest.approx(2.0, abs=ABS)


def test_non_finite_root_retries_with_ridge(monkeypatch):
    calls = []
    real_sqrtm = linalg.sqrtm

    def flaky_sqrtm(a):
        calls.append(a.copy())
        return np.full_like(a, np.nan) if len(calls) == 1 else real_sqrtm(a)

    monkeypatch.setattr(metrics.linalg, "sqrtm", flaky_sqrtm)
    a, b = np.array([1.0, 2.0]), np.array([3.0, 0.5])
    got = frechet_distance(np.zeros(2), np.diag(a), np.ones(2), np.diag(b), eps=1e-6)
    assert len(calls) == 2
    assert np.allclose(calls[1], np.diag((a + 1e-6) * (b + 1e-6)), rtol=0, atol=1e-15)
    assert got == pytest.approx(closed_form(np.zeros(2), a, np.ones(2), b), abs=1e-5)  # the ridge moves it ~1e-6


def test_from_samples_approaches_closed_form():
    mu1, mu2 = np.zeros(3), np.array([1.0, 0.5, 0.0])
    a, b = np.array([1.0, 2.0, 0.5]), np.array([2.0, 1.0, 0.5])
    exact = closed_form(mu1, a, mu2, b)
    rms = []
    for n in (100, 1_000, 10_000, 100_000):
        errors = []
        for seed in range(20):
            rng = np.random.default_rng(seed)
            x = mu1 + rng.normal(size=(n, 3)) * np.sqrt(a)
            y = mu2 + rng.normal(size=(n, 3)) * np.sqrt(b)
            errors.append(frechet_between(x, y) - exact)
        rms.append(math.sqrt(np.mean(np.square(errors))))
    assert all(later < earlier for earlier, later in zip(rms, rms[1:])), rms
    assert rms[-1] < 0.04, rms


def test_feature_statistics_conventions():
    x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 4.0]], dtype=np.float32)
    mu, cov = feature_statistics(x)
    assert mu.dtype == cov.dtype == np.float64
    np.testing.assert_allclose(mu, [3.0, 4.0])
    np.testing.assert_allclose(cov, np.cov(x.T.astype(np.float64), ddof=1))  # ddof=1: divides by n - 1 = 2
    assert cov[0, 0] == pytest.approx(4.0)
    with pytest.raises(ValueError):
        feature_statistics(x[:1])


# --- class coverage and confidence ------------------------------------------------------------

def test_class_histogram():
    fractions = class_histogram([0, 1, 1, 9, 9, 9])
    assert fractions.shape == (10,) and fractions.sum() == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(fractions[[0, 1, 9]], [1 / 6, 2 / 6, 3 / 6])
    assert class_histogram(np.array([2, 2]), num_classes=3).tolist() == [0.0, 0.0, 1.0]
    for bad in ([], [10], [-1], [0.5]):
        with pytest.raises(ValueError):
            class_histogram(bad)


def test_class_entropy():
    assert class_entropy(np.full(10, 0.1)) == pytest.approx(math.log(10), abs=1e-12)
    assert class_entropy(np.eye(10)[3]) == 0.0
    assert class_entropy([0.5, 0.5, 0.0]) == pytest.approx(math.log(2), abs=1e-12)
    with pytest.raises(ValueError):
        class_entropy([0.5, 0.4])


def test_mean_confidence():
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.2, 0.6], [1 / 3, 1 / 3, 1 / 3]])
    assert mean_confidence(probs) == pytest.approx((0.9 + 0.6 + 1 / 3) / 3, abs=1e-15)
    with pytest.raises(ValueError):
        mean_confidence(np.array([0.5, 0.5]))


# --- with a classifier ------------------------------------------------------------------------

class BandClassifier(nn.Module):
    """A transparent stand-in: feature k is the mean brightness of rows 2k, 2k+1; it predicts the brightest band."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(20.0))  # sharpens the softmax; a parameter so a device exists

    def features(self, x):  # (B, 1, 28, 28) -> (B, 10)
        return x[:, 0, :20, :].reshape(-1, 10, 2 * 28).mean(dim=2)

    def forward(self, x):  # (B, 10) logits
        return self.scale * self.features(x)


def band_digits(labels, seed=0) -> np.ndarray:
    """uint8 (N, 28, 28): noise everywhere plus a bright band at rows 2k, 2k+1 for label k."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    images = rng.integers(0, 60, size=(len(labels), 28, 28))
    for k in range(10):
        images[labels == k, 2 * k:2 * k + 2, :] += 180
    return images.astype(np.uint8)


@pytest.fixture
def classifier():
    return BandClassifier().eval()


def test_classify_shapes_and_input_conventions(classifier):
    labels = np.arange(40) % 10
    images = band_digits(labels)
    features, probs = classify(classifier, images)
    assert features.shape == (40, 10) and probs.shape == (40, 10)
    assert features.dtype == probs.dtype == np.float64
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    assert (probs.argmax(axis=1) == labels).all()

    as_float = torch.from_numpy(images).float().div(255).unsqueeze(1)  # (N, 1, 28, 28) in [0, 1]
    np.testing.assert_allclose(classifier_features(classifier, as_float), features, atol=1e-6)
    np.testing.assert_allclose(classifier_features(classifier, torch.from_numpy(images)), features, atol=1e-6)
    np.testing.assert_allclose(classifier_features(classifier, images, batch_size=7), features, atol=1e-6)
    before = as_float.clone()
    classify(classifier, as_float)
    assert torch.equal(as_float, before)  # the caller's images are not modified in place


def test_classify_rejects_bad_images(classifier):
    with pytest.raises(ValueError, match=r"\(x \+ 1\) / 2"):
        classify(classifier, np.full((2, 1, 28, 28), -1.0, dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        classify(classifier, np.zeros((2, 784), dtype=np.uint8))
    with pytest.raises(ValueError):
        classify(classifier, np.zeros((2, 28, 28), dtype=np.int64))


def test_classify_leaves_mode_alone():
    model = BandClassifier().train()
    classify(model, band_digits([1, 2]))
    assert model.training  # shared models are never switched by a metric


def test_evaluate_samples_is_consistent(classifier):
    sample_labels = np.repeat([0, 1, 2, 3], [10, 20, 30, 40])
    samples = band_digits(sample_labels, seed=1)
    reference = band_digits(np.arange(600) % 10, seed=2)
    report = evaluate_samples(classifier, samples, reference, batch_size=64)
    assert isinstance(report, SampleReport)
    assert (report.n, report.n_reference) == (100, 600)
    np.testing.assert_allclose(report.fractions, class_histogram(sample_labels), atol=0)
    assert report.entropy == pytest.approx(class_entropy(report.fractions), abs=1e-15)
    _, probs = classify(classifier, samples)
    assert report.mean_confidence == pytest.approx(mean_confidence(probs), abs=1e-12)
    assert 0.1 <= report.mean_confidence <= 1.0
    assert report.frechet == pytest.approx(frechet_between(classifier_features(classifier, samples),
                                                           classifier_features(classifier, reference)), abs=1e-12)
    assert report.as_dict()["fractions"][3] == pytest.approx(0.4)

    collapsed = evaluate_samples(classifier, band_digits(np.full(100, 7), seed=3), reference)
    assert collapsed.entropy == 0.0 and collapsed.fractions[7] == 1.0

    same = evaluate_samples(classifier, reference, reference)
    assert 0.0 <= same.frechet < ABS


def test_frechet_floor(classifier):
    reference = band_digits(np.arange(1000) % 10, seed=4)
    floor = frechet_floor(classifier, reference, seed=0)
    assert floor >= 0.0
    assert floor == frechet_floor(classifier, reference, seed=0)  # deterministic for a seed
    assert floor != frechet_floor(classifier, reference, seed=1)
    collapsed = evaluate_samples(classifier, band_digits(np.full(500, 7), seed=5), reference[:500]).frechet
    assert floor < 0.05 * collapsed  # far below what mode collapse scores at the same sample size
    with pytest.raises(ValueError):
        frechet_floor(classifier, reference[:3])
