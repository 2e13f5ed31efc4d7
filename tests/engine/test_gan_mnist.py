"""engine.gan.mnist: the DCGAN's verbs, its training steps and film, and the shipped checkpoint.

Tests that need real digits use ``MNIST_DIR`` (CI points it at ../shared/data/mnist) and are
skipped with the reason otherwise. The rest run on small random stand-ins for MNIST.
"""

import math
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from engine import checkpoints
from engine.checkpoints import CheckpointError
from engine.gan import discriminator_loss
from engine.gan.dcgan import DCGAN, DCGANConfig, interpolate_latents
from engine.gan.mnist import (
    build_dcgan,
    discriminator_step,
    fit,
    load_film,
    snapshot_steps,
    to_uint8,
    train_step,
)
from engine.mnist.classifier import ClassifierConfig, DigitClassifier

ROOT = Path(__file__).resolve().parents[2]
MNIST_DIR = os.environ.get("MNIST_DIR")
needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR and Path(MNIST_DIR, "t10k-images-idx3-ubyte.gz").exists()),
    reason="set MNIST_DIR to a folder with the MNIST test split (CI uses ../shared/data/mnist)",
)
SMALL = DCGANConfig(latent_dim=8, g_channels=8, d_channels=8, snapshots=3)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def fake_data(n_train: int = 96, n_held: int = 40) -> SimpleNamespace:
    """Random uint8 'digits' with the attributes fit() reads from engine.data.mnist.TrainingData."""
    images = torch.randint(0, 256, (n_train + n_held, 28, 28), dtype=torch.uint8, generator=gen(5))
    return SimpleNamespace(train_images=images[:n_train], heldout_images=images[n_train:])


def test_shapes_ranges_and_card_config_round_trip():
    model = DCGAN(SMALL).eval()
    x = model.sample(5, gen(0))
    assert x.shape == (5, 1, 28, 28) and 0.0 <= x.min() and x.max() <= 1.0
    assert model.discriminate(x).shape == (5,) and model.discriminate(x[:, 0]).shape == (5,)  # (N, 28, 28) too
    assert model.latent(3, gen(0)).shape == (3, SMALL.latent_dim)
    assert to_uint8(x).shape == (5, 28, 28) and to_uint8(x).dtype == torch.uint8
    rebuilt = build_dcgan({k: v for k, v in SMALL.__dict__.items()}).eval()  # as a card stores it
    rebuilt.load_state_dict(model.state_dict())
    assert torch.equal(rebuilt.sample(5, gen(0)), x)
    with pytest.raises(ValueError):
        DCGANConfig(snapshots=1)


def test_init_and_sample_are_deterministic_and_leave_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b = DCGAN(SMALL).eval(), DCGAN(SMALL).eval()
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert torch.equal(a.sample(16, gen(3)), a.sample(16, gen(3)))
    assert not torch.equal(a.sample(16, gen(3)), a.sample(16, gen(4)))
    # eval mode: each image depends on its own z only, not on the rest of the batch (BatchNorm running stats)
    assert torch.allclose(a.sample(16, gen(3))[:4], a.sample(4, gen(3)), atol=1e-6)


def test_interpolation_closed_forms():
    z0, z1 = torch.tensor([3.0, 0.0, 0.0]), torch.tensor([0.0, 3.0, 0.0])
    slerp = interpolate_latents(z0, z1, 5, "slerp")
    torch.testing.assert_close(slerp[0], z0)
    torch.testing.assert_close(slerp[-1], z1)
    # equal norms, 90 degrees apart: slerp keeps the norm and its midpoint is at 45 degrees
    torch.testing.assert_close(slerp.norm(dim=1), torch.full((5,), 3.0))
    torch.testing.assert_close(slerp[2], torch.tensor([3 / math.sqrt(2), 3 / math.sqrt(2), 0.0]))
    line = interpolate_latents(z0, z1, 5, "linear")
    torch.testing.assert_close(line[2], (z0 + z1) / 2)
    torch.testing.assert_close(interpolate_latents(z0, 2 * z0, 3, "slerp")[1], 1.5 * z0)  # parallel ends: the line
    with pytest.raises(ValueError, match="unknown interpolation mode"):
        interpolate_latents(z0, z1, 5, "cubic")
    with pytest.raises(ValueError):
        interpolate_latents(z0, z1, 1)
    model = DCGAN(SMALL).eval()
    a, b = model.latent(1, gen(1))[0], model.latent(1, gen(2))[0]
    path = model.interpolate(a, b, 7)
    assert path.shape == (7, 1, 28, 28)
    torch.testing.assert_close(path[0], model.generate(a[None])[0])
    torch.testing.assert_close(path[-1], model.generate(b[None])[0])


