"""DDPM math against closed forms: schedules, q(x_t | x_0), the posterior, DDPM / DDIM sampling with
the exact noise predictor of Gaussian data, and inpainting's known region."""

import math

import numpy as np
import pytest
import torch

from engine import diffusion as dm


def gaussian_eps(schedule: dm.Schedule, s: float):
    """The exact E[eps | x_t] for data x_0 ~ N(0, s^2 I): sqrt(1 - a) x_t / (a s^2 + 1 - a), a = alpha_bar_t."""

    def eps(xt, t):
        a = schedule.extract("alpha_bar", t, xt)
        return (1 - a).sqrt() * xt / (a * s**2 + 1 - a)

    return eps


def test_linear_schedule_matches_ho_at_1000_and_rescales():
    s = dm.Schedule(dm.ScheduleConfig("linear", 1000))
    assert s.betas[0] == 0 and s.alpha_bar[0] == 1
    assert s.betas[1] == pytest.approx(1e-4, rel=1e-12) and s.betas[-1] == pytest.approx(0.02, rel=1e-12)
    short = dm.Schedule(dm.ScheduleConfig("linear", 50))
    assert short.betas[1] == pytest.approx(2e-3) and short.betas[-1] == pytest.approx(0.4)
    # the same total noise: alpha_bar_T is tiny either way, but without rescaling T = 50 keeps 60% of the signal
    assert short.alpha_bar[-1] < 1e-4 and s.alpha_bar[-1] < 1e-4
    unscaled = dm.Schedule(dm.ScheduleConfig("linear", 50, rescale=False))
    assert unscaled.alpha_bar[-1] == pytest.approx(np.prod(1 - np.linspace(1e-4, 0.02, 50)), rel=1e-12)
    assert unscaled.alpha_bar[-1] > 0.5


@pytest.mark.parametrize("config", [dm.ScheduleConfig("linear", 1000), dm.ScheduleConfig("cosine", 1000),
                                    dm.ScheduleConfig("cosine", 37), dm.ScheduleConfig("linear", 10)])
def test_alpha_bar_decreases_strictly_within_0_1(config):
    a = dm.Schedule(config).alpha_bar
    assert a[0] == 1 and np.all(np.diff(a) < 0) and np.all(a > 0)
    assert np.all(np.diff(dm.Schedule(config).log_snr[1:]) < 0)


def test_cosine_schedule_matches_its_formula():
    T, s = 1000, 0.008
    sched = dm.Schedule(dm.ScheduleConfig("cosine", T))
    t = np.arange(T + 1)
    f = np.cos((t / T + s) / (1 + s) * np.pi / 2) ** 2
    expected = f / f[0]
    unclipped = sched.betas < dm.MAX_BETA
    assert np.allclose(sched.alpha_bar[unclipped], expected[unclipped], rtol=1e-10, atol=0)
    assert sched.betas.max() == pytest.approx(dm.MAX_BETA)


def test_unknown_options_raise():
    with pytest.raises(ValueError, match="unknown schedule"):
        dm.Schedule(dm.ScheduleConfig("quadratic", 100))
    with pytest.raises(ValueError, match="diffusion steps"):
        dm.Schedule(dm.ScheduleConfig("linear", 1))
    with pytest.raises(ValueError, match="unknown variance"):
        dm.Schedule().sigma("learned")


@pytest.mark.parametrize("t", [1, 10, 200, 1000])
def test_closed_form_q_matches_iterating_the_one_step_process(t):
    sched = dm.Schedule(dm.ScheduleConfig("linear", 1000))
    g = torch.Generator().manual_seed(t)
    n, x0 = 200_000, torch.full((200_000,), 1.5, dtype=torch.float64)
    x = x0.clone()
    for s in range(1, t + 1):  # x_s = sqrt(alpha_s) x_{s-1} + sqrt(beta_s) eps
        noise = torch.randn(n, generator=g, dtype=torch.float64)
        x = math.sqrt(sched.alphas[s]) * x + math.sqrt(sched.betas[s]) * noise
    closed = dm.q_sample(sched, x0, torch.full((n,), t), torch.randn(n, generator=g, dtype=torch.float64))
    mean, var = math.sqrt(sched.alpha_bar[t]) * 1.5, 1 - sched.alpha_bar[t]
    for sample in (x, closed):  # 5 standard errors of the mean and of the variance
        assert sample.mean().item() == pytest.approx(mean, abs=5 * math.sqrt(var / n) + 1e-12)
        assert sample.var().item() == pytest.approx(var, abs=5 * var * math.sqrt(2 / n) + 1e-12)


def test_q_sample_at_t0_is_the_data():
    sched = dm.Schedule(dm.ScheduleConfig("cosine", 100))
    x0 = torch.randn(5, 3)
    assert torch.equal(dm.q_sample(sched, x0, torch.zeros(5, dtype=torch.long), torch.randn(5, 3)), x0)


