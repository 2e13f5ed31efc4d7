"""AppTest of the Diffusion page's forward-process section: the schedules drawn are the engine's,
the cloud at step t is q(x_t | x_0) sampled in closed form (exactly, given its noise, and with the
closed-form mean and variance), the KL curves are the engine's bound and a lower bound below it,
the "x_T is not noise" warning appears for tiny-diffusion's setting and not for the defaults, bad
T is a message, Korean renders, and the 2D part works without MNIST."""

import functools
import math
import os
import re

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from dashboard.chapters.diffusion import forward as F
from dashboard.shared import mnist as shared_mnist
from dashboard.shared.models import mnist_status
from engine import diffusion as dm
from engine import toy2d
from tests.dashboard.plotly_spec import chart, values

WARNING = "does not reach noise"  # the start of the English warning
HAS_MNIST = bool(os.environ.get("MNIST_DIR"))


@pytest.fixture
def open_page(page_app):
    return functools.partial(page_app, "diffusion")


def traces(at: AppTest, key: str) -> dict[tuple[str, str], dict]:
    return {(tr["name"], tr.get("yaxis", "y")): tr for tr in chart(at, key)["data"]}


def settings(at: AppTest) -> tuple[str, int, bool, str, int, int]:
    """(schedule, T, rescale, data set, noise seed, t) as the widgets show them."""
    w = {key: at.session_state[F.KEY + key] for key in ("schedule", "T", "rescale", "data", "seed", "t")}
    return w["schedule"], w["T"], w["rescale"], w["data"], w["seed"], w["t"]


def engine_schedule(kind: str, steps: int, rescale: bool) -> dm.Schedule:
    return dm.Schedule(dm.ScheduleConfig(kind, steps, rescale or kind != "linear"))


def cloud_on_screen(at: AppTest, key: str = F.KEY + "cloud") -> tuple[np.ndarray, np.ndarray]:
    drawn = {tr["name"]: tr for tr in chart(at, key)["data"]}
    x0, xt = drawn["x_0 (data)"], drawn["x_t"]
    return (np.column_stack([values(x0["x"]), values(x0["y"])]),
            np.column_stack([values(xt["x"]), values(xt["y"])]))


def forward_warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if WARNING in w.value]


def test_defaults_draw_the_engines_schedules_and_the_closed_form_cloud(open_page):
    at = open_page()
    kind, steps, rescale, name, seed, step = settings(at)
    assert (kind, steps, rescale) == ("linear", 1000, True)
    assert not forward_warnings(at) and not at.error

    drawn = traces(at, F.KEY + "schedules")
    for label, k in (("linear (chosen)", "linear"), ("cosine", "cosine")):
        s = engine_schedule(k, steps, rescale)
        np.testing.assert_allclose(values(drawn[(label, "y")]["x"]), np.arange(steps + 1) / steps, rtol=0, atol=1e-15)
        np.testing.assert_array_equal(values(drawn[(label, "y")]["y"]), s.alpha_bar)
        np.testing.assert_array_equal(values(drawn[(label, "y2")]["y"]), s.log_snr[1:])  # +inf at t = 0 left out
    assert drawn[("linear (chosen)", "y")]["line"]["width"] > drawn[("cosine", "y")]["line"]["width"]

    assert 0 < step < steps, "the default t shows the cloud half dissolved"
    x0, xt = cloud_on_screen(at)
    np.testing.assert_array_equal(x0, toy2d.sample(name, F.N_POINTS, F.DATA_SEED))
    a = engine_schedule(kind, steps, rescale).alpha_bar[step]
    # Exactly x_t = sqrt(a) x0 + sqrt(1 - a) eps with the seed's noise (float32 on the wire: plotly's encoding).
    eps = torch.randn((F.N_POINTS, 2), generator=torch.Generator().manual_seed(seed), dtype=torch.float64).numpy()
    np.testing.assert_allclose(xt, math.sqrt(a) * x0 + math.sqrt(1 - a) * eps, atol=1e-6)
    # And its moments are q(x_t)'s: mean sqrt(a) mu_0, variance a var_0 + 1 - a (population moments from
    # 200,000 other points), within 4 standard errors of a mean / a variance of n nearly Gaussian draws.
    ref = toy2d.sample(name, 200_000, 123)
    mean, var = math.sqrt(a) * ref.mean(0), a * ref.var(0) + 1 - a
    n = len(xt)
    assert np.all(np.abs(xt.mean(0) - mean) < 4 * np.sqrt(var / n))
    assert np.all(np.abs(xt.var(0) - var) < 4 * var * math.sqrt(2 / n))

    if HAS_MNIST:  # the digit: a held-out one, at the same t, with a film strip over the chain
        from engine.data.mnist import training_data

        at.number_input(key=F.KEY + "digit").set_value(3).run()
        label = int(training_data().heldout_labels[3])
        captions = [img.caption for element in at.get("image") for img in element.proto.imgs]
        assert any(c.startswith(f"A held-out digit, label {label}: x_0 (left) and x_t at t = {step} ")
                   for c in captions)
        row = sorted({round(f * steps) for f in F.ROW_FRACTIONS})
        assert f"The same digit and the same noise at t = {', '.join(map(str, row))}." in captions

    at.slider(key=F.KEY + "t").set_value(steps).run()  # x_T: N(0, I) statistics
    assert not at.exception
    _, xT = cloud_on_screen(at)
    assert np.all(np.abs(xT.mean(0)) < 4 / math.sqrt(n))  # mean 0, standard error 1/sqrt(n)
    cov = np.cov(xT, rowvar=False)
    assert np.all(np.abs(np.diag(cov) - 1) < 4 * math.sqrt(2 / n)) and abs(cov[0, 1]) < 4 / math.sqrt(n)
    a_T = engine_schedule(kind, steps, rescale).alpha_bar[-1]
    shown = {m.label: m.value for m in at.metric}
    assert shown["Signal left √ᾱ_t"] == f"{100 * math.sqrt(a_T):.3g}%" and math.sqrt(a_T) < F.SIGNAL_LEFT_MAX


