"""A link's step count: every live trainer is deterministic in its steps, however they are chunked, so
``?<key>_at=N`` rebuilds the same model; the page trains to N when it opens such a link."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from dashboard.shared import live_links
from engine import toy2d
from engine.diffusion.live import Diffusion2DConfig, Diffusion2DTrainer
from engine.flow.live import Flow2DConfig, Flow2DTrainer
from engine.gan.live import GAN2DTrainer, GANArchitecture, GANSettings
from engine.mle import MLEConfig, MLETrainer
from engine.vae.live import VAEConfig, VAETrainer
from tests.conftest import HOME_SCRIPT

POINTS = toy2d.sample("moons", 512, np.random.default_rng(0))
TRAINERS = {
    "mle": lambda: MLETrainer(MLEConfig(optimizer="adam", lr=0.05), np.random.default_rng(0).normal(0, 1, 300)),
    "vae": lambda: VAETrainer(VAEConfig(), POINTS),
    "gan": lambda: GAN2DTrainer(POINTS, GANArchitecture(), GANSettings()),
    "diffusion": lambda: Diffusion2DTrainer(Diffusion2DConfig(), POINTS),
    "flow": lambda: Flow2DTrainer(Flow2DConfig(eval_every=100), POINTS),
}


def tensors(trainer) -> list[torch.Tensor]:
    """Every parameter of every module the trainer holds, in a fixed order."""
    found = []
    for value in vars(trainer).values():
        modules = value if isinstance(value, list | tuple) else [value]
        found += [p.detach().clone() for m in modules if isinstance(m, torch.nn.Module) for p in m.parameters()]
    return found


@pytest.mark.parametrize("name", list(TRAINERS))
def test_training_is_deterministic_however_the_steps_are_chunked(name):
    whole, chunked = TRAINERS[name](), TRAINERS[name]()
    whole.step(120)
    live_links.train_to(chunked, 120)  # chunks of LINK_CHUNK = 50: 50 + 50 + 20
    assert chunked.step_count == whole.step_count == 120
    assert chunked.history == whole.history  # every loss of every step, bit for bit
    assert all(torch.equal(a, b) for a, b in zip(tensors(whole), tensors(chunked)))


def test_a_step_count_must_be_a_whole_number_in_range():
    assert live_links.link_steps("gan_live", {"gan_live_at": "2000"}) == 2000
    for bad in ("", "abc", "-5", "0", "2.5", str(live_links.MAX_LINK_STEPS + 1)):
        assert live_links.link_steps("gan_live", {"gan_live_at": bad}) == 0, bad


def test_opening_a_link_with_a_step_count_trains_to_it_and_the_link_carries_it_back():
    app = AppTest.from_file(str(HOME_SCRIPT), default_timeout=120)
    app.query_params.update({"lang": "en", "mle_at": "300"})  # a link opened in a fresh browser
    app.run()
    app.switch_page("chapters/likelihood/page.py").run()
    assert not app.exception
    slot = app.session_state["live::mle"]
    assert slot.trainer.step_count == 300 and not slot.playing
    assert live_links.link_parameters({"live::mle": slot}, slot.page) == {"mle_at": "300"}
    assert live_links.link_parameters({"live::mle": slot}, "/gan") == {}  # another page's trainer stays out
