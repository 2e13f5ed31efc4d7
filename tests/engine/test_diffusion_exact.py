"""The forward path's geometry and the exact noise predictor of a finite data set, against closed forms.

x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps is cos(theta) x_0 + sin(theta) eps: an arc, not a segment.
eps*(x_t, t) = (x_t - sqrt(abar_t) E[x_0 | x_t]) / sqrt(1 - abar_t) with E[x_0 | x_t] a softmax-weighted
mean of the points: one point gives it back exactly, two points +-1 give tanh, many Gaussian points give
the Gaussian posterior mean within Monte Carlo error; the live trainer's chain driven by it stays in view
and ends on its points.
"""

import math

import numpy as np
import pytest
import torch

from engine import diffusion as dm
from engine import toy2d
from engine.diffusion.live import N_EXACT, Diffusion2DConfig, Diffusion2DTrainer

CONFIGS = [dm.ScheduleConfig("linear", 1000), dm.ScheduleConfig("cosine", 1000), dm.ScheduleConfig("cosine", 100),
           dm.ScheduleConfig("linear", 50, rescale=False)]


@pytest.mark.parametrize("config", CONFIGS)
def test_the_forward_path_is_an_arc_whose_weights_square_to_one(config):
    schedule = dm.Schedule(config)
    signal, noise = np.sqrt(schedule.alpha_bar), np.sqrt(1.0 - schedule.alpha_bar)
    np.testing.assert_allclose(signal**2 + noise**2, 1.0, rtol=0, atol=1e-15)  # cos^2 + sin^2, every t
    # x_0 and eps perpendicular and equally long: every x_t on the circle of radius |x_0| (not a chord)
    x0, eps = torch.tensor([[2.0, 0.0]], dtype=torch.float64), torch.tensor([[0.0, 2.0]], dtype=torch.float64)
    steps = torch.arange(schedule.T + 1)
    path = dm.q_sample(schedule, x0.expand(len(steps), 2), steps, eps.expand(len(steps), 2))  # (T + 1, 2)
    np.testing.assert_allclose(torch.linalg.norm(path, dim=1).numpy(), 2.0, rtol=1e-14)
    # general x_0, eps: the coordinates of x_t in the basis (x_0, eps) are (cos, sin) of one angle
    x0, eps = torch.tensor([[1.5, -0.3]], dtype=torch.float64), torch.tensor([[0.4, 0.9]], dtype=torch.float64)
    path = dm.q_sample(schedule, x0.expand(len(steps), 2), steps, eps.expand(len(steps), 2))
    coords = torch.linalg.solve(torch.cat([x0, eps]).T, path.T).numpy()  # (2, T + 1)
    np.testing.assert_allclose(coords[0] ** 2 + coords[1] ** 2, 1.0, atol=1e-12)


def test_halfway_the_point_is_off_the_segment_by_the_arcs_bulge():
    schedule = dm.Schedule(dm.ScheduleConfig("cosine", 1000))
    t = int(np.argmin(np.abs(schedule.alpha_bar - 0.5)))  # abar_t as close to 1/2 as the chain has
    x0, eps = torch.tensor([[2.0, 0.0]], dtype=torch.float64), torch.tensor([[0.0, 2.0]], dtype=torch.float64)
    xt = dm.q_sample(schedule, x0, torch.tensor([t]), eps)[0].numpy()
    a = schedule.alpha_bar[t]
    assert abs(a - 0.5) < 2e-3
    # the segment from (2, 0) to (0, 2) is x + y = 2; the arc point sits 2 (sqrt(a) + sqrt(1 - a) - 1) / sqrt(2) off
    off = (xt.sum() - 2.0) / math.sqrt(2.0)
    assert off == pytest.approx(2.0 * (math.sqrt(a) + math.sqrt(1 - a) - 1) / math.sqrt(2.0), rel=1e-12)
    assert off > 0.58  # 2 (sqrt(2) - 1) / sqrt(2) = 0.586 at a = 1/2: far from zero


