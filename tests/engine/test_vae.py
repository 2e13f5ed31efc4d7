"""engine.vae, engine.vae.grid, engine.vae.live and engine.vae.mnist: bounds, exact likelihoods, the trainer.

Tolerances on Monte Carlo quantities are k standard errors (k = 4 where one comparison is made,
so a correct implementation fails ~1 run in 16,000; fixed seeds make every run identical anyway).
Standard errors are estimated from the same samples. Exact identities (elbo = reconstruction -
kl, rewinds) are checked to float rounding. Trained toy models are trained for a few hundred
full-batch steps (~1 s each) and shared by the tests of a module.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import checkpoints, toy2d
from engine.training import NON_FINITE, Trainer
from engine.vae import VAE, Autoencoder, ELBOTerms, VAEConfig, config_from_card, iwae_estimates, log_marginal_grid
from engine.vae.live import VAESnapshot, VAETrainer

ROOT = Path(__file__).resolve().parents[2]
MNIST_DIR = os.environ.get("MNIST_DIR")
needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR and Path(MNIST_DIR, "t10k-images-idx3-ubyte.gz").exists()),
    reason="set MNIST_DIR to a folder with the MNIST test split (CI uses ../shared/data/mnist)",
)
MOONS = toy2d.sample("moons", 500, 0)
MNIST_SMALL = VAEConfig(data_dim=784, latent_dim=3, hidden=(32,), likelihood="bernoulli", activation="relu")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module", params=[1, 2], ids=["latent1", "latent2"])
def trained(request):
    """A VAE trained for 600 steps on moons, and 24 of its training points."""
    trainer = VAETrainer(VAEConfig(latent_dim=request.param, eval_every=10**6), MOONS)
    trainer.step(600)
    model = trainer.model.eval().requires_grad_(False)
    return model, torch.as_tensor(MOONS[:24], dtype=torch.float32)


# ---------------------------------------------------------------- models
@pytest.mark.parametrize("config", [VAEConfig(), VAEConfig(latent_dim=1, obs_std=0.2), MNIST_SMALL])
def test_shapes(config):
    vae, ae = VAE(config), Autoencoder(config)
    x = torch.rand(5, config.data_dim)
    mu, log_var = vae.encode(x)
    assert mu.shape == log_var.shape == (5, config.latent_dim)
    assert vae.reparameterize(mu, log_var, gen()).shape == (5, config.latent_dim)
    assert vae.decode(mu).shape == (5, config.data_dim)
    terms = vae.elbo(x, generator=gen())
    assert isinstance(terms, ELBOTerms) and all(t.shape == (5,) for t in terms)
    assert vae.loss(x).shape == () and ae.loss(x).shape == ()
    assert vae.iwae_bound(x, 7, gen()).shape == (5,)
    assert vae.sample(4, gen()).shape == (4, config.data_dim) and ae.sample(4, gen()).shape == (4, config.data_dim)
    assert ae.encode(x).shape == (5, config.latent_dim) and vae.reconstruct(x).shape == ae.reconstruct(x).shape
    if config.likelihood == "bernoulli":
        images = vae.sample(50, gen(), noise=True)
        assert set(images.unique().tolist()) <= {0.0, 1.0}  # Bernoulli pixels; without noise: probabilities
        assert 0 <= vae.sample(50, gen()).min() and vae.sample(50, gen()).max() <= 1


def test_init_is_seeded_leaves_the_global_rng_alone_and_autoencoder_shares_the_decoder_shape():
    state = torch.random.get_rng_state()
    a, b, c = VAE(VAEConfig(seed=3)), VAE(VAEConfig(seed=3)), VAE(VAEConfig(seed=4))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.decoder[0].weight, c.decoder[0].weight)
    ae = Autoencoder(VAEConfig(seed=3))
    assert {k: v.shape for k, v in ae.decoder.state_dict().items()} == \
        {k: v.shape for k, v in a.decoder.state_dict().items()}
    assert ae.encoder[-1].out_features == 2 and a.encoder[-1].out_features == 4  # code vs (mu, log_var)


def test_config_validation():
    for bad in [dict(likelihood="poisson"), dict(latent_dim=0), dict(hidden=()), dict(lr=0.0), dict(beta=-1.0),
                dict(obs_std=0.0), dict(activation="gelu"), dict(batch_size=0), dict(min_obs_std=0.5)]:
        with pytest.raises(ValueError):
            VAEConfig(**bad)
    assert config_from_card(json.loads(json.dumps(VAEConfig().__dict__))) == VAEConfig()  # card round trip


def test_elbo_is_reconstruction_minus_kl_per_example():
    model = VAE(VAEConfig())
    x = torch.as_tensor(MOONS[:16], dtype=torch.float32)
    terms = model.elbo(x, generator=gen())
    torch.testing.assert_close(terms.elbo, terms.reconstruction - terms.kl, rtol=0, atol=1e-6)
    beta = model.elbo(x, beta=3.0, generator=gen())  # same noise: same terms, KL weighted
    torch.testing.assert_close(beta.elbo, terms.reconstruction - 3.0 * terms.kl, rtol=0, atol=1e-5)
    assert model.loss(x, beta=3.0, generator=gen()).item() == pytest.approx(-beta.elbo.mean().item(), rel=1e-6)
    assert torch.all(terms.kl >= 0)


def test_closed_form_kl_matches_monte_carlo():
    """KL(q || N(0, I)) = E_q[log q(z) - log p(z)], estimated with 200,000 draws per example."""
    model = VAE(VAEConfig(seed=1))
    x = torch.as_tensor(MOONS[:6], dtype=torch.float32) * 2.0  # pushes mu away from 0, log_var away from 0
    with torch.no_grad():
        mu, log_var = model.encode(x)
        kl = model.elbo(x, generator=gen()).kl
        eps = torch.randn((200_000, *mu.shape), generator=gen(1), dtype=torch.float64)
        z = mu.double() + torch.exp(0.5 * log_var.double()) * eps
        log_ratio = (-0.5 * eps ** 2 - 0.5 * log_var.double() + 0.5 * z ** 2).sum(-1)  # log q - log p
    se = log_ratio.std(0) / math.sqrt(len(log_ratio))
    assert torch.all((log_ratio.mean(0) - kl.double()).abs() < 4 * se + 1e-6)
    assert kl.min() > 0.01  # a non-trivial check: q is not the prior


# ---------------------------------------------------------------- bounds
def test_iwae_with_one_sample_has_the_elbo_as_expectation(trained):
    model, x = trained
    repeats = 400
    g = gen(2)
    iwae = torch.stack([model.iwae_bound(x, 1, g) for _ in range(repeats)])  # (R, B)
    elbo = torch.stack([model.elbo(x, generator=g).elbo.double() for _ in range(repeats)])
    diff = (iwae - elbo).mean(1)  # (R,) per repeat, averaged over points
    assert abs(diff.mean().item()) < 4 * diff.std().item() / math.sqrt(repeats)


def test_iwae_increases_with_k_and_stays_below_the_exact_log_likelihood(trained):
    model, x = trained
    log_px = log_marginal_grid(model, x)
    g = gen(3)
    means, ses = [], []
    for k, repeats in [(1, 400), (4, 200), (16, 100), (64, 50), (1000, 20)]:
        values = torch.stack([model.iwae_bound(x, k, g) for _ in range(repeats)]).mean(1)  # (R,) mean over x
        means.append(values.mean().item())
        ses.append(values.std().item() / math.sqrt(repeats))
    for (m0, s0), (m1, s1) in zip(zip(means, ses), zip(means[1:], ses[1:])):
        assert m1 > m0 - 4 * math.hypot(s0, s1)
    assert means[-1] > means[0] + 4 * math.hypot(ses[0], ses[-1])  # and strictly, over the whole range
    for m, s in zip(means, ses):
        assert m <= log_px.mean().item() + 4 * s  # E[IWAE_k] <= log p(x)
    assert log_px.mean().item() - means[-1] < 0.02  # k = 1000 is nearly tight on this easy posterior


def test_log_marginal_grid_matches_brute_force_prior_sampling():
    """p(x) = E_{z ~ N(0, I)} p(x|z): 400,000 prior draws; log-mean standard error by the delta method."""
    for latent in (1, 2):
        model = VAE(VAEConfig(latent_dim=latent, obs_std=0.4, seed=5)).requires_grad_(False)
        x = torch.tensor([[0.0, 0.0], [0.5, -0.3], [1.0, 0.8]])
        exact = log_marginal_grid(model, x)
        z = torch.randn((400_000, latent), generator=gen(6))
        log_lik = torch.stack([model.log_likelihood(xi, model.decode(z)).double() for xi in x])  # (3, N)
        shift = log_lik.max(1, keepdim=True).values
        w = torch.exp(log_lik - shift)
        estimate = w.mean(1).log() + shift[:, 0]
        se = w.std(1) / w.mean(1) / math.sqrt(w.shape[1])
        assert torch.all((estimate - exact).abs() < 4 * se), (latent, estimate - exact, se)


def test_grid_quadrature_is_converged_and_pruning_changes_nothing(trained):
    model, x = trained
    adaptive = log_marginal_grid(model, x)
    fine = log_marginal_grid(model, x, 12800 if model.config.latent_dim == 1 else 1280)  # spacing 0.001 / 0.009
    assert (adaptive - fine).abs().max() < 1e-5
    if model.config.latent_dim == 2:
        torch.testing.assert_close(log_marginal_grid(model, x, 160, prune=False), log_marginal_grid(model, x, 160),
                                   rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match="1D or 2D"):
        log_marginal_grid(VAE(VAEConfig(latent_dim=3)), x)


def test_exact_log_likelihood_bounds_the_elbo_pointwise(trained):
    model, x = trained
    elbo = torch.stack([model.elbo(x, generator=gen(i)).elbo.double() for i in range(500)])  # (R, B)
    gap = log_marginal_grid(model, x) - elbo.mean(0)
    se = elbo.std(0) / math.sqrt(len(elbo))
    assert torch.all(gap > -4 * se)  # log p(x) >= ELBO(x): the gap is KL(q(z|x) || p(z|x))


# ---------------------------------------------------------------- the live trainer
def test_trainer_protocol_metrics_and_snapshot():
    trainer = VAETrainer(VAEConfig(latent_dim=2, eval_every=10), MOONS)
    assert isinstance(trainer, Trainer)
    out = trainer.step(20)
    assert len(out) == 20 and trainer.step_count == 20 and trainer.step(0) == []
    assert set(out[1]) == {"loss", "elbo", "reconstruction", "kl"}
    exact_steps = [i + 1 for i, m in enumerate(out) if "log_px" in m]
    assert exact_steps == [1, 10, 20]
    for m in out:
        assert m["loss"] == pytest.approx(-m["elbo"], rel=1e-5)  # beta = 1
        assert m["elbo"] == pytest.approx(m["reconstruction"] - m["kl"], abs=1e-5)
    assert all(out[i - 1]["gap"] > -0.05 for i in exact_steps)  # >= 0 up to the ELBO's MC noise (~0.01)
    snap = trainer.snapshot()
    assert isinstance(snap, VAESnapshot) and snap.step == 20
    assert snap.data.shape == snap.reconstructions.shape == (500, 2)
    assert snap.samples.shape == snap.noisy_samples.shape == (500, 2)
    assert snap.latents.shape == snap.latent_stds.shape == (500, 2) and snap.obs_std.shape == (2,)
    np.testing.assert_array_equal(snap.history["exact_steps"], [1, 10, 20])
    assert snap.history["loss"].shape == (20,) and snap.history["gap"].shape == (3,)
    assert snap.log_px == out[-1]["log_px"] and snap.gap == out[-1]["gap"]  # step 20 was just evaluated
    np.testing.assert_array_equal(trainer.snapshot().samples, snap.samples)  # same z: calm redraws


def test_trainer_is_deterministic_and_state_dict_round_trip_reproduces_the_next_steps():
    config = VAEConfig(latent_dim=1, eval_every=5, batch_size=128, seed=7)
    a, b = VAETrainer(config, MOONS), VAETrainer(config, MOONS)
    assert a.step(12) == b.step(12)
    a.snapshot()  # drawing must not change the training noise
    saved = a.state_dict()
    ahead = a.step(13)
    a.load_state_dict(saved)
    assert a.step_count == 12 and a.step(13) == ahead
    fresh = VAETrainer(config, MOONS)
    fresh.load_state_dict(saved)
    assert fresh.step(13) == ahead
    a.reset()
    assert a.step_count == 0 and a.step(12) == b.history[:12]


def test_a_too_large_learning_rate_stops_with_non_finite_and_resume_rewinds():
    trainer = VAETrainer(VAEConfig(latent_dim=1, lr=1e4, eval_every=10**6), MOONS)
    taken = trainer.step(500)
    assert trainer.stopped is not None and trainer.stopped.code == NON_FINITE
    assert len(taken) < 500 and trainer.step(5) == []
    assert trainer.stopped.detail["lr"] == 1e4 and trainer.stopped.detail["beta"] == 1.0
    trainer.set_lr(1e-3)
    trainer.resume()
    assert trainer.step_count == 0  # rewound to before the failing step() call; the new lr is kept
    assert trainer.lr == 1e-3 and all(math.isfinite(v) for m in trainer.step(20) for v in m.values())


def test_set_beta_and_set_lr_act_on_the_next_step():
    trainer = VAETrainer(VAEConfig(latent_dim=1, eval_every=10**6), MOONS)
    trainer.step(3)
    trainer.set_beta(4.0)
    (m,) = trainer.step(1)
    assert m["loss"] == pytest.approx(-(m["reconstruction"] - 4.0 * m["kl"]), rel=1e-5)
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError):
            trainer.set_beta(bad)
    with pytest.raises(ValueError):
        trainer.set_lr(0.0)
    with pytest.raises(ValueError):
        VAETrainer(VAEConfig(latent_dim=3), MOONS)


def test_large_beta_collapses_the_posterior_to_the_prior():
    """Measured (seed 0, 500 moons points, 800 steps, latent 1): mean KL over the last 50 steps
    1.70 nats at beta = 1 and 1.9e-5 at beta = 8; spread (largest std) of the decoder means of
    prior samples 1.25 vs 0.017.

    At beta = 8 a nat of information costs 8 nats of loss; no code is worth that, so q(z|x) =
    p(z) for every x and the decoder ignores z: every sample lands on the data mean (a blob).
    """
    kl, spread = {}, {}
    for beta in (1.0, 8.0):
        trainer = VAETrainer(VAEConfig(latent_dim=1, beta=beta, eval_every=10**6), MOONS)
        history = trainer.step(800)
        kl[beta] = np.mean([m["kl"] for m in history[-50:]])
        spread[beta] = trainer.snapshot().samples.std(0).max()
    assert kl[8.0] < 0.05 < 0.5 < kl[1.0]
    assert spread[8.0] < 0.05 and spread[1.0] > 0.5  # decoder means of prior samples: a point vs the moons


# ---------------------------------------------------------------- checkpoints and MNIST
def test_checkpoint_round_trip_of_a_vae_and_an_autoencoder(tmp_path):
    from engine.vae.mnist import build_autoencoder, build_vae

    x = torch.rand(4, 784)
    for model, build in [(VAE(MNIST_SMALL), build_vae), (Autoencoder(MNIST_SMALL), build_autoencoder)]:
        card = {"config": MNIST_SMALL}  # a dataclass is stored as plain JSON
        checkpoints.save_checkpoint(model, tmp_path / "m", card)
        loaded = build(checkpoints.read_card(tmp_path / "m")["config"])
        checkpoints.load_checkpoint(tmp_path / "m", loaded)
        torch.testing.assert_close(loaded.reconstruct(x), model.reconstruct(x), rtol=0, atol=0)
    assert {"vae2d", "vae", "ae"} <= set(checkpoints.registered_names())


@needs_mnist
@pytest.mark.parametrize("name", ["vae", "vae2d"])
def test_shipped_vae_heldout_elbo_is_reproduced_from_the_checkpoint(name):
    """The card's held-out -ELBO, recomputed from the weights.

    Same generator seed: the same noise, so only float rounding can differ (thread count, BLAS;
    measured: identical at 1 and 2 threads): tolerance 1e-3 nats. Another seed: two independent one-sample
    estimates of the same mean differ by N(0, 2 se^2), se = the card's Monte Carlo standard
    error (~0.05 nats); tolerance 4 * sqrt(2) * se.
    """
    from engine.data.mnist import training_data
    from engine.vae.mnist import heldout_elbo

    model, card = checkpoints.load_pretrained(name, device="cpu")
    data = training_data()
    seed = card["evaluation"]["elbo"]["generator_seed"]
    metrics = card["metrics"]
    same = -heldout_elbo(model, data.heldout_images, gen(seed)).mean().item()
    assert same == pytest.approx(metrics["heldout_neg_elbo"], abs=1e-3)
    other = -heldout_elbo(model, data.heldout_images, gen(seed + 100)).mean().item()
    assert abs(other - metrics["heldout_neg_elbo"]) < 4 * math.sqrt(2) * metrics["heldout_neg_elbo_mc_se"]
    assert metrics["heldout_iwae_loglik"] > metrics["heldout_elbo_same_digits"]  # the tighter bound, same digits
    assert card["evaluation"]["iwae"]["k"] == 1000 and card["evaluation"]["iwae"]["n"] == 500
    assert card["data"]["n_train"] == 8000 and "8000-9999" in card["data"]["description"]


@needs_mnist
def test_shipped_autoencoder_reconstruction_error_is_reproduced():
    from engine.data.mnist import training_data
    from engine.vae.mnist import reconstruction_errors

    model, card = checkpoints.load_pretrained("ae", device="cpu")
    errors = reconstruction_errors(model, training_data().heldout_images)
    assert errors["heldout_reconstruction_nats"] == pytest.approx(card["metrics"]["heldout_reconstruction_nats"],
                                                                  abs=1e-3)


@needs_mnist
def test_cli_smoke_run_writes_a_vae_card(tmp_path):
    result = subprocess.run([sys.executable, "-m", "engine.train", "vae2d", "--max-steps", "3", "--out", str(tmp_path),
                             "--device", "cpu"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    card = checkpoints.read_card(tmp_path / "vae2d")
    assert card["name"] == "vae2d" and card["training"]["steps"] == 3 and card["model"] == "VAE"
    assert card["config"]["latent_dim"] == 2 and "Bernoulli" in card["likelihood"]
    assert {"heldout_neg_elbo", "heldout_iwae_loglik", "samples_frechet"} <= set(card["metrics"])
    model = VAE(config_from_card(card["config"]))
    checkpoints.load_checkpoint(tmp_path / "vae2d", model)


# ---------------------------------------------------------------- L_K from one pool (the MNIST page's table)
NESTED_KS = (1, 10, 100, 1000)  # each divides the next: the pooled means are ordered (iwae_estimates)


def test_log_weights_are_the_iwae_bound_s_weights(trained):
    model, x = trained
    log_w = model.log_weights(x, 300, gen(5))
    assert log_w.shape == (300, len(x)) and log_w.dtype == torch.float64
    expected = torch.logsumexp(log_w, 0) - math.log(300)
    torch.testing.assert_close(model.iwae_bound(x, 300, gen(5)), expected, rtol=0, atol=1e-12)


def test_iwae_estimates_cut_the_pool_into_independent_groups():
    log_w = torch.randn(1000, 3, generator=gen(6), dtype=torch.float64) * 2.0  # (S, B)
    table = iwae_estimates(log_w, (1, 5, 250))
    assert table.groups == (1000, 200, 4) and table.mean.shape == table.stderr.shape == (3, 3)
    torch.testing.assert_close(table.mean[:, 0], log_w.mean(0))  # K = 1: the mean log-weight (the ELBO)
    torch.testing.assert_close(table.stderr[:, 0], log_w.std(0) / math.sqrt(1000))
    draws = torch.logsumexp(log_w.reshape(4, 250, 3), 1) - math.log(250)  # groups of 250 consecutive samples
    torch.testing.assert_close(table.mean[:, 2], draws.mean(0))
    torch.testing.assert_close(table.stderr[:, 2], draws.std(0) / 2.0)
    for bad in ((0, 10), (1, 600)):  # K < 1; fewer than two groups of the largest K
        with pytest.raises(ValueError):
            iwae_estimates(log_w, bad)


@pytest.mark.parametrize("seed", range(5))
def test_nested_groups_order_the_estimates_whatever_the_draws(seed):
    """Jensen, group by group, for any pool: here heavy-tailed log-weights (Student t, 2 dof)."""
    rng = np.random.default_rng(seed)
    log_w = torch.as_tensor(3.0 * rng.standard_t(2, size=(5000, 16)))
    mean = iwae_estimates(log_w, NESTED_KS).mean
    assert torch.all(mean[:, 1:] >= mean[:, :-1])


def test_pooled_estimates_stay_below_the_exact_log_likelihood(trained):
    model, x = trained
    table = iwae_estimates(model.log_weights(x, 5000, gen(7)), NESTED_KS)
    log_px = log_marginal_grid(model, x).mean().item()
    mean, stderr = table.mean.mean(0), table.stderr.pow(2).mean(0).sqrt() / math.sqrt(len(x))  # over points
    assert torch.all(mean <= log_px + 4 * stderr)  # E[L_K] <= log p(x)
    assert mean[-1] > mean[0] + 4 * math.hypot(stderr[0], stderr[-1])  # and more samples help


@needs_mnist
def test_the_mnist_page_table_increases_with_k_and_reports_its_noise():
    from engine.data.mnist import training_data
    from engine.vae.mnist import TABLE_KS, TABLE_SAMPLES, iwae_table

    model, _ = checkpoints.load_pretrained("vae", device="cpu")
    digits = training_data().heldout_images[:8]  # the page's eight digits
    table = iwae_table(model, digits, seed=0)
    assert table.ks == TABLE_KS and table.groups == tuple(TABLE_SAMPLES // k for k in TABLE_KS)
    assert table.mean.shape == table.stderr.shape == (8, len(TABLE_KS))
    assert np.all(np.diff(table.mean, axis=1) > 0)  # every digit: L_1 < L_10 < L_100 < L_1000
    assert np.all(np.isfinite(table.stderr)) and np.all(table.stderr > 0)
    # L_1 averages TABLE_SAMPLES one-sample ELBOs: its noise is far below the ELBO gap it is compared with
    assert np.all(table.mean[:, -1] - table.mean[:, 0] > 4 * np.hypot(table.stderr[:, 0], table.stderr[:, -1]))
