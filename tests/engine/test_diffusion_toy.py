"""The live 2D DDPM trainer: it learns (quality metric against an untrained model), follows the trainer
protocol (rewind reproduces the same steps), and reports the loss per timestep."""

import numpy as np
import pytest

from engine import toy2d
from engine.diffusion_toy import LOSS_BINS, Diffusion2DConfig, Diffusion2DTrainer

SMALL = Diffusion2DConfig(steps=50, width=64, depth=2, batch_size=256, eval_every=400)


def moons_trainer(config=SMALL) -> Diffusion2DTrainer:
    return Diffusion2DTrainer(config, toy2d.sample("moons", 2000, 0), fresh=lambda n, s: toy2d.sample("moons", n, s))


def test_a_short_run_beats_the_untrained_model_on_sliced_w2():
    trainer = moons_trainer()
    untrained = trainer.evaluations[0]["sliced_w2"]
    trainer.step(400)
    trained = trainer.evaluations[-1]
    assert trained["step"] == 400
    # the floor is what two data draws score; an untrained model is orders of magnitude away
    assert trainer.sliced_w2_floor < trained["sliced_w2"] < untrained / 10


def test_state_dict_rewind_reproduces_the_next_steps():
    trainer = moons_trainer()
    trainer.step(5)
    saved = trainer.state_dict()
    first = trainer.step(5)
    trainer.load_state_dict(saved)
    assert trainer.step(5) == first


def test_loss_per_timestep_bins_and_reverse_film():
    trainer = moons_trainer()
    trainer.step(20)
    centres, losses = trainer.loss_by_t()
    assert centres.shape == losses.shape == (LOSS_BINS,)
    assert np.all(np.isfinite(losses)) and np.all(losses > 0)
    x, frames = trainer.sample(100, seed=1, keep=lambda t: True)
    assert x.shape == (100, 2) and sorted(frames) == list(range(SMALL.steps + 1))
    assert np.array_equal(frames[0], x)


def test_a_huge_learning_rate_stops_and_resume_rewinds():
    trainer = moons_trainer(Diffusion2DConfig(steps=20, width=32, depth=1, lr=1e15, eval_every=10_000))
    trainer.step(200)
    assert trainer.stopped is not None and trainer.stopped.code == "non_finite"
    trainer.set_lr(1e-3)
    trainer.resume()
    assert trainer.stopped is None and np.isfinite(trainer.step(3)[-1]["loss"])


@pytest.mark.parametrize("data", [np.zeros((1, 2)), np.zeros((10, 3)), np.full((10, 2), np.nan)])
def test_bad_data_is_refused(data):
    with pytest.raises(ValueError, match="finite"):
        Diffusion2DTrainer(SMALL, data)
