"""engine.diffusion.mnist: the U-Net noise predictor, the samplers' contracts, training, checkpoints and the CLI.

Most tests use a small model (T = 20, channels 8/16/16) whose last convolution is given seeded
random weights, so that eps_theta really depends on x_t and t (the real init makes it 0). Tests
that need real digits use ``MNIST_DIR`` (CI points it at ../shared/data/mnist) and are skipped
with the reason otherwise.
"""

import json
import math
import os
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from engine import checkpoints
from engine import diffusion as dm
from engine.diffusion.mnist import (
    CLIP,
    MNISTDiffusion,
    build_ddpm,
    evaluate,
    fit,
    sample_with,
    sampler_names,
    to_network,
    to_unit,
)
from engine.diffusion.unet import DDPMConfig, UNet

ROOT = Path(__file__).resolve().parents[2]
MNIST_DIR = os.environ.get("MNIST_DIR")
needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR and Path(MNIST_DIR, "t10k-images-idx3-ubyte.gz").exists()),
    reason="set MNIST_DIR to a folder with the MNIST test split (CI uses ../shared/data/mnist)",
)




SMALL = DDPMConfig(steps=20, channels=(8, 16, 16), embedding=16, batch_size=16, warmup=5, train_steps=30)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_model(config: DDPMConfig = SMALL, seed: int = 1) -> MNISTDiffusion:
    """A small model whose output convolution is random (seeded), so eps depends on the input."""
    model = MNISTDiffusion(config).eval()
    last = model.unet.out[-1]
    with torch.no_grad():
        last.weight.copy_(0.1 * torch.randn(last.weight.shape, generator=gen(seed)))
        last.bias.copy_(0.1 * torch.randn(last.bias.shape, generator=gen(seed + 1)))
    return model


def digits(n: int, seed: int = 0) -> torch.Tensor:
    """Random images (n, 1, 28, 28) in [0, 1] on the uint8 grid, like real digits."""
    return torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=gen(seed)).float() / 255.0


def test_unet_maps_images_and_steps_to_noise_of_the_same_shape():
    unet = UNet(SMALL)
    x, t = torch.randn(3, 1, 28, 28), torch.tensor([1, 10, 20])
    assert unet(x, t).shape == (3, 1, 28, 28)
    model = random_model()
    eps = model.eps(x, t)
    assert eps.shape == (3, 1, 28, 28) and torch.isfinite(eps).all()
    torch.testing.assert_close(model.eps(x[1:2], t[1:2]), eps[1:2], atol=1e-5, rtol=1e-4)  # no mixing across the batch
    # the step matters: the same image at another t gives another prediction
    assert not torch.allclose(model.eps(x[:1], torch.tensor([2])), model.eps(x[:1], torch.tensor([19])))


def test_untrained_model_predicts_zero_noise_and_x0_hat_is_the_rescaled_input():
    model = MNISTDiffusion(SMALL).eval()
    x, t = torch.randn(4, 1, 28, 28, generator=gen(0)), torch.tensor([1, 5, 12, 20])
    assert torch.equal(model.eps(x, t), torch.zeros_like(x))  # the zero-initialised last convolution
    step = model.reverse_step(x, 7, seed=0)
    expected = (x / math.sqrt(model.schedule.alpha_bar[7])).clamp(*CLIP)
    torch.testing.assert_close(step.x0_hat, expected)


def test_same_seed_same_digits_other_seed_other_digits_and_range():
    model = random_model()
    a = model.sample_ddim(3, steps=5, eta=0.0, seed=3)
    assert a.shape == (3, 1, 28, 28) and a.min() >= 0.0 and a.max() <= 1.0
    assert torch.equal(a, model.sample_ddim(3, steps=5, eta=0.0, seed=3))  # eta = 0: a function of the seed's x_T
    assert not torch.equal(a, model.sample_ddim(3, steps=5, eta=0.0, seed=4))
    assert not torch.equal(a, model.sample_ddim(3, steps=5, eta=1.0, seed=3))  # eta > 0 injects noise
    b, frames = model.sample_ddpm(2, seed=5, keep=lambda t: t in (0, 10, SMALL.steps))
    again, _ = model.sample_ddpm(2, seed=5)
    assert torch.equal(b, again) and not torch.equal(b, model.sample_ddpm(2, seed=6)[0])
    assert sorted(frames) == [0, 10, SMALL.steps] and b.min() >= 0.0 and b.max() <= 1.0
    assert torch.equal(frames[0][0], b) and torch.equal(frames[0][1], b)
    for x_t, x0_hat in frames.values():
        assert x_t.shape == x0_hat.shape == (2, 1, 28, 28) and 0.0 <= x_t.min() and x0_hat.max() <= 1.0


