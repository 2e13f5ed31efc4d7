"""AppTest of the Maximum-likelihood page: its numbers are the engine's for the current
controls, the capacity knob shows over- and underfitting, and live training steps, diverges
with a message, and recovers."""

import functools
import math

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.shared.controls import DistSpec
from dashboard.shared.plotting import clip_path
from engine import likelihood as L
from tests.dashboard.plotly_spec import chart, values


@pytest.fixture
def open_page(page_app):
    return functools.partial(page_app, "likelihood")


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}




def data_spec(at: AppTest) -> tuple[DistSpec, int, int]:
    kind = at.button_group(key="data_kind").value
    kind = kind[0] if isinstance(kind, list) else kind
    v = {w.key: w.value for w in at.slider}
    spec = DistSpec(kind, v["data_location"], v["data_scale"], v.get("data_weight", 0.5), v.get("data_separation", 3.0))
    return spec, v["data_n"], int(at.number_input(key="data_seed").value)


def test_default_numbers_are_the_engines_and_satisfy_the_decomposition(open_page):
    at = open_page()
    shown = metrics(at)
    spec, n, seed = data_spec(at)
    train = spec.build().sample(n, np.random.default_rng(seed))
    d = L.kl_decomposition(spec.build(), L.fit_gaussian(train))
    assert float(shown["H(p_data)"]) == pytest.approx(d.entropy, abs=5e-4)
    assert float(shown["KL(p_data‖p_θ)"]) == pytest.approx(d.kl, abs=5e-4)
    assert float(shown["H(p_data, p_θ)"]) == pytest.approx(d.cross_entropy, abs=5e-4)
    # The identity on screen: entropy + KL = cross-entropy (3-decimal rounding of each).
    assert float(shown["H(p_data)"]) + float(shown["KL(p_data‖p_θ)"]) == pytest.approx(
        float(shown["H(p_data, p_θ)"]), abs=2e-3)
    assert float(shown["Train avg"]) == pytest.approx(L.mean_log_likelihood(L.fit_gaussian(train), train), abs=5e-4)


def test_a_mixture_fits_the_two_bumps_better_than_one_gaussian(open_page):
    at = open_page()
    kl_gaussian = float(metrics(at)["KL(p_data‖p_θ)"])
    at.radio(key="model_kind").set_value("mixture").run()
    assert not at.exception
    kl_mixture = float(metrics(at)["KL(p_data‖p_θ)"])
    assert kl_mixture < kl_gaussian / 3, "one Gaussian underfits a two-bump p_data"


def test_a_tiny_bandwidth_memorises_and_the_page_says_it_overfits(open_page):
    at = open_page()
    at.radio(key="model_kind").set_value("kde").run()
    at.select_slider(key="model_h").set_value(0.001).run()
    assert not at.exception
    shown = metrics(at)
    assert float(shown["Train avg"]) > float(shown["Held-out avg"]) + 1.0
    assert any("overfitting" in w.value for w in at.warning)
    # The memorisation check: KDE samples sit much closer to training points than fresh data.
    assert float(shown["median distance, model samples"]) < float(shown["median distance, fresh data"]) / 5


def test_monte_carlo_spread_shrinks_with_n(open_page):
    at = open_page()

    def spread() -> float:
        caption = next(c.value for c in at.caption if c.value.startswith("Standard deviation of the"))
        return float(caption.rsplit(":", 1)[1].split()[0])

    at.select_slider(key="mc_n").set_value(10).run()
    small_n = spread()
    at.select_slider(key="mc_n").set_value(1000).run()
    assert not at.exception
    assert spread() < small_n / 5  # 1/sqrt(100) = 0.1; 1/5 leaves room for the estimate's own noise
    se = chart(at, "mc_se")
    theory, measured = values(se["data"][0]["y"]), values(se["data"][1]["y"])
    assert theory[0] > theory[-1] and measured[0] > measured[-1]


def test_live_training_steps_and_draws_the_path(open_page):
    at = open_page()
    at.button(key="mle_step10").click().run()
    assert not at.exception
    assert any("step 10" in c.value for c in at.caption)
    surface = chart(at, "live_surface")
    path = next(trace for trace in surface["data"] if trace.get("mode") == "lines+markers")
    xs = values(path["x"])
    assert len(xs) == 11  # the start plus ten steps
    assert xs[0] == -3.0  # the far-away start the page uses