@pytest.mark.parametrize("t", [1, 7, 50, 99])
def test_one_point_is_its_own_posterior_mean_and_eps_star_recovers_the_noise(t):
    schedule = dm.Schedule(dm.ScheduleConfig("cosine", 100))
    x0 = np.array([[0.7, -1.3]])
    noise = torch.randn(6, 2, generator=torch.Generator().manual_seed(t), dtype=torch.float64)
    steps = torch.full((6,), t)
    xt = dm.q_sample(schedule, torch.as_tensor(x0).expand(6, 2), steps, noise)
    np.testing.assert_allclose(dm.posterior_x0_mean(schedule, torch.as_tensor(x0), xt, steps).numpy(),
                               np.repeat(x0, 6, axis=0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(dm.exact_eps(schedule, x0)(xt, steps).numpy(), noise.numpy(), rtol=0, atol=1e-9)


def test_two_points_give_the_tanh_posterior_mean():
    """x_0 = +-1 with probability 1/2 (1D): E[x_0 | x_t] = tanh(sqrt(a) x_t / (1 - a))."""
    schedule = dm.Schedule(dm.ScheduleConfig("linear", 1000))
    xt = torch.linspace(-3, 3, 61, dtype=torch.float64)[:, None]
    for t in (10, 200, 500, 1000):
        a = schedule.alpha_bar[t]
        got = dm.posterior_x0_mean(schedule, torch.tensor([[1.0], [-1.0]], dtype=torch.float64), xt,
                                   torch.full((61,), t)).numpy()[:, 0]
        np.testing.assert_allclose(got, np.tanh(math.sqrt(a) * xt[:, 0].numpy() / (1 - a)), rtol=0, atol=1e-12)


def test_many_gaussian_points_give_the_gaussian_posterior_mean():
    """50,000 points of N(m, s^2 I): E[x_0 | x_t] = m + sqrt(a) s^2 / (a s^2 + 1 - a) (x_t - sqrt(a) m).

    Tolerance 0.04 on every coordinate, for x_t within 2 standard deviations of q(x_t): the softmax
    average over 50,000 samples is off by about 0.01 here (largest 0.027 over seeds 0-4 and 5 steps).
    """
    schedule = dm.Schedule(dm.ScheduleConfig("cosine", 100))
    m, s = np.array([0.5, -1.0]), 0.7
    rng = np.random.default_rng(0)
    points = m + s * rng.standard_normal((50_000, 2))
    eps_star = dm.exact_eps(schedule, points)
    for t in (10, 30, 50, 70, 90):
        a = schedule.alpha_bar[t]
        spread = math.sqrt(a * s**2 + 1 - a)
        xt = torch.as_tensor(math.sqrt(a) * m + spread * rng.standard_normal((100, 2)).clip(-2, 2))
        steps = torch.full((100,), t)
        want = m + math.sqrt(a) * s**2 / spread**2 * (xt.numpy() - math.sqrt(a) * m)
        got = dm.posterior_x0_mean(schedule, torch.as_tensor(points), xt, steps).numpy()
        np.testing.assert_allclose(got, want, rtol=0, atol=0.04, err_msg=f"t = {t}")
        # eps* of the same points against the Gaussian's exact noise predictor, within the same error
        # carried through eps* = (x_t - sqrt(a) E[x_0 | x_t]) / sqrt(1 - a)
        want_eps = math.sqrt(1 - a) * (xt.numpy() - math.sqrt(a) * m) / spread**2
        np.testing.assert_allclose(eps_star(xt, steps).numpy(), want_eps, rtol=0,
                                   atol=0.04 * math.sqrt(a / (1 - a)), err_msg=f"t = {t}")


def test_exact_eps_refuses_bad_data():
    schedule = dm.Schedule(dm.ScheduleConfig("cosine", 100))
    for bad in (np.zeros((0, 2)), np.array([[0.0, np.nan]]), np.zeros(3)):
        with pytest.raises(ValueError, match="finite"):
            dm.exact_eps(schedule, bad)


@pytest.fixture(scope="module")
def untrained():
    data = toy2d.sample("swiss_roll", 5000, rng=0)
    return Diffusion2DTrainer(Diffusion2DConfig(eval_every=10**9), data)


def test_the_exact_chain_stays_in_view_and_ends_on_its_points(untrained):
    assert len(untrained.exact_points) == N_EXACT
    network = untrained.reverse_film(300, seed=0)
    exact = untrained.reverse_film(300, seed=0, predictor="exact")
    assert exact.predictor == "exact" and network.predictor == "network"
    np.testing.assert_array_equal(exact.frames[0], network.frames[0])  # the same x_T ~ N(0, I)
    assert np.abs(network.frames).max() > 100  # the untrained network throws particles far away
    assert np.abs(exact.frames).max() < 10
    x0 = exact.at(0)
    nearest = np.linalg.norm(x0[:, None] - untrained.exact_points[None], axis=-1).min(axis=1)
    assert np.median(nearest) < 0.05 and nearest.max() < 0.2  # memorised: it returns its own points


def test_an_exact_reverse_step_uses_eps_star_in_float64(untrained):
    x_t = untrained.reverse_film(8, seed=1, predictor="exact").at(30)
    step = untrained.reverse_step(x_t, 30, seed=4, predictor="exact")
    x = torch.as_tensor(x_t.astype(np.float64))
    want = untrained.exact_model(x, torch.full((8,), 30))
    assert step.eps.dtype == torch.float64
    np.testing.assert_allclose(step.eps.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
    eps, score = untrained.noise_field(30, x_t, predictor="exact")
    np.testing.assert_allclose(eps, want.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(score, -eps / math.sqrt(1 - untrained.schedule.alpha_bar[30]), rtol=1e-12)
    torch.testing.assert_close(step.x_prev, step.mean + step.sigma * step.z, rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="unknown predictor"):
        untrained.reverse_step(x_t, 30, seed=4, predictor="oracle")
