"""engine.mle: maximum likelihood by gradient ascent (MLETrainer) and the closed-form surface.

Tolerances: the converged trainer is compared with the closed-form MLE to 1e-3 (the product
promise; Adam on this convex-in-mu, smooth problem gets to ~1e-12 in the steps used). Analytic
gradient / loss checks use 1e-12 relative: torch and numpy do the same float64 arithmetic in a
different order. Rewind checks demand exact equality: the same float64 operations in the same
order must give the same bits.
"""

import math

import numpy as np
import pytest
import torch

from engine.distributions import Mixture, Normal
from engine.likelihood import fit_gaussian
from engine.mle import MLEConfig, MLESnapshot, MLETrainer, excursion, loglik_surface
from engine.training import Trainer

REL = 1e-12
DATA = np.random.default_rng(0).normal(0.7, 1.5, 500)
BIMODAL = np.concatenate([np.random.default_rng(1).normal(-2.0, 0.5, 200),
                          np.random.default_rng(2).normal(1.5, 0.8, 300)])


def _nll_and_grad(x, mu, log_sigma):
    """Negative mean log-likelihood of N(mu, sigma^2) and its gradient in (mu, log sigma)."""
    s2, xbar, var = math.exp(2 * log_sigma), x.mean(), x.var()
    nll = log_sigma + 0.5 * math.log(2 * math.pi) + (var + (xbar - mu) ** 2) / (2 * s2)
    return nll, np.array([-(xbar - mu) / s2, 1.0 - (var + (xbar - mu) ** 2) / s2])


# ---------------------------------------------------------------- convergence and metrics
def test_adam_from_a_far_start_reaches_the_closed_form_mle():
    trainer = MLETrainer(MLEConfig(family="gaussian", optimizer="adam", lr=0.05, init=(-3.0, 1.0)), DATA)
    assert isinstance(trainer, Trainer)
    trainer.step(1500)
    mle = fit_gaussian(DATA)
    snap = trainer.snapshot()
    assert abs(snap.means[0] - mle.mean) < 1e-3
    assert abs(snap.stds[0] - mle.std) < 1e-3
    assert isinstance(snap.model, Normal) and snap.model.mean == pytest.approx(snap.means[0], rel=REL)
    assert trainer.history[-1]["loss"] == pytest.approx(-np.mean(mle.logpdf(DATA)), abs=1e-6)


def test_first_step_metrics_match_the_analytic_loss_and_gradient():
    mu0, ls0, lr = -3.0, 1.0, 0.1
    trainer = MLETrainer(MLEConfig(optimizer="sgd", lr=lr, init=(mu0, ls0)), DATA)
    (m,) = trainer.step(1)
    assert set(m) == {"loss", "log_likelihood", "grad_norm", "mu", "log_sigma"}
    nll, grad = _nll_and_grad(DATA, mu0, ls0)
    assert m["loss"] == pytest.approx(nll, rel=REL) and m["log_likelihood"] == -m["loss"]
    assert m["loss"] == pytest.approx(-loglik_surface(DATA, [mu0], [ls0])[0, 0], rel=REL)
    assert m["grad_norm"] == pytest.approx(np.linalg.norm(grad), rel=REL)
    # Plain SGD: theta_1 = theta_0 - lr * grad; the metrics report the parameters after the update.
    assert m["mu"] == pytest.approx(mu0 - lr * grad[0], rel=REL)
    assert m["log_sigma"] == pytest.approx(ls0 - lr * grad[1], rel=REL)
    assert trainer.step_count == 1 and trainer.history == [m]


def test_step_returns_one_dict_per_step_and_the_path_grows():
    trainer = MLETrainer(MLEConfig(), DATA)
    out = trainer.step(7)
    assert len(out) == 7 and trainer.step_count == 7 and len(trainer.history) == 7
    snap = trainer.snapshot()
    assert isinstance(snap, MLESnapshot) and snap.path.shape == (8, 2) and snap.step == 7
    np.testing.assert_array_equal(snap.path[0], [-3.0, 1.0])
    np.testing.assert_array_equal(snap.path[1:, 0], [h["mu"] for h in out])
    assert trainer.step(0) == []


