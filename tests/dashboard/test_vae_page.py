"""AppTest of the VAE page: the exact toy section (the gap identity on screen, the preset and
"Optimise q" controls, the IWAE curve between the ELBO and log p(x)), the live section (numbers
on the same evaluation points that add up on screen, the collapse note) and the MNIST section."""

import functools
import math
import os
import re

import pytest

from dashboard.shared.i18n import catalog, translate
from engine.vae.exact import PRESETS, ToyLVM
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
    at.button(key="vae_optimise").click().run()
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
    at.button(key="vae_optimise").click().run()
    assert not at.exception and metrics(at)["gap"] < 0.01


def test_iwae_climbs_from_the_elbo_towards_log_px_and_korean_renders(open_page):
    at = open_page("ko")
    assert at.title[0].value.startswith("잠재 변수")
    iwae = chart(at, "vae_iwae")
    mean = values(next(tr for tr in iwae["data"] if tr.get("mode") == "lines+markers")["y"])
    shown = metrics(at)
    assert mean[-1] > mean[0]
    assert mean[-1] == pytest.approx(shown["log p(x)"], abs=0.2)


def parse(template: str, text: str) -> dict[str, float]:
    """The numbers a catalog template ("... {elbo:.3f} ...") was filled with, read back from ``text``."""
    pattern, end = "", 0
    for field in re.finditer(r"\{(\w+)(?::[^}]*)?\}", template):
        pattern += re.escape(template[end:field.start()]) + rf"(?P<{field.group(1)}>-?\d+(?:\.\d+)?)"
        end = field.end()
    found = re.fullmatch(pattern + re.escape(template[end:]), text)
    assert found, f"{text!r} does not follow {template!r}"
    return {k: float(v) for k, v in found.groupdict().items()}


def live_numbers(at, lang: str = "en") -> dict[str, float]:
    template = catalog(lang)["vae.live.numbers"]
    lead = template.split("{", 1)[0]
    (text,) = [c.value for c in at.caption if c.value.startswith(lead)]
    return parse(template, text)


def decimals(template_key: str, field: str, lang: str = "en") -> int:
    return int(re.search(rf"\{{{field}:\.(\d)f\}}", catalog(lang)[template_key]).group(1))


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_live_numbers_are_on_the_same_evaluation_points_and_add_up(open_page, lang):
    at = open_page(lang)
    at.button(key="vae_step100").click().run()
    assert not at.exception
    shown = live_numbers(at, lang)
    snap = at.session_state["live::vae"].trainer.snapshot()
    assert (shown["n"], shown["step"]) == (snap.eval_points, snap.step)
    unit = 10.0 ** -decimals("vae.live.numbers", "elbo", lang)  # every number has this many decimals
    for key in ("elbo", "reconstruction", "kl", "gap", "log_px"):
        assert shown[key] == pytest.approx(getattr(snap, key), abs=unit / 2 + 1e-12)
    # Each shown number is rounded (error <= unit / 2), and sums of shown numbers are whole multiples of
    # the unit, so an identity that holds exactly holds on screen to one unit in the last place.
    assert abs(shown["elbo"] + shown["gap"] - shown["log_px"]) <= unit + 1e-9
    assert abs(shown["reconstruction"] - shown["kl"] - shown["elbo"]) <= unit + 1e-9
    assert -0.05 < shown["gap"] < 1.0  # a sensible mean KL(q‖posterior) for a briefly trained 1D-latent VAE
    panels = chart(at, "vae_live_panels")
    assert len(panels["data"]) == 4  # data, reconstructions, noisy samples, samples
    curves = {tr["name"]: tr for tr in chart(at, "vae_live_curves")["data"]}
    assert translate(lang, "vae.series.batch_elbo") in curves  # the per-step curve says it is the batch's
    evaluated = values(curves[translate(lang, "vae.series.eval_elbo")]["y"])
    assert evaluated[-1] == pytest.approx(snap.elbo)  # the markers are the caption's ELBO


