"""The lecture's claims: each one's "Show it" gives the page its state, and in that state the numbers say
what the claim says (checked on the engine with the claim's own values, to the stated tolerances)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from dashboard.chapters.diffusion.claims import CLAIMS as DIFFUSION
from dashboard.chapters.divergences.claims import CLAIMS as DIVERGENCES
from dashboard.chapters.gan.claims import CLAIMS as GAN
from dashboard.chapters.likelihood.claims import CLAIMS as LIKELIHOOD
from dashboard.chapters.vae.claims import CLAIMS as VAE
from dashboard.shared.claims import OPTIONS
from dashboard.shared.controls import DistSpec
from dashboard.shared.i18n import LANGUAGES, catalog
from engine import capacity, projections, toy2d
from engine import diffusion as dm
from engine import divergences as D
from engine import likelihood as L
from engine.diffusion import inpainting as ip
from engine.distributions import Normal, two_normal_mixture
from engine.gan import exact as G
from engine.gan.live import MODE_STD, PRESETS, GAN2DTrainer, mode_centers, sample_data
from engine.vae.exact import ToyLVM
from engine.vae.live import VAEConfig, VAETrainer
from tests.conftest import HOME_SCRIPT, ROOT
from tests.engine.test_inpainting import digit, tiny_model

PAGES = {"likelihood": LIKELIHOOD, "divergences": DIVERGENCES, "vae": VAE, "gan": GAN, "diffusion": DIFFUSION}
# The likelihood page's data before a claim changes it (dashboard/chapters/likelihood/page.py, DEFAULT_DATA).
LIKELIHOOD_DATA = {"kind": "mixture", "location": 0.0, "scale": 0.5, "weight": 0.35, "separation": 3.0}


def claim(page: str, name: str):
    return next(c for c in PAGES[page] if c.name == name)


def likelihood_data(state: dict) -> DistSpec:
    values = {**LIKELIHOOD_DATA, **{k[5:]: v for k, v in state.items() if k.startswith("data_") and k != "data_n"}}
    return DistSpec(**values)


@pytest.mark.parametrize("page, claim_", [(p, c) for p, cs in PAGES.items() for c in cs],
                         ids=[f"{p}-{c.name}" for p, cs in PAGES.items() for c in cs])
def test_show_it_gives_the_page_the_claims_state(page_app, page, claim_):
    at = page_app(page)
    at.button(key=f"claims_{page}_{claim_.name}_show").click().run()
    assert not at.exception, [e.value for e in at.exception]
    for key, value in claim_.state.items():
        widget = at.session_state[key]
        assert (widget[0] if isinstance(widget, list) else widget) == value, key


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_every_claim_has_its_texts_and_a_right_answer(lang):
    texts = catalog(lang)
    for page, claims in PAGES.items():
        for c in claims:
            for part in ("title", "question", "why", *OPTIONS):
                assert texts.get(f"claims.{page}.{c.name}.{part}", "").strip(), (lang, page, c.name, part)
            assert 0 <= c.answer < len(OPTIONS)


def test_a_wrong_guess_is_corrected_and_a_right_one_confirmed(page_app):
    at = page_app("divergences")
    guess = at.radio(key="claims_divergences_disjoint")
    guess.set_value(0).run()
    assert any("log 2" in box.value for box in at.info)
    at.radio(key="claims_divergences_disjoint").set_value(1).run()
    assert any(box.value.startswith("Right") for box in at.success)


def test_disjoint_supports_numbers():
    state = claim("divergences", "disjoint").state
    p = DistSpec(state["p_kind"], state["p_location"], state["p_scale"]).build()
    q = DistSpec(state["q_kind"], state["q_location"], state["q_scale"]).build()
    report = D.divergence_report(p, q)
    assert math.isinf(report.kl_pq) and math.isinf(report.kl_qp)
    assert report.js == pytest.approx(math.log(2), abs=1e-9)
    assert report.tv == pytest.approx(1.0, abs=1e-12)
    assert report.w1 == pytest.approx(state["q_location"] - state["p_location"], abs=1e-9)  # |theta|


def test_disjoint_supports_on_the_page(page_app):
    at = page_app("divergences")
    at.button(key="claims_divergences_disjoint_show").click().run()
    shown = {m.label: m.value for m in at.metric}
    assert shown["KL(P‖Q)"] == "∞" and float(shown["JS(P, Q)"]) == pytest.approx(math.log(2), abs=5e-4)
    assert float(shown["W₁(P, Q)"]) == pytest.approx(2.0, abs=5e-4)


def test_forward_kl_covers_and_reverse_kl_seeks_a_mode():
    s = claim("divergences", "modes").state
    p = two_normal_mixture(0.0, s["modes_std"], s["modes_weight"], s["modes_separation"])
    forward = projections.fit_forward_kl(p)
    reverse = projections.fit_reverse_kl(p, init_mean=s["modes_init"], init_std=1.0).normal
    half = s["modes_separation"] / 2
    assert math.sqrt(forward.var) > half  # spans both bumps (at -3 and +3)
    assert reverse.mean == pytest.approx(half, abs=0.1) and math.sqrt(reverse.var) < 1.5 * s["modes_std"]


def test_maximum_likelihood_is_minimum_kl():
    p = likelihood_data(claim("likelihood", "mle_kl").state).build()
    best = Normal(p.mean, math.sqrt(p.var))  # the Gaussian maximum-likelihood fit to infinite data from p
    d = L.kl_decomposition(p, best)
    assert d.cross_entropy == pytest.approx(d.entropy + d.kl, abs=1e-9)
    for other in (Normal(p.mean + 0.1, math.sqrt(p.var)), Normal(p.mean, 1.1 * math.sqrt(p.var))):
        assert L.kl_decomposition(p, other).kl > d.kl


def test_monte_carlo_noise_shrinks_as_one_over_root_n():
    p = likelihood_data({}).build()
    model = Normal(p.mean, math.sqrt(p.var))
    curve = L.standard_error_curve(p, model, [125, claim("likelihood", "mc_noise").state["mc_n"]], repeats=400,
                                   rng=np.random.default_rng(0))
    ratio = curve.empirical_se[1] / curve.empirical_se[0]
    assert ratio == pytest.approx(0.5, abs=0.1)  # 4x the samples: half the spread (400 repeats: ~5% noise)


def test_a_tiny_bandwidth_memorises():
    state = claim("likelihood", "memorise").state
    rng = np.random.default_rng(0)
    p = likelihood_data(state).build()
    train, test = p.sample(state["data_n"], rng), p.sample(1000, rng)
    curve = capacity.kde_capacity_curve(train, test, [state["memorise_h"], 0.2])
    assert curve.train_log_likelihood[0] > curve.train_log_likelihood[1] + 2.0
    assert curve.test_log_likelihood[0] < curve.test_log_likelihood[1] - 2.0


def test_one_gaussian_underfits_two_clusters():
    p = likelihood_data(claim("likelihood", "underfit").state).build()
    rng = np.random.default_rng(0)
    train, test = p.sample(100, rng), p.sample(1000, rng)
    gaussian = L.mean_log_likelihood(L.fit_gaussian(train), test)
    mixture = L.mean_log_likelihood(L.fit_mixture(train, 2, seed=0), test)
    assert mixture > gaussian + 0.3


def test_the_elbo_gap_is_the_kl_to_the_posterior():
    s = claim("vae", "elbo_gap").state
    toy, x, q_std = ToyLVM(), (s["vae_x1"], s["vae_x2"]), math.exp(s["vae_log_s"])
    gap = toy.log_marginal(x) - toy.elbo(x, s["vae_mu"], q_std).elbo
    assert gap > 0.1 and gap == pytest.approx(toy.posterior_kl(x, s["vae_mu"], q_std), abs=1e-6)


def test_iwae_tightens_with_k():
    s = claim("vae", "iwae").state
    toy, x, q_std = ToyLVM(), (s["vae_x1"], s["vae_x2"]), math.exp(s["vae_log_s"])
    bounds = toy.iwae_bounds(x, s["vae_mu"], q_std, ks=(1, 10, 100, 1000), repeats=100, rng=0)
    log_px = toy.log_marginal(x)
    gaps = log_px - np.asarray(bounds.mean)
    assert np.all(np.diff(bounds.mean) > 0)  # every larger K is higher (well beyond the standard errors here)
    assert gaps[-1] < gaps[0] / 3 and gaps[-1] >= -3 * bounds.stderr[-1]  # much closer, never above log p(x)


def test_the_value_at_d_star_is_two_js_minus_log_4():
    s = claim("gan", "d_star").state
    p_g = Normal(s["gan_theory_mean"], s["gan_theory_std"])
    game = G.game_at_optimum(G.data_distribution(s["gan_theory_data"]), p_g)
    assert game.value == pytest.approx(2 * game.js - math.log(4), abs=1e-9)
    assert 0.05 < game.js < math.log(2)  # overlapping but different: a value strictly between the extremes


def test_the_saturating_loss_has_no_gradient_where_d_spots_the_fakes():
    s = claim("gan", "saturating").state
    d = G.mean_d_star_on_generated(G.data_distribution(s["gan_theory_data"]),
                                   Normal(s["gan_theory_mean"], s["gan_theory_std"]))
    losses = G.generator_losses(np.array([d]))
    assert d < 0.05  # D* is about 0 on G's samples
    assert abs(losses.grad_saturating[0]) < 0.06 * abs(losses.grad_non_saturating[0])


def test_the_forward_process_ends_at_noise_only_when_the_chain_is_long_enough():
    key = "diffusion_forward_"
    for name, (low, high) in {"ends_gaussian": (0.0, 1e-4), "too_short": (0.5, 0.7)}.items():
        s = claim("diffusion", name).state
        schedule = dm.Schedule(dm.ScheduleConfig(s[key + "schedule"], s[key + "T"], s[key + "rescale"]))
        assert low <= float(schedule.alpha_bar[s[key + "t"]]) <= high, name


def open_link(page: str, query: dict) -> AppTest:
    """The page opened from a link in a fresh browser: the query string is there before the first run."""
    at = AppTest.from_file(str(HOME_SCRIPT), default_timeout=120)
    at.query_params.update({"lang": "en", **query})
    at.run()
    at.switch_page(f"chapters/{page}/page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_claims_link_opens_the_page_in_its_state():
    c = claim("divergences", "disjoint")
    assert c.link("divergences", "ko") == "/divergences?lang=ko&claim=disjoint"
    at = open_link("divergences", {"claim": "disjoint"})
    shown = {m.label: m.value for m in at.metric}
    assert shown["KL(P‖Q)"] == "∞" and float(shown["JS(P, Q)"]) == pytest.approx(math.log(2), abs=5e-4)
    modes = claim("divergences", "modes")
    assert modes.link("divergences", "en").endswith("?lang=en&claim=modes#divergences-modes")


def test_a_preset_claims_link_restarts_the_live_gan_with_the_preset():
    at = open_link("gan", {"claim": "collapse"})
    for key, value in claim("gan", "collapse").state.items():
        assert at.session_state[key] == value, key
    assert at.session_state["gan_live_preset_last"] == "collapse"


def test_an_unknown_claim_in_a_link_is_a_notice():
    at = open_link("divergences", {"claim": "no_such_claim"})
    assert any("no_such_claim" in toast.value for toast in at.toast)


def test_mode_collapse_and_its_cure():
    """The two presets from their claims' state, 1,000 generator iterations each on the ring of 8: the collapsed G
    covers at most 3 modes at every evaluation, the cured one 7 or 8 at the end (seed 0: 8 from iteration 500)."""
    covered = {}
    for name, preset in (("collapse", "collapse"), ("cure", "cover_all")):
        state = claim("gan", name).state
        assert state["gan_live_preset"] == preset
        p = PRESETS[preset]
        trainer = GAN2DTrainer(sample_data(p.dataset, 10_000, rng=0), p.architecture, p.settings,
                               modes=(mode_centers(p.dataset), MODE_STD[p.dataset]))
        trainer.step(1000)
        covered[name] = [e["modes_covered"] for e in trainer.evaluations]
    assert max(covered["collapse"]) <= 3, covered
    assert covered["cure"][-1] >= 7, covered


def test_ddim_with_ten_steps_is_a_hundred_times_cheaper_and_worse():
    """From the shipped DDPM's model card (the numbers the claim's section shows)."""
    state = claim("diffusion", "ddim_fast").state
    samplers = json.loads((ROOT / "assets" / "models" / "ddpm.json").read_text())["evaluation"]["samplers"]
    fast, slow = samplers[f"ddim{state['diffusion_mnist_steps']}"], samplers["ddpm"]
    assert slow["seconds_per_digit"] / fast["seconds_per_digit"] > 50  # 1000 network calls against 10
    assert fast["frechet"] > 1.5 * slow["frechet"]  # and clearly worse digits (147 against 65)


def test_inpainting_keeps_the_known_pixels():
    """RePaint with the claim's mask (a tiny U-Net, as in tests/engine/test_inpainting.py)."""
    state = claim("diffusion", "inpaint_keeps").state
    known = ip.known_mask(state["diffusion_inpaint_preset"])
    image = digit()
    out = ip.repaint(tiny_model(), image, known, n=2, seed=0)
    keep = known[0, 0].bool()
    original = torch.as_tensor(image / 255.0, dtype=torch.float32)
    for completion in out[:, 0]:
        torch.testing.assert_close(completion[keep], original[keep], atol=1e-6, rtol=0)  # float32 rounding only
        assert (completion[~keep] - original[~keep]).abs().max() > 0.1  # the masked half is regenerated