def test_mixture_family_improves_and_snapshots_a_mixture():
    trainer = MLETrainer(MLEConfig(family="mixture", k=2, lr=0.05, seed=3), BIMODAL)
    hist = trainer.step(800)
    assert hist[-1]["log_likelihood"] > hist[0]["log_likelihood"] + 0.3
    assert hist[-1]["grad_norm"] < 1e-3  # at (or next to) a stationary point
    snap = trainer.snapshot()
    assert isinstance(snap.model, Mixture) and len(snap.model.components) == 2
    assert snap.weights.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(sorted(snap.means), [-2.0, 1.5], atol=0.15)  # the two clusters
    # The trainer's loss is the model's own negative mean log-likelihood.
    assert -np.mean(snap.model.logpdf(BIMODAL)) == pytest.approx(
        trainer._loss(trainer._x).item(), rel=REL)


def test_minibatches_are_deterministic_given_the_seed():
    cfg = MLEConfig(family="mixture", k=3, optimizer="momentum", lr=0.01, batch_size=64, seed=5)
    a, b = MLETrainer(cfg, BIMODAL), MLETrainer(cfg, BIMODAL)
    assert a.step(30) == b.step(30)
    c = MLETrainer(MLEConfig(family="mixture", k=3, optimizer="momentum", lr=0.01, batch_size=64, seed=6), BIMODAL)
    assert c.step(30) != a.step(30)


# ---------------------------------------------------------------- state, lr, optimiser
@pytest.mark.parametrize(
    "cfg",
    [MLEConfig(optimizer="adam"), MLEConfig(family="mixture", k=3, optimizer="momentum", batch_size=50, lr=0.02)],
)
def test_state_dict_round_trip_reproduces_the_next_steps_exactly(cfg):
    data = BIMODAL if cfg.family == "mixture" else DATA
    trainer = MLETrainer(cfg, data)
    trainer.step(25)
    saved = trainer.state_dict()
    ahead = trainer.step(10)
    trainer.load_state_dict(saved)
    assert trainer.step_count == 25 and len(trainer.history) == 25
    assert trainer.step(10) == ahead
    fresh = MLETrainer(cfg, data)  # a new object restores the same way (page reloads)
    fresh.load_state_dict(saved)
    assert fresh.step(10) == ahead
    assert np.array_equal(fresh.snapshot().path, trainer.snapshot().path)
    flat = [v for v in saved.values() if not isinstance(v, dict | list)]
    assert all(isinstance(v, np.ndarray | int | float | str | type(None)) for v in flat)


def test_set_lr_takes_effect_on_the_next_step():
    trainer = MLETrainer(MLEConfig(optimizer="sgd", lr=0.01), DATA)
    trainer.step(5)
    mu, ls = trainer.history[-1]["mu"], trainer.history[-1]["log_sigma"]
    trainer.set_lr(0.3)
    (m,) = trainer.step(1)
    _, grad = _nll_and_grad(DATA, mu, ls)
    assert m["mu"] == pytest.approx(mu - 0.3 * grad[0], rel=REL)
    assert m["log_sigma"] == pytest.approx(ls - 0.3 * grad[1], rel=REL)
    with pytest.raises(ValueError):
        trainer.set_lr(0.0)


def test_set_optimizer_keeps_parameters_and_rejects_unknown_names():
    trainer = MLETrainer(MLEConfig(optimizer="adam", lr=0.05), DATA)
    trainer.step(10)
    before = trainer.snapshot()
    trainer.set_optimizer("momentum")
    after = trainer.snapshot()
    np.testing.assert_array_equal(before.means, after.means)
    (m,) = trainer.step(1)
    _, grad = _nll_and_grad(DATA, before.means[0], math.log(before.stds[0]))
    # Fresh momentum buffer: the first heavy-ball step is a plain gradient step.
    assert m["mu"] == pytest.approx(before.means[0] - 0.05 * grad[0], rel=1e-10)
    with pytest.raises(ValueError):
        trainer.set_optimizer("lbfgs")


