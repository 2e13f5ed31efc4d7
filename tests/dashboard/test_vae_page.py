"""AppTest of the VAE page's exact toy section: the gap identity on screen, the preset and
"Optimise q" controls, and the IWAE curve between the ELBO and log p(x)."""

import functools
import math
import os

import pytest

from engine.vae_toy import PRESETS, ToyLVM
from tests.dashboard.plotly_spec import chart, values


@pytest.fixture
def open_page(page_app):
    return functools.partial(page_app, "vae")


def metrics(at) -> dict[str, float]:
    return {m.label: float(m.value) for m in at.metric}


def test_the_gap_equals_the_posterior_kl_and_matches_the_engine(open_page):
    at = open_page()
    shown = metrics(at)
    x = (at.slider(key="vae_x1").value, at.slider(key="vae_x2").value)
    mu, s = at.slider(key="vae_mu").value, math.exp(at.slider(key="vae_log_s").value)
    toy = ToyLVM()
    assert shown["log p(x)"] == pytest.approx(toy.log_marginal(x), abs=5e-4)
    assert shown["ELBO"] == pytest.approx(toy.elbo(x, mu, s).elbo, abs=5e-4)
    assert shown["gap"] == pytest.approx(shown["KL(q‖p(z|x))"], abs=1e-3)
    assert shown["ELBO"] == pytest.approx(shown["reconstruction"] - shown["KL(q‖p(z))"], abs=2e-3)
    identity = next(c.value for c in at.caption if c.value.startswith("Check: gap"))
    assert float(identity.rsplit("by", 1)[1].strip(" .")) < 1e-6


def test_optimising_q_shrinks_the_gap_to_what_a_gaussian_can_do(open_page):
    at = open_page()
    before = metrics(at)["gap"]
    at.button[0].click().run()
    assert not at.exception
    after = metrics(at)["gap"]
    assert after < before
    assert after > 0.69  # two equal posterior bumps: one Gaussian loses about log 2 nats
    surface = chart(at, "vae_surface")
    path = next(tr for tr in surface["data"] if tr.get("mode") == "lines+markers")
    assert len(values(path["x"])) > 2  # the optimiser's path is drawn


def test_a_near_gaussian_posterior_nearly_closes_the_gap(open_page):
    at = open_page()
    at.button_group(key="vae_preset").set_value("near_gaussian").run()
    assert (at.slider(key="vae_x1").value, at.slider(key="vae_x2").value) == PRESETS["near_gaussian"]
    at.button[0].click().run()
    assert not at.exception and metrics(at)["gap"] < 0.01


def test_iwae_climbs_from_the_elbo_towards_log_px_and_korean_renders(open_page):
    at = open_page("ko")
    assert at.title[0].value.startswith("잠재 변수")
    iwae = chart(at, "vae_iwae")
    mean = values(next(tr for tr in iwae["data"] if tr.get("mode") == "lines+markers")["y"])
    shown = metrics(at)
    assert mean[-1] > mean[0]
    assert mean[-1] == pytest.approx(shown["log p(x)"], abs=0.2)


def test_live_vae_steps_report_the_exact_gap_and_large_beta_collapses(open_page):
    at = open_page()
    at.button(key="vae_step100").click().run()
    assert not at.exception
    line = next(c.value for c in at.caption if c.value.startswith("Last step"))
    gap = float(line.rsplit("true gap", 1)[1].split()[0])
    assert -0.05 < gap < 1.0  # a sensible mean KL(q‖posterior) for a briefly trained 1D-latent VAE
    panels = chart(at, "vae_live_panels")
    assert len(panels["data"]) == 4  # data, reconstructions, noisy samples, samples
    at.select_slider(key="vae_live_beta").set_value(8.0).run()
    for _ in range(4):
        at.button(key="vae_step100").click().run()
    assert not at.exception
    assert any("Posterior collapse" in i.value for i in at.info)


@pytest.mark.skipif(not os.environ.get("MNIST_DIR"),
                    reason="set MNIST_DIR to a folder with the MNIST test split (CI uses ../shared/data/mnist)")
def test_mnist_section_shows_the_shipped_models_and_their_honest_numbers(open_page):
    from engine import checkpoints

    at = open_page()
    assert not at.error, [e.value for e in at.error]
    card = checkpoints.read_card(checkpoints.ASSETS_DIR / "vae")
    text = " ".join(m.value for m in at.markdown)
    assert f"{card['metrics']['heldout_neg_elbo']:.2f}" in text  # the card's numbers, not hard-coded ones
    tables = [d.value for d in at.dataframe]
    samples = next(tb for tb in tables if "class entropy" in tb.columns)
    entropy = dict(zip(samples["model"], samples["class entropy"].astype(float)))
    assert entropy["VAE, 2D latent"] > entropy["autoencoder (2D code)"]  # prior samples: the AE covers fewer digits
    bounds = next(tb for tb in tables if "L_5000" in tb.columns)
    first = [float(bounds[c].iloc[0].split(" ± ")[0]) for c in ("L_1", "L_10", "L_100", "L_1000", "L_5000")]
    assert first[-1] > first[0]  # more importance samples: a tighter bound than the ELBO
    at.slider(key="vae_z1").set_value(2.0).run()
    assert not at.exception