@pytest.mark.parametrize("kind", dm.SCHEDULES)
@pytest.mark.parametrize("t", [2, 50, 999])
def test_posterior_is_the_bayes_product_of_the_two_gaussians(kind, t):
    """q(x_{t-1} | x_t, x_0) ∝ N(x_t; sqrt(a_t) x_{t-1}, beta_t) N(x_{t-1}; sqrt(abar_{t-1}) x_0, 1 - abar_{t-1})."""
    sched = dm.Schedule(dm.ScheduleConfig(kind, 1000))
    x0, xt = torch.tensor([0.7, -2.0], dtype=torch.float64), torch.tensor([0.1, 1.3], dtype=torch.float64)
    a, b, ab_prev = sched.alphas[t], sched.betas[t], sched.alpha_bar_prev[t]
    precision = a / b + 1 / (1 - ab_prev)
    expected_mean = (math.sqrt(a) / b * xt + math.sqrt(ab_prev) / (1 - ab_prev) * x0) / precision
    mean, var = dm.q_posterior(sched, x0, xt, torch.full((2,), t))
    assert torch.allclose(mean, expected_mean, rtol=1e-10)
    assert var.flatten()[0].item() == pytest.approx(1 / precision, rel=1e-10)


def test_x0_prediction_inverts_q_sample():
    sched = dm.Schedule()
    x0, noise = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    t = torch.tensor([1, 5, 500, 1000])
    xt = dm.q_sample(sched, x0, t, noise)
    assert torch.allclose(dm.predict_x0(sched, xt, t, noise), x0, atol=1e-6)