# ---------------------------------------------------------------- surface, config, device
def test_loglik_surface_matches_direct_evaluation():
    means, log_stds = np.linspace(-3, 3, 7), np.linspace(-1, 1.5, 5)
    surf = loglik_surface(DATA, means, log_stds)
    assert surf.shape == (5, 7)
    direct = np.array([[np.mean(Normal(m, math.exp(ls)).logpdf(DATA)) for m in means] for ls in log_stds])
    np.testing.assert_allclose(surf, direct, rtol=REL)
    mle = fit_gaussian(DATA)
    assert loglik_surface(DATA, [mle.mean], [math.log(mle.std)])[0, 0] >= surf.max()


@pytest.mark.parametrize(
    "kwargs",
    [{"optimizer": "rmsprop"}, {"family": "flow"}, {"lr": 0.0}, {"lr": float("nan")}, {"k": 0},
     {"batch_size": 0}, {"init": (0.0, float("inf"))}],
)
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        MLEConfig(**kwargs)


def test_trainer_rejects_bad_data():
    for bad in (np.array([]), np.array([0.0, np.nan]), np.ones((3, 2))):
        with pytest.raises(ValueError):
            MLETrainer(MLEConfig(), bad)
    with pytest.raises(ValueError):
        MLETrainer(MLEConfig(family="mixture", k=4), np.arange(3.0))


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_device_argument_is_used(device):
    trainer = MLETrainer(MLEConfig(family="mixture", k=2, seed=3), BIMODAL, device=device)
    assert trainer._x.device.type == device and all(p.device.type == device for p in trainer._params())
    ref = MLETrainer(MLEConfig(family="mixture", k=2, seed=3), BIMODAL)
    # float64 on both; GPU reductions may sum in another order: agree to 1e-9 after 50 steps.
    np.testing.assert_allclose([h["loss"] for h in trainer.step(50)], [h["loss"] for h in ref.step(50)], rtol=1e-9)


def test_excursion_says_where_a_path_left_a_box_and_how_far_it_went():
    box = ((-4.0, 4.0), (-2.0, 2.0))
    assert excursion([[-3.0, 1.0], [0.0, 0.0], [4.0, -2.0]], *box) is None  # the border is inside
    went = excursion([[-3.0, 1.0], [0.0, 0.5], [1.0, 7.0], [2.0, 1.0], [30.0, -1.0]], *box)
    assert went.first == 2 and went.farthest == (30.0, -1.0) and not went.now_inside
    assert went.largest_jump == pytest.approx(math.hypot(28.0, 2.0), rel=1e-15)
    back = excursion([[0.0, 0.0], [0.0, 9.0], [0.0, 1.0]], *box)
    assert back.first == 1 and back.farthest == (0.0, 9.0) and back.now_inside and back.largest_jump == 9.0
    broken = excursion([[0.0, 0.0], [np.nan, np.inf]], *box)  # a non-finite point is outside, not "farthest"
    assert broken.first == 1 and all(math.isnan(v) for v in broken.farthest) and broken.largest_jump == 0.0


def test_adam_at_lr_100_strides_about_lr_per_step_out_of_any_sensible_box():
    """Adam's update is lr * m_hat / (sqrt(v_hat) + eps): its first step is exactly lr per parameter
    (m_hat / sqrt(v_hat) = sign of the gradient), whatever the gradient's size; then the path does not
    diverge (no non-finite loss) but drifts hundreds of units away in log sigma."""
    trainer = MLETrainer(MLEConfig(optimizer="adam", lr=100.0), DATA)
    trainer.step(1)
    start, first = trainer.snapshot().path[:2]
    _, grad = _nll_and_grad(DATA, *start)
    # lr |g| / (|g| + eps) with torch's eps = 1e-8: 100 up to eps / |g| (|g| is 0.50 and 1.13 here)
    np.testing.assert_allclose(first - start, -100.0 * grad / (np.abs(grad) + 1e-8), rtol=1e-10)
    np.testing.assert_allclose(np.abs(first - start), 100.0, rtol=1e-6)
    trainer.step(29)
    assert trainer.stopped is None and trainer.step_count == 30
    went = excursion(trainer.snapshot().path, (-4.0, 4.0), (-2.0, 2.0))
    assert went is not None and went.first == 1 and not went.now_inside
    assert went.farthest[1] > 300 and 90 < went.largest_jump < 150