def test_discriminator_steps_reduce_its_loss_on_a_fixed_batch():
    model = DCGAN(SMALL)
    real = to_real(fake_data().train_images[:32])
    with torch.no_grad():
        fake = model.generator(model.latent(32, gen(0)))
        before = discriminator_loss("non_saturating", model.discriminator(real), model.discriminator(fake)).item()
    optimizer = torch.optim.Adam(model.discriminator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    for _ in range(30):
        discriminator_step(model, optimizer, real, fake, "non_saturating")
    with torch.no_grad():
        after = discriminator_loss("non_saturating", model.discriminator(real), model.discriminator(fake)).item()
    assert before == pytest.approx(2 * math.log(2), abs=0.05)  # N(0, 0.02) weights: D(x) ~ 1/2 for everything
    assert after < 0.5 * before  # the two fixed sets are easy to tell apart


def to_real(images: torch.Tensor) -> torch.Tensor:
    return images.float().div(255).mul(2).sub(1).unsqueeze(1)  # (N, 1, 28, 28) in [-1, 1]


def test_train_step_updates_both_networks():
    model = DCGAN(SMALL)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    adam = {"lr": 2e-4, "betas": (0.5, 0.999)}
    opt_d = torch.optim.Adam(model.discriminator.parameters(), **adam)
    opt_g = torch.optim.Adam(model.generator.parameters(), **adam)
    loss_d, loss_g = train_step(model, opt_d, opt_g, to_real(fake_data().train_images[:16]),
                                model.latent(16, gen(0)), "non_saturating")
    assert math.isfinite(loss_d) and math.isfinite(loss_g)
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert any(k.startswith("generator.") for k in changed) and any(k.startswith("discriminator.") for k in changed)


def test_snapshot_steps():
    assert snapshot_steps(100, 5) == [0, 25, 50, 75, 100]
    assert snapshot_steps(3, 25) == [0, 1, 2, 3]  # fewer steps than frames: every step once
    assert snapshot_steps(3125, 25)[-1] == 3125 and len(snapshot_steps(3125, 25)) == 25


def small_classifier() -> DigitClassifier:
    torch.manual_seed(0)
    return DigitClassifier(ClassifierConfig(channels=(4, 8), hidden=16)).eval()


def test_fit_records_a_film_with_the_documented_shapes():
    model = DCGAN(SMALL)
    summary, film = fit(model, fake_data(), SMALL, small_classifier(), max_steps=4)
    assert summary["steps"] == 4 and summary["stopped"] is None and not model.training
    assert film["steps"].tolist() == [0, 2, 4]
    assert film["grid"].shape == (3, 64, 28, 28) and film["grid"].dtype == torch.uint8
    assert film["d_real"].shape == (3, 40) and film["d_train"].shape == (3, 96) and film["d_fake"].shape == (3, 40)
    assert torch.all((film["d_fake"] >= 0) & (film["d_fake"] <= 1))
    torch.testing.assert_close(film["class_fractions"].sum(1), torch.ones(3))
    assert film["train_loss_d"].shape == film["train_loss_g"].shape == (4,)
    # the last frame is the returned model: its grid is what the model makes of the film's noise
    assert torch.equal(film["grid"][-1], to_uint8(model.generate(film["grid_z"])))


def test_a_non_finite_loss_stops_training_and_says_where(monkeypatch):
    import engine.gan.losses

    real_loss = engine.gan.losses.generator_loss
    calls = []

    def loss_that_blows_up(kind, fake):  # finite for two training steps, then NaN (as an exploding run would be)
        calls.append(torch.is_grad_enabled())  # the film's frames evaluate it under no_grad: not a training step
        if not calls[-1]:
            return real_loss(kind, fake)
        value = real_loss(kind, fake)
        return value * float("nan") if sum(calls) >= 3 else value

    monkeypatch.setattr(engine.gan.losses, "generator_loss", loss_that_blows_up)
    summary, film = fit(DCGAN(SMALL), fake_data(), SMALL, small_classifier(), max_steps=10)
    assert summary["stopped"]["step"] == 3 and math.isnan(summary["stopped"]["loss_g"])
    assert summary["steps"] == 3 and len(film["train_loss_g"]) == 3


def test_film_file_round_trips_and_a_tampered_one_is_rejected(tmp_path):
    film = {"steps": torch.arange(3), "grid": torch.randint(0, 256, (3, 4, 28, 28), dtype=torch.uint8)}
    sha = checkpoints.save_tensors(tmp_path / "dcgan_film.safetensors", film)
    card = {"film": {"file": "dcgan_film.safetensors", "sha256": sha}, "rebuild": "python -m engine.train dcgan"}
    loaded = load_film(card, tmp_path)
    assert set(loaded) == set(film) and all(np.array_equal(loaded[k], film[k].numpy()) for k in film)
    raw = bytearray((tmp_path / "dcgan_film.safetensors").read_bytes())
    raw[-1] ^= 0xFF
    (tmp_path / "dcgan_film.safetensors").write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="does not match its model card.*python -m engine.train dcgan"):
        load_film(card, tmp_path)
    with pytest.raises(CheckpointError, match="names no training film"):
        load_film({"rebuild": "python -m engine.train dcgan"}, tmp_path)
    (tmp_path / "dcgan_film.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing"):
        load_film(card, tmp_path)