def test_kl_curves_are_the_engines_bound_and_a_lower_bound_below_it(open_page):
    at = open_page()
    at.selectbox(key=F.KEY + "data").set_value("moons").run()
    kind, steps, rescale, name, _, step = settings(at)
    alpha_bar = engine_schedule(kind, steps, rescale).alpha_bar
    ref = toy2d.sample(name, F.N_MOMENTS, F.DATA_SEED + 1)
    drawn = {tr["name"]: tr for tr in chart(at, F.KEY + "kl")["data"] if tr.get("showlegend", True)}
    upper = values(drawn["2D: upper bound E KL(q(x_t|x_0) ‖ N(0, I))"]["y"])
    np.testing.assert_allclose(upper[1:], dm.gaussian_kl_to_standard(alpha_bar[1:], float(np.mean(ref**2))),
                               rtol=1e-12)
    assert np.isnan(upper[0])  # infinite at t = 0: drawn as a gap
    # The lower bound against the textbook formula 1/(2d) (tr S + |m|^2 - d - log det S), another code path.
    lower = values(drawn["2D: lower bound, Gaussian with the same mean and covariance"]["y"])
    mu, cov = ref.mean(0), np.cov(ref, rowvar=False)
    direct = [0.5 * (np.trace(S) + a * mu @ mu - 2 - np.linalg.slogdet(S)[1]) / 2
              for a, S in ((a, a * cov + (1 - a) * np.eye(2)) for a in alpha_bar)]
    np.testing.assert_allclose(lower, direct, rtol=1e-9, atol=1e-15)
    assert np.all(lower[1:] <= upper[1:] * (1 + 1e-9)) and np.all(np.diff(upper[1:]) < 0)
    if HAS_MNIST:
        from engine.data.mnist import training_data

        pixels = training_data().heldout_images.numpy() / 255.0 * 2 - 1
        mnist = values(drawn["MNIST pixels: upper bound"]["y"])
        np.testing.assert_allclose(mnist[1:], dm.gaussian_kl_to_standard(alpha_bar[1:], float(np.mean(pixels**2))),
                                   rtol=1e-6)
    markers = [tr for tr in chart(at, F.KEY + "kl")["data"] if tr.get("showlegend") is False]
    assert markers and all(values(m["x"])[0] == step for m in markers)