def test_ddim_with_eta_zero_equals_the_deterministic_update_computed_by_hand():
    """Two DDIM steps (T=20 -> 10 -> 0) recomputed from Song et al. eq. 12 with the model's own eps."""
    model = random_model()
    generator = gen(8)
    x = torch.randn((2, 1, 28, 28), generator=generator)
    abar = model.schedule.alpha_bar
    for t, t_prev in ((20, 10), (10, 0)):
        eps = model.eps(x, torch.full((2,), t))
        x0 = ((x - math.sqrt(1 - abar[t]) * eps) / math.sqrt(abar[t])).clamp(*CLIP)
        eps = (x - math.sqrt(abar[t]) * x0) / math.sqrt(1 - abar[t])  # consistent with the clipped x0
        x = math.sqrt(abar[t_prev]) * x0 + math.sqrt(1 - abar[t_prev]) * eps
    torch.testing.assert_close(model.sample_ddim(2, steps=2, eta=0.0, seed=8), to_unit(x), atol=1e-5, rtol=0)


def test_reverse_step_terms_satisfy_the_ddpm_update():
    model = random_model()
    x_t = torch.randn(2, 1, 28, 28, generator=gen(2)) * 1.5
    s = model.schedule
    for t in (13, 1):
        step = model.reverse_step(x_t, t, seed=4)
        assert step.t == t and torch.equal(step.x_t, x_t)
        torch.testing.assert_close(step.eps, model.eps(x_t, torch.full((2,), t)))
        x0 = ((x_t - math.sqrt(1 - s.alpha_bar[t]) * step.eps) / math.sqrt(s.alpha_bar[t])).clamp(-1, 1)
        torch.testing.assert_close(step.x0_hat, x0)
        # mu_tilde from Ho et al. eq. 7, coefficients recomputed here from the betas
        beta, abar, abar_prev = s.betas[t], s.alpha_bar[t], s.alpha_bar[t - 1]
        coef_x0, coef_xt = math.sqrt(abar_prev) * beta / (1 - abar), math.sqrt(1 - beta) * (1 - abar_prev) / (1 - abar)
        mean = coef_x0 * x0 + coef_xt * x_t
        torch.testing.assert_close(step.mean, mean, atol=1e-6, rtol=1e-5)
        expected_sigma = 0.0 if t == 1 else math.sqrt((1 - abar_prev) / (1 - abar) * beta)
        assert step.sigma == pytest.approx(expected_sigma, rel=1e-12)
        torch.testing.assert_close(step.x_prev, step.mean + step.sigma * step.z)
    assert torch.equal(model.reverse_step(x_t, 13, seed=4).z, model.reverse_step(x_t, 13, seed=4).z)
    assert not torch.equal(model.reverse_step(x_t, 13, seed=4).z, model.reverse_step(x_t, 13, seed=5).z)


def test_inpaint_keeps_the_known_pixels_and_regenerates_the_rest():
    model = random_model()
    images = digits(3, seed=1)
    known = torch.ones(1, 1, 28, 28)
    known[..., 14:, :] = 0.0  # regenerate the bottom half of every image
    out = model.inpaint(images, known, seed=0, resample=2)
    assert out.shape == images.shape and out.min() >= 0.0 and out.max() <= 1.0
    kept = known.expand_as(images).bool()
    assert torch.equal(out[kept], images[kept])  # the very same bits, not a [-1, 1] round trip
    assert (out[~kept] - images[~kept]).abs().mean() > 0.05  # the masked half is new, not a copy
    assert torch.equal(out, model.inpaint(images, known, seed=0, resample=2))
    assert not torch.equal(out, model.inpaint(images, known, seed=1, resample=2))
    with pytest.raises(ValueError, match="resample"):
        model.inpaint(images, known, resample=0)


def test_pixel_conversions():
    images = torch.tensor([[[0, 255], [51, 204]]], dtype=torch.uint8).repeat(2, 14, 14)  # (2, 28, 28)
    x = to_network(images)
    assert x.shape == (2, 1, 28, 28) and x.min() == -1.0 and x.max() == 1.0
    torch.testing.assert_close(to_network(images.float().reshape(2, 1, 28, 28) / 255.0), x)
    torch.testing.assert_close(to_unit(x), images.float().reshape(2, 1, 28, 28) / 255.0)
    assert to_unit(torch.tensor([-3.0, 3.0])).tolist() == [0.0, 1.0]  # clamped


def square_data(n: int = 64) -> SimpleNamespace:
    """'Digits' that are a bright square on black: learnable in a few dozen steps."""
    images = torch.zeros(n, 28, 28, dtype=torch.uint8)
    images[:, 8:20, 8:20] = 255
    return SimpleNamespace(train_images=images)