def press_until_collapse(at, max_presses: int) -> tuple[list[bool], list[bool]]:
    """Press "step ×100" until the collapse note shows (at most ``max_presses``): per press, whether
    the note showed and whether the engine's snapshot says collapsed."""
    shown, engine = [], []
    note = translate("en", "vae.live.collapse", beta=0.0, kl=0.0, spread=0.0).split("(", 1)[0]
    for _ in range(max_presses):
        at.button(key="vae_step100").click().run()
        assert not at.exception
        shown.append(any(i.value.startswith(note) for i in at.info))
        engine.append(at.session_state["live::vae"].trainer.snapshot().collapsed)
        if shown[-1]:
            break
    return shown, engine


def test_the_collapse_note_shows_when_the_engine_sees_collapse_and_not_at_beta_1(open_page):
    at = open_page()
    at.select_slider(key="vae_live_beta").set_value(8.0).run()  # beta = 8 from the first step
    shown, engine = press_until_collapse(at, max_presses=15)
    assert shown == engine  # the page shows exactly what the engine judges
    assert shown[-1], "no collapse note at beta = 8"
    steps = at.session_state["live::vae"].trainer.step_count
    calm = open_page()  # the same presses at beta = 1: no note
    shown, engine = press_until_collapse(calm, max_presses=len(shown))
    assert not any(shown) and not any(engine)
    assert calm.session_state["live::vae"].trainer.step_count == steps


@pytest.mark.skipif(not os.environ.get("MNIST_DIR"),
                    reason="set MNIST_DIR to a folder with the MNIST test split (CI uses ../shared/data/mnist)")
def test_mnist_section_shows_the_shipped_models_and_their_honest_numbers(open_page):
    from engine import checkpoints
    from engine.vae.mnist import TABLE_KS, TABLE_SAMPLES

    at = open_page()
    assert not at.error, [e.value for e in at.error]
    card = checkpoints.read_card(checkpoints.ASSETS_DIR / "vae")
    text = " ".join(m.value for m in at.markdown)
    assert f"{card['metrics']['heldout_neg_elbo']:.2f}" in text  # the card's numbers, not hard-coded ones
    tables = [d.value for d in at.dataframe]
    samples = next(tb for tb in tables if "class entropy" in tb.columns)
    entropy = dict(zip(samples["model"], samples["class entropy"].astype(float)))
    assert entropy["VAE, 2D latent"] > entropy["autoencoder (2D code)"]  # prior samples: the AE covers fewer digits
    columns = [f"L_{k}" for k in TABLE_KS]
    bounds = next(tb for tb in tables if columns[-1] in tb.columns)
    for _, row in bounds.iterrows():  # every digit: "mean ± standard error", means increasing with K
        mean, stderr = zip(*(map(float, row[c].split(" ± ")) for c in columns))
        assert list(mean) == sorted(mean) and mean[-1] > mean[0] and all(e > 0 for e in stderr)
    caption = translate("en", "vae.mnist.bounds_caption", samples=TABLE_SAMPLES, k_max=TABLE_KS[-1],
                        groups=TABLE_SAMPLES // TABLE_KS[-1])
    assert caption in [c.value for c in at.caption]  # the noise and the ordering explained
    at.slider(key="vae_z1").set_value(2.0).run()
    assert not at.exception


def test_the_iwae_k_axis_labels_each_tick_with_its_value():
    """Plotly's own log ticks read "1 2 5 10 2 5 100 2 5 1000"; the K axis names every tick in full."""
    import numpy as np

    from dashboard.chapters.vae.plots import iwae_figure
    from tests.dashboard.test_diffusion_mnist_section import _parse_tick

    ks = np.array([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000])
    labels = {k: k for k in ("nats", "spread", "iwae", "log_px", "elbo")}
    axis = iwae_figure(ks, -9.0 + 0 * ks, 0.1 + 0 * ks, 1.0 + 0 * ks, -11.0, -8.0, labels=labels).layout.xaxis
    assert axis.type == "log" and axis.tickvals and len(axis.tickvals) == len(axis.ticktext) >= 3
    for value, text in zip(axis.tickvals, axis.ticktext):
        assert _parse_tick(text) == value