def test_a_too_large_learning_rate_pauses_with_a_message_and_recovers(open_page):
    at = open_page()
    at.button_group(key="live_optimizer").set_value("sgd").run()
    at.select_slider(key="live_lr").set_value(100.0).run()
    at.button(key="mle_step10").click().run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any("Training paused" in w and "100" in w for w in warnings), warnings
    at.select_slider(key="live_lr").set_value(0.05).run()
    at.button(key="mle_step10").click().run()
    assert not at.exception
    assert not any("Training paused" in w.value for w in at.warning)
    progress = next(c.value for c in at.caption if c.value.startswith("Training log-likelihood now"))
    assert math.isfinite(float(progress.split("now")[1].split(";")[0]))


def test_korean_page_and_two_d_controls(open_page):
    at = open_page("ko")
    assert at.title[0].value.startswith("최대 우도")
    at.selectbox(key="two_d_data").set_value("ring").run()
    at.button_group(key="two_d_kind").set_value("gaussian").run()
    assert not at.exception
    one = float(metrics(at)["검증 평균 (2D)"])
    at.button_group(key="two_d_kind").set_value("mixture").run()
    assert float(metrics(at)["검증 평균 (2D)"]) > one, "a mixture follows the ring better than one Gaussian"


def test_adam_at_lr_100_leaves_the_surface_the_path_stays_in_view_and_the_page_says_why(open_page):
    at = open_page()
    at.select_slider(key="live_lr").set_value(100.0).run()  # Adam is the default optimiser
    for _ in range(3):
        at.button(key="mle_step10").click().run()
    assert not at.exception
    trainer = at.session_state["live::mle"].trainer
    path = trainer.snapshot().path
    assert trainer.stopped is None and path[-1, 1] > 300  # no divergence: log σ strolled off to hundreds
    left = [w.value for w in at.warning if "left the plotted region" in w.value]
    assert len(left) == 1 and "Adam" in left[0] and "η = 100" in left[0] and "step 1 " in left[0], left
    surface = chart(at, "live_surface")
    x_range, y_range = surface["layout"]["xaxis"]["range"], surface["layout"]["yaxis"]["range"]
    drawn = next(trace for trace in surface["data"] if trace.get("mode") == "lines+markers")
    xs, ys = values(drawn["x"]), values(drawn["y"])
    shown = np.isfinite(xs)
    assert shown.sum() >= 2  # the start and the border crossing of the first step
    assert np.all((xs[shown] >= x_range[0] - 1e-9) & (xs[shown] <= x_range[1] + 1e-9))
    assert np.all((ys[shown] >= y_range[0] - 1e-9) & (ys[shown] <= y_range[1] + 1e-9))
    exits = next(trace for trace in surface["data"] if trace.get("name") == "left the plotted region")
    assert len(values(exits["x"])) >= 1
    at.button(key="mle_reset").click().run()  # back at the start: nothing left the region
    assert not any("left the plotted region" in w.value for w in at.warning)


def test_clip_path_cuts_at_the_border_and_marks_the_exits():
    path = np.array([[0.0, 0.0], [2.0, 0.0], [4.0, 0.0], [0.0, 0.5], [np.nan, 0.0], [0.5, 0.5]])
    points, exits = clip_path(path, (-3.0, 3.0), (-1.0, 1.0))
    np.testing.assert_allclose(exits, [[3.0, 0.0]])  # 2 -> 4 crosses x = 3
    # inside, the cut, a gap (NaN) and back in at x = 3 a quarter of the way 4 -> 0 (y = 0.5 / 4); the NaN
    # point's two segments are dropped
    np.testing.assert_allclose(points, [[0, 0], [2, 0], [3, 0], [np.nan, np.nan], [3, 0.125], [0, 0.5]])
    inside, none = clip_path(path[:3] / 2, (-3.0, 3.0), (-1.0, 1.0))
    np.testing.assert_array_equal(inside, path[:3] / 2)
    assert not len(none)
    points, exits = clip_path([[-5.0, 0.0], [5.0, 0.0]], (-3.0, 3.0), (-1.0, 1.0))  # through the box and out
    np.testing.assert_allclose(points, [[-3.0, 0.0], [3.0, 0.0]])
    np.testing.assert_allclose(exits, [[3.0, 0.0]])