def test_fit_lowers_the_loss_and_returns_an_ema_that_lags_the_raw_weights():
    model = MNISTDiffusion(SMALL)
    start = [p.detach().clone() for p in model.parameters()]
    logged = []
    ema, summary = fit(model, square_data(), SMALL, log=logged.append, log_every=10)
    assert summary["steps"] == 30 and summary["stopped"] is None
    assert summary["epochs"] == pytest.approx(30 * 16 / 64)
    assert [s for s, _ in summary["loss_curve"]] == [10, 20, 30] and [m["step"] for m in logged] == [10, 20, 30]
    # with eps = 0 at the start the loss is E[eps^2] = 1; learning must bring it well below
    first, last = summary["loss_curve"][0][1], summary["loss_curve"][-1][1]
    assert first > 0.8 and last < 0.75 * first
    assert not ema.training and not any(p.requires_grad for p in ema.parameters())
    raw, averaged = list(model.parameters()), list(ema.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(raw, averaged))  # the EMA is not the raw model
    assert any(not torch.equal(a, b) for a, b in zip(start, averaged))  # ... and it did move
    # the raw model's output layer left zero: it learned to predict noise
    assert model.unet.out[-1].weight.abs().sum() > 0


def test_fit_stops_at_a_non_finite_loss():
    data = SimpleNamespace(train_images=torch.full((8, 1, 28, 28), float("nan")))
    _, summary = fit(MNISTDiffusion(SMALL), data, SMALL, max_steps=5)
    assert summary["steps"] == 1 and summary["stopped"]["step"] == 1 and math.isnan(summary["stopped"]["loss"])


def test_sample_with_and_evaluate_on_stand_ins():
    from engine.mnist.classifier import ClassifierConfig, DigitClassifier

    model = random_model()
    assert sampler_names() == ["ddpm", "ddim10", "ddim20", "ddim50", "ddim100"]
    out = sample_with(model, "ddim4", 5, seed=0, batch_size=2)
    assert out.shape == (5, 1, 28, 28)
    torch.testing.assert_close(out[:2], model.sample_ddim(2, 4, 0.0, seed=0))  # batch i uses seed + i
    with pytest.raises(ValueError, match="unknown sampler"):
        sample_with(model, "euler", 2, seed=0)
    classifier = DigitClassifier(ClassifierConfig(channels=(4, 8), hidden=16)).eval()
    data = SimpleNamespace(heldout_images=(digits(24, seed=3)[:, 0] * 255).to(torch.uint8))
    metrics, details = evaluate(model, data, classifier, n_samples=12, samplers=["ddpm", "ddim5"])
    assert set(metrics) == {"frechet_floor_same_size", "ddpm_frechet", "ddpm_class_entropy"}
    assert set(details["samplers"]) == {"ddpm", "ddim5"}
    for row in details["samplers"].values():
        assert row["frechet"] >= 0 and 0 <= row["class_entropy"] <= math.log(10) + 1e-9
        assert sum(row["fractions"]) == pytest.approx(1.0) and 1 <= row["classes_covered"] <= 10
    with pytest.raises(ValueError, match="held-out"):
        evaluate(model, data, classifier, n_samples=13)


def test_config_validation_and_bad_arguments():
    with pytest.raises(ValueError, match="channels"):
        DDPMConfig(channels=(8, 16))
    with pytest.raises(ValueError, match="channels"):
        DDPMConfig(channels=(12, 16, 16))  # not multiples of 8 groups
    with pytest.raises(ValueError, match="channels"):
        DDPMConfig(channels=(4, 8, 8), groups=8)
    assert DDPMConfig(channels=[8, 16, 24]).channels == (8, 16, 24)  # a JSON list becomes a tuple (hashable)
    with pytest.raises(ValueError):
        MNISTDiffusion(replace(SMALL, schedule="quadratic"))
    model = random_model()
    with pytest.raises(ValueError, match="t must lie"):
        model.reverse_step(torch.zeros(1, 1, 28, 28), SMALL.steps + 1)
    with pytest.raises(ValueError, match="DDIM"):
        model.sample_ddim(1, steps=SMALL.steps + 1)
    with pytest.raises(ValueError, match="eta"):
        model.sample_ddim(1, steps=2, eta=-0.5)
    with pytest.raises(ValueError, match="embedding"):
        DDPMConfig(embedding=15)  # the sinusoid needs pairs
    with pytest.raises(ValueError, match="groups"):
        DDPMConfig(groups=0)


