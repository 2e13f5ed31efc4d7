"""A live trainer written to a safetensors file and read back trains on exactly as the original would."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load as load_arrays

from engine import toy2d, trainer_files
from engine.diffusion.live import Diffusion2DConfig, Diffusion2DTrainer
from engine.flow.live import Flow2DConfig, Flow2DTrainer
from engine.gan.live import GAN2DTrainer, GANArchitecture, GANSettings
from engine.mle import MLEConfig, MLETrainer
from engine.vae.live import VAEConfig, VAETrainer

POINTS = toy2d.sample("moons", 512, np.random.default_rng(0))
TRAINERS = {
    "mle": lambda data=None: MLETrainer(MLEConfig(optimizer="adam", lr=0.05),
                                        np.random.default_rng(0).normal(0, 1, 300) if data is None else data),
    "vae": lambda data=POINTS: VAETrainer(VAEConfig(), data),
    "gan": lambda data=POINTS: GAN2DTrainer(data, GANArchitecture(), GANSettings(g_lr=3e-3)),
    "diffusion": lambda data=POINTS: Diffusion2DTrainer(Diffusion2DConfig(), data),
    "flow": lambda data=POINTS: Flow2DTrainer(Flow2DConfig(eval_every=100), data),
}


def same(a, b) -> bool:
    """Two states equal to the bit: arrays by dtype, shape and bytes, the rest by value."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and (a == b or a != a and b != b)  # NaN equals NaN here


@pytest.mark.parametrize("name", list(TRAINERS))
def test_a_saved_trainer_resumes_exactly_where_it_stopped(name):
    original = TRAINERS[name]()
    original.step(150)
    blob = trainer_files.to_bytes(original, extra={"page": "test"})
    saved = trainer_files.read(blob)
    assert saved.step_count == 150 and saved.extra == {"page": "test"}
    assert same(saved.state, original.state_dict())  # every array and number, bit for bit
    assert same(saved.data, np.asarray(original.data, dtype=np.float64))  # the points it trained on travel with it

    resumed = TRAINERS[name]()  # a fresh trainer from the same config, as a page or notebook builds it
    trainer_files.restore(resumed, saved)
    original.step(60)
    resumed.step(60)
    assert resumed.step_count == original.step_count == 210
    assert resumed.history == original.history
    assert same(resumed.state_dict(), original.state_dict())


def test_the_file_is_plain_safetensors_with_the_config_to_rebuild_from():
    trainer = TRAINERS["gan"]()
    trainer.step(5)
    blob = trainer_files.to_bytes(trainer)
    arrays = load_arrays(blob)  # any safetensors reader opens it; nothing is unpickled
    assert any(name.startswith("state/nets/g/") for name in arrays)
    saved = trainer_files.read(blob)
    rebuilt = GAN2DTrainer(POINTS, GANArchitecture(**saved.config["architecture"]),
                           GANSettings(**saved.config["settings"]))
    trainer_files.restore(rebuilt, saved)
    assert rebuilt.settings.g_lr == 3e-3 and rebuilt.step_count == 5
    assert json.loads(json.dumps(saved.config)) == saved.config


def test_a_file_is_refused_for_another_model_other_points_or_another_network():
    gan = TRAINERS["gan"]()
    gan.step(3)
    saved = trainer_files.read(trainer_files.to_bytes(gan))
    with pytest.raises(trainer_files.TrainerFileError, match="not a VAETrainer"):
        trainer_files.restore(TRAINERS["vae"](), saved)
    with pytest.raises(trainer_files.TrainerFileError, match="other points"):
        trainer_files.restore(TRAINERS["gan"](POINTS[:400]), saved)
    wider = GAN2DTrainer(POINTS, GANArchitecture(width=32), GANSettings())
    before = wider.state_dict()
    with pytest.raises(trainer_files.TrainerFileError, match="do not fit"):
        trainer_files.restore(wider, saved)
    assert same(wider.state_dict(), before)  # a refused file leaves the trainer as it was


@pytest.mark.parametrize(("blob", "code"), [
    (b"", "not_safetensors"), (b"not a model", "not_safetensors"), (b"\xff" * 64, "not_safetensors"),
    (b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\": 1}", "not_a_model"),  # safetensors, but no trainer in it
])
def test_anything_else_is_refused_with_a_reason(blob, code):
    with pytest.raises(trainer_files.TrainerFileError) as refused:
        trainer_files.read(blob)
    assert refused.value.code == code


def test_a_truncated_file_is_refused():
    blob = trainer_files.to_bytes(TRAINERS["vae"]())
    with pytest.raises(trainer_files.TrainerFileError, match="damaged"):
        trainer_files.read(blob[:-100])


def test_a_history_with_occasional_metrics_stays_compact():
    """The VAE records its exact log p(x) every 25 steps only: the history is stored as arrays (with a
    0/1 array for where a metric is there), a few dozen bytes a step, not JSON (about 150)."""
    trainer = TRAINERS["vae"]()
    trainer.step(100)
    small = len(trainer_files.to_bytes(trainer))
    trainer.step(400)
    per_step = (len(trainer_files.to_bytes(trainer)) - small) / 400
    assert per_step < 60, per_step
    resumed = TRAINERS["vae"]()
    trainer_files.restore(resumed, trainer_files.read(trainer_files.to_bytes(trainer)))
    assert resumed.history == trainer.history  # the occasional metrics exactly where they were
