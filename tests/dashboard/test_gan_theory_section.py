"""AppTest of the GAN page's theory section: the numbers on screen are the engine's, both sides of
V(D*, G) = -log 4 + 2 JS agree, p_g = p_data gives the equilibrium, "Train D" draws a learned D
close to D*, and the generator-loss plot shows both losses."""

import functools
import math

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.chapters.gan.theory import GeneratorSpec
from engine.gan import exact as G
from tests.dashboard.plotly_spec import chart, values

LOG4 = math.log(4.0)


@pytest.fixture
def open_page(page_app):
    return functools.partial(page_app, "gan")


def shown(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def game_on_screen(at: AppTest) -> tuple[float, float, float, float]:
    m = shown(at)
    return (float(m["V(D*, G)"]), float(m["−log 4 + 2·JS"]), float(m["Difference"]), float(m["JS(p_data‖p_g)"]))


def spec_on_screen(at: AppTest) -> tuple[str, GeneratorSpec]:
    v = {w.key: w.value for w in at.slider if w.key and w.key.startswith("gan_theory_")}
    second = at.toggle(key="gan_theory_second").value
    spec = GeneratorSpec(v["gan_theory_mean"], v["gan_theory_std"], second, v["gan_theory_mean2"],
                         v["gan_theory_std2"], v["gan_theory_weight2"])
    return at.selectbox(key="gan_theory_data").value, spec


def traces(at: AppTest, key: str) -> dict[str, dict]:
    return {trace["name"]: trace for trace in chart(at, key)["data"]}


def test_default_numbers_are_the_engines_and_the_identity_holds_on_screen(open_page):
    at = open_page()
    value, identity, difference, js = game_on_screen(at)
    data, spec = spec_on_screen(at)
    game = G.game_at_optimum(G.data_distribution(data), spec.build())
    assert value == pytest.approx(game.value, abs=1e-6) and identity == pytest.approx(game.identity, abs=1e-6)
    assert js == pytest.approx(game.js, abs=1e-6)
    assert abs(value - identity) < 1e-6 and abs(difference) < 1e-6
    assert js > 0.3, "the default p_g starts away from p_data"
    d_star = traces(at, "gan_theory_discriminator")["D*(x) optimal"]
    x = values(d_star["x"])
    np.testing.assert_allclose(values(d_star["y"]), G.optimal_discriminator(G.data_distribution(data),
                                                                            spec.build(), x), atol=1e-12)
    assert "D(x) learned" not in traces(at, "gan_theory_discriminator")


def test_moving_p_g_onto_p_data_gives_the_equilibrium(open_page):
    at = open_page()
    assert at.selectbox(key="gan_theory_data").value == "two_bumps"  # 1/2 N(-2, 0.6^2) + 1/2 N(2, 0.6^2)
    at.toggle(key="gan_theory_second").set_value(True).run()  # enables the second bump's sliders
    for key, v in (("mean", -2.0), ("std", 0.6), ("mean2", 2.0), ("std2", 0.6), ("weight2", 0.5)):
        at.slider(key=f"gan_theory_{key}").set_value(v)
    at.run()
    assert not at.exception
    value, identity, _, js = game_on_screen(at)
    assert value == pytest.approx(-LOG4, abs=1e-6) and identity == pytest.approx(-LOG4, abs=1e-6)
    assert js == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(values(traces(at, "gan_theory_discriminator")["D*(x) optimal"]["y"]), 0.5, atol=1e-6)
    early = next(c.value for c in at.caption if c.value.startswith("Red band"))
    assert "0.500, 0.500, 0.500" in early  # every generated sample sits at D* = 1/2


def test_train_d_draws_the_learned_curve_close_to_d_star_and_a_change_clears_it(open_page):
    at = open_page()
    assert at.selectbox(key="gan_theory_steps").value == 1000
    at.button(key="gan_theory_train").click().run()
    assert not at.exception
    drawn = traces(at, "gan_theory_discriminator")
    learned, d_star = values(drawn["D(x) learned"]["y"]), values(drawn["D*(x) optimal"]["y"])
    error = float(shown(at)["max |D − D*|"])
    assert error < 0.05  # the tolerance tests/engine/test_gan_theory.py states for 1000 steps
    assert np.max(np.abs(learned - d_star)) >= error - 1e-4  # the metric is over a sub-region of the plot
    assert any(c.value.startswith("After 1000 steps") for c in at.caption)
    assert chart(at, "gan_theory_loss_history")["data"][0]["name"] == "D's loss −V(D, G)"
    at.slider(key="gan_theory_mean").set_value(3.0).run()
    assert not at.exception
    assert "D(x) learned" not in traces(at, "gan_theory_discriminator")  # it answered another p_g
    assert "max |D − D*|" not in shown(at)


def test_generator_loss_plot_has_both_losses_and_their_gradients(open_page):
    at = open_page()
    spec = chart(at, "gan_theory_generator")
    by_axis = {(tr["name"], tr.get("yaxis", "y")): tr for tr in spec["data"]}
    sat, ns = by_axis[("log(1 − D): saturating", "y")], by_axis[("−log D: non-saturating", "y")]
    d = values(sat["x"])
    np.testing.assert_allclose(values(sat["y"]), np.log1p(-d), rtol=1e-12)
    np.testing.assert_allclose(values(ns["y"]), -np.log(d), rtol=1e-12)
    np.testing.assert_allclose(values(by_axis[("log(1 − D): saturating", "y2")]["y"]), d, rtol=1e-12)
    np.testing.assert_allclose(values(by_axis[("−log D: non-saturating", "y2")]["y"]), 1 - d, rtol=1e-12)
    bands = [s for s in spec["layout"]["shapes"] if s["type"] == "rect"]
    assert len(bands) == 2 and bands[0]["x1"] < 0.5, "the default p_g sits where D(G(z)) is small"


def test_korean_section(open_page):
    at = open_page("ko")
    assert any(h.value == "1차원에서 정확히 푼 게임" for h in at.header)
    assert "차이" in shown(at)
    assert any("빨간 띠" in c.value for c in at.caption)
    names = set(traces(at, "gan_theory_generator"))
    assert "log(1 − D): 포화" in names and "−log D: 비포화" in names


def test_minibatch_mode_is_named_on_screen(open_page):
    at = open_page()
    at.button_group(key="gan_theory_mode").set_value("minibatch").run()
    assert any(c.value.startswith("A two-layer network") and "minibatches of 256" in c.value for c in at.caption)
    at.selectbox(key="gan_theory_steps").set_value(100).run()
    at.button(key="gan_theory_train").click().run()
    assert not at.exception
    assert any(c.value.startswith("After 100 steps (Minibatches") for c in at.caption)
    assert "D(x) learned" in traces(at, "gan_theory_discriminator")
