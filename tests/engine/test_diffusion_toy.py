"""The live 2D DDPM trainer: it learns (quality metric against an untrained model), follows the trainer
protocol (rewind reproduces the same steps), reports the loss per timestep; its reverse film is the
sampling chain, its score is -eps / sqrt(1 - alpha_bar_t), and one reverse step satisfies Ho et al.'s
formulas term by term."""

import numpy as np
import pytest

from engine import toy2d
from engine.diffusion.live import LOSS_BINS, Diffusion2DConfig, Diffusion2DTrainer

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


@pytest.fixture(scope="module")
def trained():
    trainer = moons_trainer()
    trainer.step(30)  # the formulas hold for any weights: a few steps make them non-trivial
    return trainer


def test_reverse_film_is_the_sampling_chain(trained):
    x, frames = trained.sample(64, seed=3, keep=lambda t: True)
    film = trained.reverse_film(64, seed=3)
    assert film.steps.tolist() == list(range(SMALL.steps, -1, -1))
    assert np.array_equal(film.at(0), x) and np.array_equal(film.at(17), frames[17])
    thin = trained.reverse_film(64, seed=3, every=7)  # only the kept frames change, not the chain
    assert thin.steps[0] == SMALL.steps and thin.steps[-1] == 0 and thin.every == 7
    assert all(t % 7 == 0 for t in thin.steps[1:])
    assert np.array_equal(thin.at(0), x) and np.array_equal(thin.at(14), frames[14])
    paths = film.trajectories([0, 5])
    assert paths.shape == (2, SMALL.steps + 1, 2) and np.array_equal(paths[1, -1], x[5])
    with pytest.raises(ValueError, match="not kept"):
        thin.at(13)


def test_the_score_is_minus_eps_over_the_noise_std(trained):
    points = np.random.default_rng(0).normal(size=(30, 2))
    for t in (1, 20, SMALL.steps):
        eps, score = trained.noise_field(t, points)
        assert eps.shape == score.shape == (30, 2)
        np.testing.assert_allclose(score * np.sqrt(1 - trained.schedule.alpha_bar[t]), -eps, rtol=1e-12)
    with pytest.raises(ValueError):
        trained.noise_field(0, points)


def test_a_reverse_step_satisfies_the_ddpm_formulas(trained):
    s = trained.schedule
    x_t = trained.reverse_film(8, seed=1).at(30)
    step = trained.reverse_step(x_t, 30, seed=4)
    eps, _ = trained.noise_field(30, x_t)
    np.testing.assert_allclose(step.eps.numpy(), eps, rtol=1e-12)  # the same network (EMA) as the field
    a = s.alpha_bar[30]
    x0 = (x_t - np.sqrt(1 - a) * eps) / np.sqrt(a)  # Ho et al. eq. 15
    np.testing.assert_allclose(step.x0_hat.numpy(), x0, rtol=1e-10, atol=1e-12)
    c1 = np.sqrt(s.alpha_bar[29]) * s.betas[30] / (1 - a)  # Ho et al. eq. 7
    c2 = np.sqrt(s.alphas[30]) * (1 - s.alpha_bar[29]) / (1 - a)
    np.testing.assert_allclose(step.mean.numpy(), c1 * x0 + c2 * x_t, rtol=1e-10, atol=1e-12)
    assert step.sigma == pytest.approx(np.sqrt((1 - s.alpha_bar[29]) / (1 - a) * s.betas[30]), rel=1e-12)
    assert np.array_equal(step.x_prev.numpy(), step.mean.numpy() + step.sigma * step.z.numpy())
    again = trained.reverse_step(x_t, 30, seed=4)
    assert np.array_equal(again.z.numpy(), step.z.numpy())  # the seed fixes z
    assert trained.reverse_step(x_t, 1, seed=0).sigma == 0.0  # the last step adds no noise


def test_evaluation_samples_are_kept_and_rewound(trained):
    assert trained.samples.shape == (1000, 2) and np.all(np.isfinite(trained.samples))
    state = trained.state_dict()
    before = trained.samples.copy()
    trained.evaluate(step=12_345)
    assert not np.array_equal(trained.samples, before)
    trained.load_state_dict(state)
    assert np.array_equal(trained.samples, before)
