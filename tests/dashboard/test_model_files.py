"""A live section's model file: download, then resume in a fresh session with the same controls and state."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.shared import model_files
from dashboard.shared.i18n import translate
from engine import toy2d, trainer_files
from engine.gan.live import GAN2DTrainer, GANArchitecture, GANSettings

VAE_KEYS = ("vae_live_data", "vae_live_latent", "vae_live_beta", "vae_live_lr")


def test_a_downloaded_vae_resumes_in_a_fresh_session_with_its_controls(page_app):
    at = page_app("vae")
    at.select_slider(key="vae_live_beta").set_value(0.5).run()
    at.selectbox(key="vae_live_data").set_value("ring").run()
    at.button(key="vae_step100").click().run()
    slot = at.session_state["live::vae"]
    blob = model_files.file_bytes(slot, "vae", model_files.saved_settings(at.session_state, VAE_KEYS))

    fresh = page_app("vae")  # another student, another day: default controls, a new trainer at step 0
    assert fresh.session_state["live::vae"].trainer.step_count == 0
    model_files.uploaded("vae", VAE_KEYS, state=fresh.session_state, blob=blob)  # what the uploader's callback does
    fresh.run()
    assert not fresh.exception
    assert fresh.select_slider(key="vae_live_beta").value == 0.5
    assert fresh.selectbox(key="vae_live_data").value == "ring"
    resumed = fresh.session_state["live::vae"]
    assert resumed.trainer.step_count == 100 and not resumed.playing
    assert resumed.trainer.history == slot.trainer.history
    assert translate("en", "training.file.resumed", steps=100) in [s.value for s in fresh.success]
    fresh.button(key="vae_step10").click().run()  # and it trains on from there, as the original would
    slot.trainer.step(10)
    assert resumed.trainer.history == slot.trainer.history


def test_a_file_from_another_section_or_not_a_model_is_refused_with_a_message(page_app):
    gan = GAN2DTrainer(toy2d.sample("moons", 256, 0), GANArchitecture(), GANSettings())
    at = page_app("vae")
    for blob, code, detail in [
        (trainer_files.to_bytes(gan, extra={"section": "gan_live"}), "other_section", {"section": "gan_live"}),
        (b"these are not weights", "not_safetensors", {}),
    ]:
        model_files.uploaded("vae", VAE_KEYS, state=at.session_state, blob=blob)
        at.run()
        assert not at.exception
        assert translate("en", f"training.file.errors.{code}", **detail) in [e.value for e in at.error]
        assert at.session_state["live::vae"].trainer.step_count == 0  # the section's model is untouched


@pytest.mark.parametrize("choice", ["moons", "csv"])
def test_uploaded_points_come_back_with_the_file(choice):
    """A model trained on an upload brings its points: the data picker's store gets them, so the section
    rebuilds the trainer on exactly those points (a named set is drawn again from its name)."""
    points = np.random.default_rng(1).normal(size=(300, 2))
    trainer = GAN2DTrainer(points, GANArchitecture(), GANSettings())
    blob = trainer_files.to_bytes(trainer, extra={"section": "gan_live", "settings": {"gan_live_data": choice,
                                                                                      "gan_live_width": 32}})
    state: dict = {}
    model_files.uploaded("gan_live", ("gan_live_data", "gan_live_width"), state=state, blob=blob)
    assert state["gan_live_data"] == choice and state["gan_live_width"] == 32
    assert isinstance(state[model_files.PENDING]["gan_live"], trainer_files.SavedTrainer)
    if choice == "csv":
        identity, restored = state["gan_live_csv_points"]
        assert state["gan_live_data_in_use"] == identity and np.array_equal(restored, points)
    else:
        assert "gan_live_csv_points" not in state


def test_a_model_trained_on_a_drawing_brings_the_drawing_back():
    from dashboard.shared import drawn

    points = np.random.default_rng(3).normal(size=(150, 2))
    trainer = GAN2DTrainer(points, GANArchitecture(), GANSettings())
    blob = trainer_files.to_bytes(trainer, extra={"section": "gan_live", "settings": {"gan_live_data": "drawn"}})
    state: dict = {}  # another session: nothing drawn there
    model_files.uploaded("gan_live", ("gan_live_data",), state=state, blob=blob)
    assert np.array_equal(drawn.get(state), points) and state["gan_live_data"] == "drawn"