def test_tiny_diffusion_preset_warns_with_the_numbers_and_the_defaults_do_not(open_page):
    at = open_page()
    at.button(key=F.KEY + "preset_tiny").click().run()
    assert not at.exception
    kind, steps, rescale, _, _, step = settings(at)
    assert (kind, steps, rescale, step) == ("linear", 50, False, 50)
    a_T = engine_schedule("linear", 50, False).alpha_bar[-1]
    assert a_T > 0.5  # tiny-diffusion keeps most of the signal: alpha_bar_T = 0.603
    (text,) = forward_warnings(at)
    assert f"ᾱ_T = {a_T:.3g}" in text and f"√ᾱ_T = {math.sqrt(a_T):.1%}" in text
    assert f"{dm.gaussian_kl_to_standard(a_T, float(np.mean(toy2d.sample('swiss_roll', F.N_MOMENTS, 1) ** 2))):.3g}" \
        in text
    np.testing.assert_array_equal(values(traces(at, F.KEY + "schedules")[("linear (chosen)", "y")]["y"]),
                                  engine_schedule("linear", 50, False).alpha_bar)
    at.slider(key=F.KEY + "t").set_value(25).run()  # away from T: the warning draws x_T itself
    x0, xT = cloud_on_screen(at, F.KEY + "final_cloud")
    assert np.corrcoef(x0[:, 0], xT[:, 0])[0, 1] > 0.5, "x_T still carries x_0"
    at.toggle(key=F.KEY + "rescale").set_value(True).run()
    assert not forward_warnings(at)
    at.toggle(key=F.KEY + "rescale").set_value(False).run()
    at.radio(key=F.KEY + "schedule").set_value("cosine").run()
    assert not forward_warnings(at), "the cosine schedule reaches noise at T = 50"
    at.button(key=F.KEY + "preset_ho").click().run()
    assert settings(at)[:3] == ("linear", 1000, True) and not forward_warnings(at)


def test_T_out_of_range_is_a_message_and_a_new_T_keeps_t_at_its_fraction(open_page):
    at = open_page()
    for bad in (5, 5000):
        at.number_input(key=F.KEY + "T").set_value(bad).run()
        assert not at.exception
        assert any(f"T must be a whole number from {F.T_MIN} to {F.T_MAX}; got {bad}" in e.value for e in at.error)
    at.number_input(key=F.KEY + "T").set_value(200).run()
    assert not at.exception and not any("T must be" in e.value for e in at.error)
    assert at.slider(key=F.KEY + "t").max == 200
    at.slider(key=F.KEY + "t").set_value(100)
    at.query_params[F.KEY + "t"] = "100"  # a browser writes a bound widget's value into the URL; AppTest does not
    at.run()
    at.number_input(key=F.KEY + "T").set_value(50).run()
    assert at.slider(key=F.KEY + "t").value == 25  # half way along either chain


def test_korean_section(open_page):
    at = open_page("ko")
    assert any(h.value == "1. 순방향 과정: 데이터가 잡음으로 녹아든다" for h in at.header)
    assert "남은 신호 √ᾱ_t" in {m.label for m in at.metric}
    at.button(key=F.KEY + "preset_tiny").click().run()
    assert not at.exception
    assert any("잡음에 도달하지 못합니다" in w.value for w in at.warning)
    assert ("선형 (선택)", "y") in traces(at, F.KEY + "schedules")


def test_without_mnist_the_2d_part_still_works(open_page, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    mnist_status.clear()  # it caches its answer for a minute (only this cache: the other sections keep theirs)
    shared_mnist._heldout.clear()  # the digits a server loaded stay loaded; this test plays a server without them
    try:
        at = open_page()
        assert any(w.value.startswith("MNIST data not found, so the digit is not shown") for w in at.warning)
        assert cloud_on_screen(at)[1].shape == (F.N_POINTS, 2)
        assert "MNIST pixels: upper bound" not in {tr["name"] for tr in chart(at, F.KEY + "kl")["data"]}
    finally:
        mnist_status.clear()
        shared_mnist._heldout.clear()


def test_the_intro_says_the_path_is_an_arc_not_a_straight_line():
    """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps = cos(theta) x_0 + sin(theta) eps traces an arc of an
    ellipse (tests/engine/test_diffusion_exact.py checks the geometry); the text once said "straight line"."""
    from dashboard.shared.i18n import translate

    english, korean = translate("en", "diffusion_forward.intro"), translate("ko", "diffusion_forward.intro")
    assert "arc" in english and "ellipse" in english
    assert all(match == "not a straight" for match in re.findall(r"\w+ a straight", english)), english
    assert "on a straight line" not in english
    assert "호" in korean and "타원" in korean
    assert all(korean[i:].startswith("직선이 아니라") for i in [m.start() for m in re.finditer("직선", korean)]), korean