def test_checkpoint_round_trip(tmp_path):
    model = random_model()
    checkpoints.save_checkpoint(model, tmp_path / "ddpm", {"name": "ddpm", "config": asdict(SMALL)})
    card = checkpoints.read_card(tmp_path / "ddpm")
    loaded = build_ddpm(json.loads(json.dumps(card["config"])))
    checkpoints.load_checkpoint(tmp_path / "ddpm", loaded)
    assert loaded.config == SMALL
    x, t = torch.randn(2, 1, 28, 28, generator=gen(0)), torch.tensor([3, 17])
    torch.testing.assert_close(loaded.eval().eps(x, t), model.eps(x, t), atol=0, rtol=0)
    wrong = build_ddpm({**asdict(SMALL), "channels": [8, 16, 24]})
    with pytest.raises(checkpoints.CheckpointError):
        checkpoints.load_checkpoint(tmp_path / "ddpm", wrong)


def test_shipped_checkpoint_loads_frozen_and_samples():
    model, card = checkpoints.load_pretrained("ddpm", device="cpu")
    assert card["name"] == "ddpm" and card["rebuild"] == "python -m engine.train ddpm"
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert isinstance(model.schedule, dm.Schedule) and model.schedule.T == card["config"]["steps"]
    images = model.sample_ddim(2, steps=4, seed=0)
    assert images.shape == (2, 1, 28, 28) and np.isfinite(images.numpy()).all()


@needs_mnist
def test_cli_smoke_run_writes_a_checkpoint_and_a_card(tmp_path):
    result = subprocess.run([sys.executable, "-m", "engine.train", "ddpm", "--max-steps", "2", "--out", str(tmp_path),
                             "--device", "cpu", "--data-dir", MNIST_DIR],
                            cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "GENMODELS_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    card = checkpoints.read_card(tmp_path / "ddpm")
    assert card["training"]["steps"] == 2 and card["training"]["max_steps"] == 2
    assert len(card["training"]["loss_curve"]) == 1 and card["training"]["loss_curve"][0][0] == 2
    assert set(card["evaluation"]["samplers"]) == {"ddim10"} and card["metrics"]["frechet_floor_same_size"] > 0
    model = build_ddpm(card["config"])
    checkpoints.load_checkpoint(tmp_path / "ddpm", model)
    assert model.config == DDPMConfig()


@needs_mnist
def test_shipped_ddpm_card_is_reproduced_from_the_weights():
    """The card's cheapest row (DDIM, 10 steps) and its floor, recomputed from the shipped weights with
    the card's seed and sample size; and the shipped model is a real digit generator.

    Tolerances: Fréchet distances 0.5% (thread count and BLAS change the last digits of the U-Net's
    outputs, ten steps compound them); class entropy 0.02 nats (a digit on a decision boundary may
    flip its label). The floor is exact arithmetic on the same held-out digits.
    """
    from engine.data.mnist import training_data
    from engine.diffusion.mnist import evaluate

    model, card = checkpoints.load_pretrained("ddpm", device="cpu")
    classifier, _ = checkpoints.load_pretrained("classifier", device="cpu")
    data = training_data(MNIST_DIR)
    assert card["data"]["n_train"] == 8000 and card["data"]["description"] == data.description
    assert card["training"]["steps"] == card["config"]["train_steps"]  # a full run, not a smoke test
    metrics, details = evaluate(model, data, classifier, seed=card["seed"], n_samples=card["evaluation"]["n_samples"],
                                samplers=["ddim10"])
    row, shipped = details["samplers"]["ddim10"], card["evaluation"]["samplers"]["ddim10"]
    assert metrics["frechet_floor_same_size"] == pytest.approx(card["metrics"]["frechet_floor_same_size"], rel=1e-3)
    assert row["frechet"] == pytest.approx(shipped["frechet"], rel=5e-3)
    assert row["class_entropy"] == pytest.approx(shipped["class_entropy"], abs=0.02)
    # what the card claims, checked against independent yardsticks rather than against itself:
    # every class appears, and DDPM-1000 / DDIM-50 are far closer to real digits than noise is
    assert all(card["evaluation"]["samplers"][name]["classes_covered"] == 10 for name in ("ddpm", "ddim50"))
    noise = metrics_of_noise(classifier, data, n=card["evaluation"]["n_samples"], seed=card["seed"])
    assert card["metrics"]["ddpm_frechet"] < noise / 10 and card["metrics"]["ddim50_frechet"] < noise / 10


def metrics_of_noise(classifier, data, n: int, seed: int) -> float:
    """Fréchet distance of uniform-noise images to the card's reference digits: a generator's worst case."""
    from engine.mnist import metrics

    held = data.heldout_images
    order = np.random.default_rng(seed).permutation(len(held))
    ref, _ = metrics.classify(classifier, held[order[:n]])
    noise = torch.rand((n, 1, 28, 28), generator=torch.Generator().manual_seed(seed))
    features, _ = metrics.classify(classifier, noise)
    return metrics.frechet_between(features, ref)