def test_a_large_beta_collapses_the_posterior():
    """The live VAE on the page's data (512 moons, seed 0), 600 steps: KL is about 0 with the claim's beta = 8,
    clearly not with beta = 1."""
    state = claim("vae", "beta_collapse").state
    data = toy2d.sample(state["vae_live_data"], 512, 0)
    kl = {}
    for beta in (1.0, state["vae_live_beta"]):
        trainer = VAETrainer(VAEConfig(latent_dim=state["vae_live_latent"], beta=beta, lr=2e-3), data)
        trainer.step(600)
        kl[beta] = float(np.mean([h["kl"] for h in trainer.history[-50:]]))
    assert kl[state["vae_live_beta"]] < 0.05 and kl[1.0] > 0.5, kl


def test_an_autoencoder_is_not_generative():
    """From the shipped models' cards: the autoencoder's prior samples against the VAE's (classifier Frechet)."""
    assert claim("vae", "ae_generative").section == "vae.mnist"
    ae, vae = (json.loads((ROOT / "assets" / "models" / f"{n}.json").read_text())["metrics"] for n in ("ae", "vae"))
    assert ae["samples_frechet"] > 2 * vae["samples_frechet"]
    assert ae["fitted_gaussian_samples_frechet"] > 1.5 * vae["samples_frechet"]  # even from its own codes' Gaussian
