"""Flow matching against closed forms: the exact Gaussian flow, the finite-set minimiser, DDIM as Euler."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import flow
from engine.diffusion import Schedule, ScheduleConfig, ddim_step, exact_eps
from engine.flow.live import Flow2DConfig, Flow2DTrainer

MEAN = np.array([1.5, -0.5])
COV = np.array([[2.0, 0.8], [0.8, 0.6]])  # correlated, so the flow is not a per-axis scaling


def gaussian_run(steps: int, sampler: str, n: int = 64) -> float:
    """Largest distance between where the sampler takes n noise points and where the exact flow does."""
    x0 = torch.randn(n, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    path = flow.sample(flow.gaussian_velocity(MEAN, COV), x0, steps, sampler)
    return float(np.abs(path[-1].numpy() - flow.gaussian_transport(MEAN, COV, x0.numpy())).max())


def test_the_gaussian_velocity_carries_noise_onto_the_data_distribution():
    """Heun lands each point where the exact flow does (m + S^(1/2) x_0): to 1e-4 with 200 steps, 5e-6 with
    1,000 (second order), and the pushed-forward cloud of 20,000 points has the data's mean and covariance
    (Monte Carlo error ~1%)."""
    assert gaussian_run(200, "heun") < 1e-4 and gaussian_run(1000, "heun") < 5e-6
    x0 = torch.randn(20_000, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x1 = flow.sample(flow.gaussian_velocity(MEAN, COV), x0, 50, "heun")[-1].numpy()
    assert np.allclose(x1.mean(0), MEAN, atol=0.04)
    assert np.allclose(np.cov(x1.T), COV, atol=0.05)


def test_euler_is_first_order_and_heun_second_order():
    """Halving the step halves Euler's error and quarters Heun's (ratios within 15% of 2 and 4)."""
    euler = [gaussian_run(n, "euler") for n in (40, 80)]
    heun = [gaussian_run(n, "heun") for n in (40, 80)]
    assert euler[0] / euler[1] == pytest.approx(2.0, rel=0.15)
    assert heun[0] / heun[1] == pytest.approx(4.0, rel=0.15)
    assert heun[1] < euler[1] / 20  # for the same 80 steps, far more accurate


def test_the_gaussian_velocity_is_the_conditional_mean_of_the_target():
    """v*(x, t) = E[x_1 - x_0 | x_t = x]: regress x_1 - x_0 on x_t over 400,000 draws at t = 0.3 (the
    conditional mean is linear for Gaussians) and compare with the closed form at a few points."""
    g = np.random.default_rng(2)
    n, t = 400_000, 0.3
    x0 = g.standard_normal((n, 2))
    x1 = MEAN + g.standard_normal((n, 2)) @ np.linalg.cholesky(COV).T
    xt = (1 - t) * x0 + t * x1
    design = np.column_stack([np.ones(n), xt])
    coef, *_ = np.linalg.lstsq(design, x1 - x0, rcond=None)
    probe = np.array([[0.0, 0.0], [1.0, -1.0], [-0.5, 2.0]])
    fitted = np.column_stack([np.ones(3), probe]) @ coef
    exact = flow.gaussian_velocity(MEAN, COV)(torch.as_tensor(probe), torch.full((3,), t, dtype=torch.float64))
    assert np.allclose(fitted, exact.numpy(), atol=0.02)


def test_the_exact_field_of_a_point_set_ends_on_its_points():
    points = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    x0 = torch.randn(300, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    path = flow.sample(flow.exact_velocity(points), x0, 400, "euler")
    # t = 1 is never evaluated (the last Euler step starts at t = 1 - 1/400); the points are reached to O(step)
    ends = path[-1].numpy()
    nearest = np.linalg.norm(ends[:, None, :] - points[None], axis=2).min(axis=1)
    assert nearest.max() < 0.05
    hits = np.bincount(np.linalg.norm(ends[:, None, :] - points[None], axis=2).argmin(axis=1), minlength=3)
    assert hits.min() > 60  # every point gets its share of the noise (about 100 each)


def test_straight_paths_measure_one_and_curved_ones_more():
    line = np.linspace(0, 1, 11)[:, None, None] * np.array([[[3.0, 4.0]]])
    assert flow.straightness(line) == pytest.approx([1.0])
    x0 = torch.randn(500, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    bimodal = flow.sample(flow.exact_velocity([[-3.0, 0.0], [3.0, 0.0]]), x0, 200, "heun").numpy()
    gaussian = flow.sample(flow.gaussian_velocity(MEAN, COV), x0, 200, "heun").numpy()
    assert np.median(flow.straightness(bimodal)) > np.median(flow.straightness(gaussian))
    assert np.all(flow.straightness(gaussian) >= 1.0 - 1e-9)


@pytest.mark.parametrize(("s", "s_prev"), [(80, 60), (40, 39), (999, 0), (500, 250)])
def test_a_ddim_step_is_an_euler_step_of_the_flow(s, s_prev):
    """engine.diffusion's DDIM step (eta = 0) with the exact noise predictor of a point set, mapped onto the
    flow's path (from_vp), equals one Euler step of the flow ODE with the velocity that predictor implies,
    between the matching times, to float64 rounding."""
    points = np.random.default_rng(5).normal(size=(40, 2))
    schedule = Schedule(ScheduleConfig("linear", 1000, True))
    eps_model = exact_eps(schedule, points)
    x = torch.randn(25, 2, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    ddim = ddim_step(schedule, eps_model, x, s, s_prev, 0.0, None)

    x_flow, t = flow.from_vp(x, schedule.alpha_bar[s])
    eps = eps_model(x, torch.full((25,), s, dtype=torch.long))
    velocity = flow.velocity_from_eps(x_flow, t, eps)  # eps is the same on both paths: x / (a + b) keeps it
    if s_prev == 0:  # abar_0 = 1: the step lands on the data prediction, t = 1
        t_next = 1.0
    else:
        _, t_next = flow.from_vp(x, schedule.alpha_bar[s_prev])
    euler = x_flow + (t_next - t) * velocity
    expected = euler if s_prev == 0 else flow.to_vp(euler, t_next)
    assert torch.allclose(ddim, expected, atol=1e-10, rtol=0)


def test_the_finite_set_velocity_agrees_with_the_exact_noise_predictor():
    """The two exact fields, written independently (engine.diffusion.exact_eps and flow.exact_velocity),
    are the same posterior seen on two parametrisations of one path."""
    points = np.random.default_rng(7).normal(size=(30, 2)) * 2
    schedule = Schedule(ScheduleConfig("cosine", 100))
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    for s in (10, 50, 90):
        x_flow, t = flow.from_vp(x, schedule.alpha_bar[s])
        from_eps = flow.velocity_from_eps(x_flow, t, exact_eps(schedule, points)(x, torch.full((50,), s)))
        direct = flow.exact_velocity(points)(x_flow, torch.full((50,), t, dtype=torch.float64))
        assert torch.allclose(from_eps, direct, atol=1e-8, rtol=1e-8)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="sampler"):
        flow.sample(flow.gaussian_velocity(MEAN, COV), torch.zeros(2, 2), 4, "rk4")
    with pytest.raises(ValueError, match="positive definite"):
        flow.gaussian_velocity(MEAN, [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError):
        flow.sample(flow.gaussian_velocity(MEAN, COV), torch.zeros(2, 2), 0)


def test_the_live_trainer_learns_the_data_and_its_field_approaches_the_exact_one():
    """On Gaussian data the learned velocity approaches the closed form (the loss's minimiser), and the
    samples approach the data: sliced W2 under 3x its floor after 1,200 steps (a few seconds on 2 cores)."""
    def gaussian(n: int, seed: int) -> np.ndarray:
        return MEAN + np.random.default_rng(seed).standard_normal((n, 2)) @ np.linalg.cholesky(COV).T

    g = np.random.default_rng(9)
    trainer = Flow2DTrainer(Flow2DConfig(eval_every=1200, sample_steps=20), gaussian(4000, 9), fresh=gaussian)
    untrained = trainer.evaluations[0]["sliced_w2"]
    trainer.step(1200)
    last = trainer.evaluations[-1]
    assert last["step"] == 1200 and last["sliced_w2"] < 3 * trainer.sliced_w2_floor < untrained
    probe = torch.as_tensor(g.standard_normal((200, 2)) * 0.7 + MEAN * 0.5)  # where x_t lives at t = 0.5
    exact = flow.gaussian_velocity(MEAN, COV)(probe, torch.full((200,), 0.5, dtype=torch.float64)).numpy()
    learned = trainer.velocity_field(0.5, probe.numpy())
    assert np.sqrt(np.mean((learned - exact) ** 2)) < 0.2 * np.sqrt(np.mean(exact**2))


def test_three_samplers_share_the_noise_and_the_flow_on_ddims_clock_is_ddim():
    from engine.flow.samplers import three_samplers

    points = np.random.default_rng(10).normal(size=(60, 2))
    result = three_samplers(points, 80, 7, seed=3)
    starts = [path[0] for path in result.paths.values()]
    assert all(np.array_equal(s, starts[0]) for s in starts)  # one noise draw for all three
    assert result.evaluations == {"ddpm": 7, "ddim": 7, "flow": 7}
    assert three_samplers(points, 80, 7, seed=3, flow_sampler="heun").evaluations["flow"] == 13
    clocked = three_samplers(points, 80, 7, seed=3, flow_sampler="heun", on_ddim_clock=True)
    assert clocked.evaluations["flow"] == 7  # on DDIM's clock the flow takes Euler steps, whatever the solver
    assert np.abs(clocked.samples("flow") - clocked.samples("ddim")).max() < 1e-9
    assert np.abs(result.samples("flow") - result.samples("ddim")).max() > 1e-3  # its own clock differs