@needs_mnist
def test_cli_smoke_run_writes_a_checkpoint_a_card_and_a_film(tmp_path):
    result = subprocess.run([sys.executable, "-m", "engine.train", "dcgan", "--max-steps", "3", "--out", str(tmp_path),
                             "--device", "cpu"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    card = checkpoints.read_card(tmp_path / "dcgan")
    assert card["name"] == "dcgan" and card["training"]["steps"] == 3 and card["model"] == "DCGAN"
    assert card["rebuild"] == "python -m engine.train dcgan" and "8000-9999" in card["data"]["description"]
    assert {"samples_frechet", "samples_frechet_vs_half", "frechet_floor_same_size",
            "samples_class_entropy"} <= set(card["metrics"])
    model = build_dcgan(card["config"])
    checkpoints.load_checkpoint(tmp_path / "dcgan", model)
    film = load_film(card, tmp_path)
    assert film["steps"].tolist() == [0, 1, 2, 3] and card["film"]["frames"] == 4


@needs_mnist
def test_shipped_dcgan_card_is_reproduced_from_the_weights():
    """The card's numbers, recomputed from the shipped files (same seeds: only float rounding differs).

    Tolerances: Fréchet distances 0.1% (thread count and BLAS change the last digits of the
    features); class entropy 0.01 nats (a digit on a decision boundary may flip its label).
    """
    from engine.data.mnist import training_data
    from engine.gan.mnist import evaluate

    model, card = checkpoints.load_pretrained("dcgan", device="cpu")
    classifier, _ = checkpoints.load_pretrained("classifier", device="cpu")
    data = training_data()
    metrics, _ = evaluate(model, data, classifier, seed=card["seed"], n_samples=card["evaluation"]["n_samples"])
    for key in ("samples_frechet", "samples_frechet_vs_half", "frechet_floor_same_size"):
        assert metrics[key] == pytest.approx(card["metrics"][key], rel=1e-3), key
    assert metrics["samples_class_entropy"] == pytest.approx(card["metrics"]["samples_class_entropy"], abs=0.01)
    # the floor at equal sizes is the classifier card's own floor (same halves, same seed)
    floor = checkpoints.read_card(checkpoints.ASSETS_DIR / "classifier")["metrics"]["frechet_floor_heldout_halves"]
    assert metrics["frechet_floor_same_size"] == pytest.approx(floor, rel=1e-3)
    assert card["data"]["n_train"] == 8000 and card["data"]["description"] == data.description
    film = load_film(card)
    assert np.abs(film["grid"][-1].astype(int) - to_uint8(model.generate(torch.from_numpy(film["grid_z"])))
                  .numpy().astype(int)).max() <= 1  # the film's last frame is the shipped generator