def test_one_reverse_step_returns_consistent_terms():
    sched = dm.Schedule(dm.ScheduleConfig("linear", 100))
    xt = torch.randn(6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    step = dm.p_sample(sched, gaussian_eps(sched, 0.5), xt, 40, torch.Generator().manual_seed(1))
    assert torch.allclose(step.x_prev, step.mean + step.sigma * step.z)
    assert step.sigma == pytest.approx(math.sqrt(sched.posterior_variance[40]))
    assert torch.allclose(step.x0_hat, dm.predict_x0(sched, xt, torch.full((6,), 40), step.eps))
    last = dm.p_sample(sched, gaussian_eps(sched, 0.5), xt, 1, None)
    assert last.sigma == 0 and torch.equal(last.x_prev, last.mean)
    with pytest.raises(ValueError):
        dm.p_sample(sched, gaussian_eps(sched, 0.5), xt, 0, None)


def exact_ddpm_variance(sched: dm.Schedule, s: float, variance: str) -> float:
    """Var(x_0) of ancestral sampling with the exact Gaussian eps: each step is x_{t-1} = c_t x_t + sigma_t z."""
    v = 1.0
    sigma = sched.sigma(variance)
    for t in range(sched.T, 0, -1):
        a, ab_prev = sched.alpha_bar[t], sched.alpha_bar_prev[t]
        k = math.sqrt(1 - a) / (a * s**2 + 1 - a)  # eps = k x_t
        x0_coef = (1 - math.sqrt(1 - a) * k) / math.sqrt(a)
        c = sched.posterior_mean_coef1[t] * x0_coef + sched.posterior_mean_coef2[t]
        v = c**2 * v + (0.0 if t == 1 else sigma[t] ** 2)
        assert ab_prev <= 1
    return v


@pytest.mark.parametrize("s,variance", [(1.0, "beta"), (0.5, "beta_tilde"), (0.5, "beta")])
def test_ddpm_with_the_exact_noise_predictor_recovers_the_data_variance(s, variance):
    sched = dm.Schedule(dm.ScheduleConfig("linear", 1000))
    x, frames = dm.sample_ddpm(sched, gaussian_eps(sched, s), (20_000, 1), torch.Generator().manual_seed(0),
                               variance=variance, keep=lambda t: t % 500 == 0)
    expected = exact_ddpm_variance(sched, s, variance)
    if (s, variance) == (1.0, "beta"):  # the reverse chain is exactly the forward one reversed (AR(1) symmetry)
        assert expected == pytest.approx(1 - sched.betas[1], rel=1e-9)
    assert expected == pytest.approx(s**2, rel=0.03)  # DDPM's discretisation error is small at T = 1000
    assert x.var().item() == pytest.approx(expected, rel=5 * math.sqrt(2 / 20_000))
    assert sorted(frames) == [0, 500, 1000] and torch.equal(frames[0], x)


def exact_ddim_variance(sched: dm.Schedule, s: float, steps: int) -> float:
    """Var(x_0) of deterministic DDIM with the exact Gaussian eps: each step is x_{t'} = c x_t."""
    v = 1.0
    times = dm.ddim_timesteps(sched.T, steps)
    for t, t_prev in zip(times[:-1], times[1:]):
        a, a_prev = sched.alpha_bar[t], sched.alpha_bar[t_prev]
        k = math.sqrt(1 - a) / (a * s**2 + 1 - a)
        c = math.sqrt(a_prev) * (1 - math.sqrt(1 - a) * k) / math.sqrt(a) + math.sqrt(1 - a_prev) * k
        v *= c**2
    return v


def test_ddim_with_eta_0_is_deterministic_and_follows_its_update():
    sched = dm.Schedule(dm.ScheduleConfig("linear", 1000))
    eps = gaussian_eps(sched, 0.5)
    a = dm.sample_ddim(sched, eps, (20_000, 1), 50, 0.0, torch.Generator().manual_seed(3))
    # same x_T, different generator state afterwards: nothing random happens after x_T when eta = 0
    g = torch.Generator().manual_seed(3)
    x_t = torch.randn((20_000, 1), generator=g)
    g.manual_seed(99)
    times = dm.ddim_timesteps(1000, 50)
    b = x_t
    for t, t_prev in zip(times[:-1], times[1:]):
        b = dm.ddim_step(sched, eps, b, t, t_prev, 0.0, g)
    assert torch.equal(a, b)
    assert times[0] == 1000 and times[-1] == 0 and len(times) == 51
    # each deterministic step scales x linearly: the sample variance is the product of the squares
    assert a.var().item() == pytest.approx(exact_ddim_variance(sched, 0.5, 50), rel=5 * math.sqrt(2 / 20_000))
    # 50 large steps shrink the spread (about 10% here); with every step DDIM is close to exact
    assert exact_ddim_variance(sched, 0.5, 1000) == pytest.approx(0.25, rel=0.01)


def test_ddim_timesteps_reject_bad_counts():
    with pytest.raises(ValueError):
        dm.ddim_timesteps(100, 0)
    with pytest.raises(ValueError):
        dm.ddim_timesteps(100, 101)


@pytest.mark.parametrize("resample", [1, 3])
def test_inpainting_keeps_the_known_region_and_fills_the_rest(resample):
    sched = dm.Schedule(dm.ScheduleConfig("linear", 100))
    x0 = torch.full((8, 1, 6, 6), 0.8)
    known = torch.zeros(1, 1, 6, 6)
    known[..., :3, :] = 1  # keep the top half
    out = dm.inpaint(sched, gaussian_eps(sched, 1.0), x0, known, torch.Generator().manual_seed(0), resample=resample)
    assert torch.equal(out[..., :3, :], x0[..., :3, :])
    assert not torch.allclose(out[..., 3:, :], x0[..., 3:, :])  # regenerated, not copied


def test_prior_kl_bound_is_large_for_a_short_unscaled_chain():
    good = dm.Schedule(dm.ScheduleConfig("linear", 50))
    bad = dm.Schedule(dm.ScheduleConfig("linear", 50, rescale=False))
    assert good.prior_kl_per_dim(1.0) < 1e-3 < 0.05 < bad.prior_kl_per_dim(1.0)
    assert dm.gaussian_kl_to_standard(1.0, 1.0) == math.inf
    # x0 ~ N(0, 1): every q(x_t | x_0) average is N(0, 1) in the marginal, but the bound is per-x0
    assert dm.gaussian_kl_to_standard(0.0, 3.0) == 0.0


def test_moment_matched_kl_is_the_multivariate_gaussian_formula_and_below_the_upper_bound():
    """KL(N(mu, S) || N(0, I)) = (tr S + mu.mu - d - log det S) / 2, per dimension; <= the convexity bound."""
    rng = np.random.default_rng(0)
    root = rng.normal(size=(3, 3))
    cov, mean = root @ root.T + 0.1 * np.eye(3), rng.normal(size=3)
    alpha_bar = dm.Schedule(dm.ScheduleConfig("cosine", 50)).alpha_bar[1:]
    lower = dm.moment_matched_kl_to_standard(alpha_bar, mean, cov)
    for a, value in zip(alpha_bar, lower):
        s, mu = a * cov + (1 - a) * np.eye(3), math.sqrt(a) * mean
        direct = 0.5 * (np.trace(s) + mu @ mu - 3 - np.linalg.slogdet(s)[1]) / 3
        assert value == pytest.approx(direct, rel=1e-9, abs=1e-15)
    second = (np.trace(cov) + mean @ mean) / 3  # E[x0^2] per dimension of data with these moments
    assert np.all(lower <= dm.gaussian_kl_to_standard(alpha_bar, second) + 1e-15)
    assert dm.moment_matched_kl_to_standard(0.0, mean, cov) == 0.0  # pure noise is N(0, I)


def test_a_reverse_step_says_how_much_of_x0_hat_its_clip_moved():
    """The MNIST page prints this share; it is the share of predict_x0's entries outside the clip."""
    sched = dm.Schedule(dm.ScheduleConfig("linear", 100))
    xt = torch.linspace(-4, 4, 200, dtype=torch.float64).reshape(100, 2)
    eps_model = gaussian_eps(sched, 0.5)
    raw = dm.predict_x0(sched, xt, torch.full((100,), 40), eps_model(xt, torch.full((100,), 40)))
    expected = float(((raw < -0.5) | (raw > 0.5)).double().mean())
    step = dm.p_sample(sched, eps_model, xt, 40, None, clip=(-0.5, 0.5))
    assert 0.0 < expected < 1.0 and step.clipped == pytest.approx(expected, abs=0)
    assert step.x0_hat.abs().max() <= 0.5
    assert dm.p_sample(sched, eps_model, xt, 40, None).clipped == 0.0  # no clip, nothing moved
