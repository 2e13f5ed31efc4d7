"""engine.gan.live: data sets, the mode metric on hand-made samples, the trainer protocol, snapshots, presets."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.gan import generator_loss
from engine.gan.live import (
    GAN_DATASETS,
    MODE_STD,
    PRESETS,
    GAN2DTrainer,
    GANArchitecture,
    GANSettings,
    mode_centers,
    mode_coverage,
    sample_data,
)
from engine.transport import sliced_wasserstein

RING = mode_centers("ring8")
SMALL = GANArchitecture(width=32, depth=2, seed=0)  # fast enough for protocol tests
FAST = GANSettings(batch_size=64)


def _trainer(settings=FAST, arch=SMALL, modes=True, **kw):
    data = sample_data("ring8", 2000, 0)
    return GAN2DTrainer(data, arch, settings, modes=(RING, MODE_STD["ring8"]) if modes else None, **kw)


def _params(net):
    return [p.detach().clone() for p in net.parameters()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


# ---------------------------------------------------------------- data and the mode metric
def test_data_sets():
    assert RING.shape == (8, 2) and np.allclose(np.hypot(*RING.T), 2.0)
    grid = mode_centers("grid25")
    assert grid.shape == (25, 2) and sorted(set(grid[:, 0])) == [-4, -2, 0, 2, 4]
    assert mode_centers("moons") is None
    for name in GAN_DATASETS:
        x = sample_data(name, 500, 1)
        assert x.shape == (500, 2) and x.dtype == np.float64 and np.all(np.isfinite(x))
        np.testing.assert_array_equal(x, sample_data(name, 500, np.random.default_rng(1)))
    # ring8 / grid25 draws are their mixtures: every point is high quality (3 std holds 98.9% of
    # a 2D Gaussian's mass; 2,500 points), every mode is hit, the std per axis matches MODE_STD.
    for name in ("ring8", "grid25"):
        x = sample_data(name, 2500, 2)
        report = mode_coverage(x, mode_centers(name), MODE_STD[name])
        assert report.modes_covered == report.n_modes and report.high_quality > 0.98
        nearest = np.argmin(np.linalg.norm(x[:, None] - mode_centers(name)[None], axis=2), axis=1)
        assert np.std(x - mode_centers(name)[nearest]) == pytest.approx(MODE_STD[name], rel=0.05)
    with pytest.raises(ValueError):
        sample_data("ring", 10, 0)


def test_mode_metric_known_answers():
    std = MODE_STD["ring8"]
    every = mode_coverage(np.repeat(RING, 10, axis=0), RING, std)  # all modes, all exact
    assert (every.n_modes, every.modes_covered, every.high_quality) == (8, 8, 1.0)
    np.testing.assert_array_equal(every.counts, np.full(8, 10))
    one = mode_coverage(RING[3] + 0.01 * np.random.default_rng(0).uniform(-1, 1, (50, 2)), RING, std)
    assert (one.modes_covered, one.high_quality) == (1, 1.0) and one.counts[3] == 50
    none = mode_coverage(np.zeros((40, 2)) + [0.3, -0.2], RING, std)  # near the centre: far from all
    assert (none.modes_covered, none.high_quality) == (0, 0.0) and none.counts.sum() == 0
    # Half high quality at mode 0, half off (between modes 0 and 1): 1 mode, 50%.
    half = mode_coverage(np.vstack([np.repeat(RING[:1], 5, 0), np.repeat((RING[:1] + RING[1:2]) / 2, 5, 0)]),
                         RING, std)
    assert (half.modes_covered, half.high_quality) == (1, 0.5)
    # NaN samples are low quality, never a mode.
    nan = mode_coverage(np.vstack([RING, np.full((8, 2), np.nan)]), RING, std)
    assert (nan.modes_covered, nan.high_quality) == (8, 0.5)


def test_mode_metric_boundary_is_three_std_inclusive():
    centers, std = np.array([[0.0, 0.0], [4.0, 0.0]]), 0.25  # 3 std = 0.75, exact in binary
    at = mode_coverage(np.array([[0.75, 0.0], [0.0, -0.75]]), centers, std)
    assert (at.modes_covered, at.high_quality) == (1, 1.0)
    past = mode_coverage(np.array([[np.nextafter(0.75, 1.0), 0.0]]), centers, std)
    assert (past.modes_covered, past.high_quality) == (0, 0.0)
    assert mode_coverage(np.array([[1.0, 0.0]]), centers, std, threshold=4.0).high_quality == 1.0
    with pytest.raises(ValueError):
        mode_coverage(np.zeros((3, 3)), centers, std)
    with pytest.raises(ValueError):
        mode_coverage(np.zeros((3, 2)), centers, 0.0)


# ---------------------------------------------------------------- trainer protocol
def test_state_dict_round_trip_reproduces_the_next_steps_exactly():
    trainer = _trainer(eval_every=10)
    trainer.step(25)
    saved = trainer.state_dict()
    ahead = trainer.step(15)
    evals = [dict(e) for e in trainer.evaluations]
    trainer.load_state_dict(saved)
    assert trainer.step_count == 25 and len(trainer.evaluations) == 3
    assert trainer.step(15) == ahead and trainer.evaluations == evals
    # A fresh trainer given the state continues identically too (numpy state only).
    other = _trainer(eval_every=10)
    other.load_state_dict(saved)
    assert other.step(15) == ahead
    assert _same(_params(other.nets.g), _params(trainer.nets.g))
    flat = [v for part in saved["nets"].values() for v in part.values()]
    assert all(isinstance(v, np.ndarray | dict) for v in flat)


def test_reset_returns_to_the_initial_networks():
    trainer = _trainer()
    first = _params(trainer.nets.g) + _params(trainer.nets.d)
    trainer.step(10)
    trainer.reset()
    assert trainer.step_count == 0 and trainer.history == [] and len(trainer.evaluations) == 1
    assert _same(_params(trainer.nets.g) + _params(trainer.nets.d), first)
    assert trainer.step(5) == _trainer().step(5)  # and the same noise stream


def test_update_changes_learning_rates_without_restarting():
    trainer = _trainer()
    trainer.step(5)
    before = _params(trainer.nets.g)
    adam_steps = trainer.nets.g_opt.state_dict()["state"][0]["step"].item()
    trainer.update(replace(trainer.settings, g_lr=1e-4, d_lr=2e-4, loss="hinge", d_steps=2))
    assert trainer.step_count == 5 and _same(_params(trainer.nets.g), before)
    assert trainer.nets.g_opt.param_groups[0]["lr"] == 1e-4 and trainer.nets.d_opt.param_groups[0]["lr"] == 2e-4
    assert trainer.nets.g_opt.state_dict()["state"][0]["step"].item() == adam_steps  # moments kept
    trainer.update(replace(trainer.settings, d_optimizer="rmsprop", pack=2))
    assert isinstance(trainer.nets.d_opt, torch.optim.RMSprop) and trainer.nets.d[0].in_features == 4
    out = trainer.step(3)
    assert len(out) == 3 and all(np.isfinite(list(h.values())).all() for h in out)
    with pytest.raises(TypeError):
        trainer.update({"g_lr": 1.0})


def test_step_only_touches_one_network():
    trainer = _trainer()
    g0, d0 = _params(trainer.nets.g), _params(trainer.nets.d)
    out = trainer.step_only("d", 3)
    assert len(out) == 3 and all(set(h) == {"d_loss", "g_loss"} for h in out)
    assert _same(_params(trainer.nets.g), g0) and not _same(_params(trainer.nets.d), d0)
    d1 = _params(trainer.nets.d)
    trainer.step_only("g", 2)
    assert _same(_params(trainer.nets.d), d1) and not _same(_params(trainer.nets.g), g0)
    assert trainer.step_count == 5
    with pytest.raises(ValueError):
        trainer.step_only("both", 1)


def test_huge_learning_rate_stops_and_resume_rewinds_to_finite_values():
    bad = replace(FAST, g_optimizer="sgd", d_optimizer="sgd", g_lr=1e12, d_lr=1e12)
    trainer = _trainer(bad)
    trainer.step(5)  # sane-length first call, so the rewind point is after these steps
    if trainer.stopped is None:
        out = trainer.step(200)
        assert trainer.stopped is not None and len(out) < 200
    stop = trainer.stopped
    assert stop.code == "non_finite" and stop.detail["g_lr"] == 1e12 and stop.detail["loss"] == "non_saturating"
    assert trainer.step(3) == []
    trainer.update(FAST)  # the user lowers the lr ...
    trainer.resume()  # ... and presses play: parameters rewound to the last finite state
    assert trainer.settings == FAST and trainer.step_count == len(trainer.history)
    assert all(torch.isfinite(p).all() for p in trainer.nets.g.parameters())
    out = trainer.step(10)
    assert len(out) == 10 and trainer.stopped is None
    assert np.isfinite(trainer.snapshot().fake).all()
    trainer.reset()
    assert trainer.stopped is None and trainer.step_count == 0


def test_wgan_clips_and_wgan_gp_trains():
    trainer = _trainer(replace(FAST, loss="wgan", d_steps=5, clip=0.02))
    trainer.step(3)
    assert all(p.abs().max() <= 0.02 for p in trainer.nets.d.parameters())
    trainer.update(replace(FAST, loss="wgan_gp", d_steps=2))
    assert all(np.isfinite(list(h.values())).all() for h in trainer.step(5))


def test_evaluations_schedule_and_sliced_w2():
    trainer = _trainer(eval_every=4)
    trainer.step(9)
    assert [e["step"] for e in trainer.evaluations] == [0, 4, 8]
    e = trainer.evaluations[-1]
    assert set(e) == {"step", "sliced_w2", "modes_covered", "high_quality"} and 0 <= e["modes_covered"] <= 8
    assert set(_trainer(modes=False).evaluations[0]) == {"step", "sliced_w2"}
    # The cached estimator is engine.transport.sliced_wasserstein with fixed directions.
    pts = np.random.default_rng(3).normal(size=(2500, 2))
    assert trainer._sliced_w2(pts) == pytest.approx(sliced_wasserstein(pts, trainer._eval_data, 64, 2, rng=0),
                                                    rel=1e-12)
    # The floor (two data draws) is far below an untrained generator's distance.
    assert 0 < trainer.sliced_w2_floor < 0.1 * trainer.evaluations[0]["sliced_w2"]


# ---------------------------------------------------------------- snapshots
@pytest.mark.parametrize("loss", ["non_saturating", "wgan_gp"])
def test_snapshot_shapes_values_and_gradient_direction(loss):
    trainer = _trainer(replace(FAST, loss=loss, pack=2))
    trainer.step(20)
    snap = trainer.snapshot(grid=30)
    assert snap.step == 20 and snap.real.shape == (1000, 2) and snap.fake.shape == (500, 2)
    assert snap.xs.shape == snap.ys.shape == (30,) and snap.d_values.shape == (30, 30)
    assert snap.gradients.shape == (500, 2) and snap.manifold.shape == (22, 41, 2)
    assert snap.d_is_probability == (loss == "non_saturating")
    for a in (snap.real, snap.fake, snap.d_values, snap.gradients, snap.manifold):
        assert np.isfinite(a).all()
    if snap.d_is_probability:
        assert snap.d_values.min() >= 0 and snap.d_values.max() <= 1
    xmin, xmax, ymin, ymax = snap.bounds
    assert xmin < -2 < 2 < xmax and ymin < -2 < 2 < ymax  # the ring is in view
    # The arrows point downhill: moving every sample a little along them lowers G's loss.
    n = trainer.nets
    with torch.no_grad():
        def g_loss(points):
            return generator_loss(loss, n.d(n.pack(torch.as_tensor(points, dtype=torch.float32))).squeeze(1)).item()
        assert g_loss(snap.fake + 1e-3 * snap.gradients) < g_loss(snap.fake)
    one = _trainer(arch=replace(SMALL, latent_dim=1)).snapshot(grid=8, bounds=(-1, 1, -1, 1))
    assert one.manifold.shape == (1, 41, 2) and one.bounds == (-1.0, 1.0, -1.0, 1.0)


def test_bad_inputs():
    with pytest.raises(ValueError):
        GAN2DTrainer(np.zeros((10, 3)), SMALL, FAST)
    with pytest.raises(ValueError):
        GAN2DTrainer(np.array([[0.0, np.nan], [1.0, 1.0]]), SMALL, FAST)
    for bad in (dict(loss="gan"), dict(g_optimizer="lbfgs"), dict(batch_size=2, pack=4), dict(g_lr=0.0),
                dict(d_steps=0), dict(beta1=1.0)):
        with pytest.raises(ValueError):
            GANSettings(**bad)
    with pytest.raises(ValueError):
        GANArchitecture(width=0)


# ---------------------------------------------------------------- presets
def _modes_over_time(name: str, seed: int, iterations: int, data: np.ndarray) -> list[int]:
    """Modes covered at every evaluation (every 100 iterations) of preset ``name`` with ``seed``."""
    p = PRESETS[name]
    trainer = GAN2DTrainer(data, replace(p.architecture, seed=seed), p.settings, modes=(RING, MODE_STD["ring8"]))
    trainer.step(iterations)
    assert trainer.stopped is None
    return [int(e["modes_covered"]) for e in trainer.evaluations]


def test_collapse_preset_stays_collapsed():
    """The page's "Mode collapse" must stay collapsed long enough to discuss it. On the page's data
    (10,000 points, rng 0) and seed 5, where the former preset (G 2e-3, D 1e-4, beta1 0.5) broke out
    soonest (more than 3 modes from iteration 9,900, 8/8 by 14,000), every evaluation through
    COLLAPSE_ITERATIONS covers at most COLLAPSED modes. Measured with the current preset: at most 2
    on this seed through 14,000 iterations, at most 3 on seeds 0-7 through 25,000."""
    assert torch.get_num_threads() == 1  # as the page trains (tests/conftest.py sets it once)
    covered = _modes_over_time("collapse", 5, COLLAPSE_ITERATIONS, sample_data("ring8", 10_000, 0))
    assert len(covered) == COLLAPSE_ITERATIONS // 100 + 1 and max(covered) <= COLLAPSED, covered


def test_cover_all_preset_covers_every_ring_mode():
    """cover_all for PRESET_ITERATIONS generator iterations, seeds 0-1: all 8 ring modes (the better of
    the last two evaluations). Measured: 8 and 8."""
    assert set(PRESETS) >= {"collapse", "cover_all"}
    assert torch.get_num_threads() == 1
    covered = [max(_modes_over_time("cover_all", seed, PRESET_ITERATIONS, sample_data("ring8", 5000, seed))[-2:])
               for seed in (0, 1)]
    assert covered == [8, 8], covered


PRESET_ITERATIONS = 1500
COLLAPSE_ITERATIONS = 10_000
COLLAPSED = 3  # modes covered at most, for the collapse preset to count as collapsed (as benchmarks/bench_gan2d.py)
