"""The Diffusion page's live 2D section and its "one reverse step" section through AppTest: drawing,
step buttons, the charts' numbers against the trainer's, the animation's frames, the one-step numbers
against ``engine.diffusion.p_sample``, CSV uploads, Korean, live and restarting settings, a diverging run.

The sections run alone (a two-line script), so a slow or unfinished section elsewhere on the page
neither slows nor breaks these tests (the page's own AppTest draws them together). AppTest does not tick the
``run_every`` fragment, so the tests press the buttons and call ``live_training.advance`` directly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from dashboard.chapters.diffusion import step2d as diffusion_step2d
from dashboard.shared import live_training as live
from dashboard.shared.i18n import translate
from dashboard.shared.plotting import bucket_means, thin
from engine import diffusion as dm
from engine.data.points import MAX_BYTES, MAX_POINTS, PointsError, parse_points_csv, standardize
from engine.diffusion.live import Diffusion2DConfig
from tests.conftest import APP_TIMEOUT_S
from tests.dashboard.plotly_spec import chart, values

KEY = "diffusion_live"
SCRIPT = """
from dashboard.chapters.diffusion import live as diffusion_live
diffusion_live.section()
"""


def section_app(lang: str = "en", steps: int | None = 20) -> AppTest:
    """The sections alone; ``steps`` (T) 20 keeps the chains of the film and the metric short (None: default)."""
    at = AppTest.from_string(SCRIPT, default_timeout=APP_TIMEOUT_S)
    at.session_state["lang"] = lang
    if steps is not None:
        at.session_state[f"{KEY}_steps"] = steps
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def app():
    return section_app()


def slot(at) -> live.Slot:
    return at.session_state[f"live::{KEY}"]


def trace(spec: dict, name: str) -> dict:
    found = [tr for tr in spec["data"] if tr.get("name") == name]
    assert found, f"no trace {name!r} in {[tr.get('name') for tr in spec['data']]}"
    return found[0]


def label(name: str, lang: str = "en") -> str:
    return translate(lang, f"diffusion_live.plot.{name}")


def test_default_section_draws_every_figure_with_the_trainers_numbers():
    app = section_app(steps=None)
    trainer = slot(app).trainer
    assert trainer.config == Diffusion2DConfig()
    samples = trace(chart(app, f"{KEY}_samples"), label("samples"))
    np.testing.assert_allclose(values(samples["x"]), thin(trainer.samples, 500)[:, 0], rtol=1e-6)
    curves = chart(app, f"{KEY}_curves")
    w2 = trace(curves, label("sliced_w2"))
    np.testing.assert_allclose(values(w2["y"]), [e["sliced_w2"] for e in trainer.evaluations], rtol=1e-6)
    floor = trainer.sliced_w2_floor
    for k in (2, 3):  # the targets drawn as guides at k times the floor
        guide = trace(curves, translate("en", "diffusion_live.plot.times_floor").format(k=k))
        np.testing.assert_allclose(values(guide["y"]), [k * floor, k * floor], rtol=1e-6)
    np.testing.assert_allclose(values(trace(curves, label("floor"))["y"]), [floor, floor], rtol=1e-6)
    assert app.header[0].value == translate("en", "diffusion_live.title")
    assert app.header[1].value == translate("en", "diffusion_live.step.title")


def test_the_reverse_film_is_a_client_side_animation_of_the_sampling_chain(app):
    trainer = slot(app).trainer
    spec = chart(app, f"{KEY}_film")
    frames = spec["frames"]
    total = trainer.config.steps
    assert 2 <= len(frames) <= 51 and frames[0]["name"] == str(total) and frames[-1]["name"] == "0"
    assert spec["layout"]["updatemenus"][0]["buttons"][0]["method"] == "animate"  # play runs in the browser
    assert [s["label"] for s in spec["layout"]["sliders"][0]["steps"]] == [f["name"] for f in frames]
    # at first view (nothing trained) the chain is the exact predictor's; the film's last frame is its sample
    x0, _ = trainer.sample(1000, seed=0, predictor="exact")
    np.testing.assert_allclose(values(frames[-1]["data"][0]["x"]), thin(x0, 500)[:, 0], rtol=1e-5, atol=1e-5)
    assert len(values(frames[0]["data"][0]["x"])) == 500
    app.radio(key=diffusion_step2d.PREDICTOR_KEY).set_value("network").run()  # the network's own chain
    assert not app.exception
    x0, _ = trainer.sample(1000, seed=0)
    last = chart(app, f"{KEY}_film")["frames"][-1]["data"][0]["x"]
    np.testing.assert_allclose(values(last), thin(x0, 500)[:, 0], rtol=1e-5, atol=1e-5)


def test_step_buttons_advance_and_the_loss_curve_shows_the_history(app):
    trainer = slot(app).trainer
    app.button(key=f"{KEY}_step1").click().run()
    assert slot(app).trainer is trainer and trainer.step_count == 1
    app.button(key=f"{KEY}_step100").click().run()
    assert not app.exception and trainer.step_count == 101
    loss = trace(chart(app, f"{KEY}_curves"), label("loss"))
    steps, means = bucket_means([h["loss"] for h in trainer.history])
    np.testing.assert_allclose(values(loss["y"]), means, rtol=1e-6)
    by_t = trace(chart(app, f"{KEY}_curves"), label("loss_by_t"))
    np.testing.assert_allclose(values(by_t["y"]), trainer.loss_by_t()[1], rtol=1e-5)
    assert any(f"{trainer.step_count}" in c.value for c in app.caption)  # the film is from the current model


def test_the_one_step_numbers_are_p_sample_on_the_same_inputs(app):
    trainer = slot(app).trainer
    app.button(key=f"{KEY}_step100").click().run()
    app.radio(key=diffusion_step2d.PREDICTOR_KEY).set_value("network").run()  # exact below 500 steps
    app.number_input(key=f"{KEY}_step_particle").set_value(7).run()
    app.slider(key=f"{KEY}_step_t").set_value(13).run()
    app.number_input(key=f"{KEY}_step_seed").set_value(3).run()
    assert not app.exception
    table = app.dataframe[0].value
    shown = {name: table.iloc[i][["x₁", "x₂"]].to_numpy(float) for i, name in enumerate(diffusion_step2d.TERMS)}
    film = app.session_state[f"{KEY}_film_cache"][1]
    x_t = torch.as_tensor(film.at(13)[7:8].astype(np.float64))
    step = dm.p_sample(trainer.schedule, lambda x, t: trainer.ema_model(x.float(), t).double(), x_t, 13,
                       torch.Generator().manual_seed(3))
    for name, attr in (("x_t", "x_t"), ("eps", "eps"), ("x0_hat", "x0_hat"), ("mean", "mean"), ("z", "z"),
                       ("x_prev", "x_prev")):
        np.testing.assert_allclose(shown[name], getattr(step, attr)[0].numpy(), rtol=1e-12, atol=1e-12, err_msg=name)
    np.testing.assert_array_equal(shown["x_prev"], shown["mean"] + shown["sigma_z"])  # x_{t-1} = μ̃ + σ z, exactly
    np.testing.assert_allclose(shown["sigma_z"], step.sigma * shown["z"], rtol=1e-15)
    latex = [el.value for el in app.latex]
    update = next(v for v in latex if r"\tilde\mu_t + \sigma_t z" in v)
    assert diffusion_step2d.vec(shown["x_prev"]) in update and diffusion_step2d.num(step.sigma) in update
    mean = next(v for v in latex if r"c_1\,\hat{x}_0 + c_2\,x_t" in v)
    assert diffusion_step2d.num(trainer.schedule.posterior_mean_coef1[13]) in mean
    assert diffusion_step2d.vec(shown["mean"]) in mean


def test_clicking_a_particle_picks_it(monkeypatch):
    state = {f"{diffusion_step2d.KEY}_figure": {"selection": {"points": [
        {"curve_number": 3, "point_index": 0}, {"curve_number": 0, "point_index": 42}]}}}
    monkeypatch.setattr(diffusion_step2d.st, "session_state", state)
    diffusion_step2d.pick_clicked()
    assert state[f"{diffusion_step2d.KEY}_particle"] == 42


def test_learning_rate_changes_live_while_width_restarts(app):
    app.button(key=f"{KEY}_step1").click().run()
    trainer = slot(app).trainer
    app.select_slider(key=f"{KEY}_lr").set_value(1e-3).run()
    assert slot(app).trainer is trainer and trainer.step_count == 1
    assert trainer.lr == pytest.approx(1e-3) and trainer._opt.param_groups[0]["lr"] == pytest.approx(1e-3)
    app.select_slider(key=f"{KEY}_width").set_value(64).run()
    rebuilt = slot(app).trainer
    assert rebuilt is not trainer and rebuilt.step_count == 0 and rebuilt.config.width == 64


BAD_CSVS = {  # code -> a file with exactly that problem
    "columns": b"x,y\n1,2\n3,4,5\n",
    "not_numeric": b"x,y\n1,2\n3,abc\n",
    "non_finite": b"1,2\n3,nan\n",
    "too_few": b"1,2\n3,4\n",
    "empty": b"x,y\n",
    "encoding": b"\xff\xfe\x00x,y",
    "too_large": b"1,2\n" * (MAX_BYTES // 4 + 1),
    "too_many": b"".join(f"{i},{i % 7}\n".encode() for i in range(MAX_POINTS + 1)),
    "degenerate": b"1,2\n" * 20,
}


def test_every_bad_csv_shows_its_translated_error_and_keeps_the_previous_data(app):
    trainer = slot(app).trainer
    app.selectbox(key=f"{KEY}_data").set_value("csv").run()
    assert not app.exception and slot(app).trainer is trainer  # no upload yet: the swiss roll keeps training
    for code, content in BAD_CSVS.items():
        with pytest.raises(PointsError) as raised:  # the engine's own verdict on the file
            standardize(parse_points_csv(content))
        assert raised.value.code == code
        app.file_uploader(key=f"{KEY}_csv").set_value((f"{code}.csv", content, "text/csv")).run()
        assert not app.exception
        assert [e.value for e in app.error] == [translate("en", f"points.csv.errors.{code}",
                                                          **raised.value.detail)], code
        assert slot(app).trainer is trainer  # the previous data (and their training) stay
    app.button(key=f"{KEY}_step1").click().run()
    assert not app.exception and trainer.step_count == 1


def test_a_good_csv_trains_at_the_toy_sets_scale(app):
    rng = np.random.default_rng(3)
    points = rng.normal(size=(200, 2)) * [3.0, 0.5] + [10.0, -4.0]
    content = ("x,y\n" + "\n".join(f"{a:.5f},{b:.5f}" for a, b in points)).encode()
    app.selectbox(key=f"{KEY}_data").set_value("csv").run()
    app.file_uploader(key=f"{KEY}_csv").set_value(("points.csv", content, "text/csv")).run()
    assert not app.exception and not app.error
    trainer = slot(app).trainer
    assert len(trainer.data) == 200 and np.abs(trainer.data.mean(axis=0)).max() < 1e-9
    assert np.abs(trainer.data).max() == pytest.approx(2.0)
    app.button(key=f"{KEY}_step1").click().run()
    assert trainer.step_count == 1 and np.isfinite(trainer.history[-1]["loss"])


def test_korean_renders():
    at = section_app("ko")
    assert [h.value for h in at.header] == [translate("ko", "diffusion_live.title"),
                                            translate("ko", "diffusion_live.step.title")]
    assert trace(chart(at, f"{KEY}_samples"), label("data", "ko"))
    assert at.dataframe[0].value.iloc[0, 0] == translate("ko", "diffusion_live.step.terms.x_t")
    assert chart(at, f"{KEY}_film")["layout"]["updatemenus"][0]["buttons"][0]["label"] == label("play", "ko")


def test_a_diverging_run_pauses_with_an_explanation_and_reset_recovers(app):
    trainer = slot(app).trainer
    with torch.no_grad():  # a test hook: one blown-up weight, as a far too large step would leave
        trainer.model.net[0].weight.fill_(float("inf"))
    live.play(KEY, app.session_state)
    live.advance(slot(app))
    assert trainer.stopped is not None and trainer.stopped.code == "non_finite" and not slot(app).playing
    app.run()
    assert not app.exception
    warnings = [w.value for w in app.warning]
    assert len(warnings) == 1 and str(trainer.stopped.step) in warnings[0] and f"{trainer.lr:g}" in warnings[0]
    app.button(key=f"{KEY}_reset").click().run()
    assert trainer.stopped is None and trainer.step_count == 0 and not app.warning
    app.button(key=f"{KEY}_step1").click().run()
    assert trainer.stopped is None and np.isfinite(trainer.history[-1]["loss"])


def test_the_first_view_runs_the_exact_predictor_and_stays_in_view():
    """Nothing trained: an untrained network's chain lands thousands of units away (film max |x| 7,579 on
    the default swiss roll), so the film, field and one-step view use eps* of the data, and say so."""
    app = section_app(steps=None)
    trainer = slot(app).trainer
    assert trainer.step_count == 0 and app.radio(key=diffusion_step2d.PREDICTOR_KEY).value == "exact"
    exact_label = translate("en", "diffusion_live.predictor.exact_label")
    assert "exact noise predictor" in exact_label.lower() and "nothing trained" in exact_label
    assert [i.value for i in app.info] == [translate("en", "diffusion_live.step.using", model=exact_label)]
    table = app.dataframe[0].value
    terms = table[["x₁", "x₂"]].to_numpy(float)  # x_t, eps*, x̂_0, μ̃, z, σz, x_{t-1} of particle 0 at t = T/2
    assert np.all(np.isfinite(terms)) and np.abs(terms).max() < 10, terms
    assert table.iloc[1][translate("en", "diffusion_live.step.symbol")] == "ε*(x_t, t)"
    film = app.session_state[f"{KEY}_film_cache"][1]
    assert film.predictor == "exact" and np.abs(film.frames).max() < 10
    x_t = torch.as_tensor(film.at(trainer.config.steps // 2)[:1].astype(np.float64))
    step = dm.p_sample(trainer.schedule, trainer.exact_model, x_t, trainer.config.steps // 2,
                       torch.Generator().manual_seed(0))
    np.testing.assert_allclose(terms[1], step.eps[0].numpy(), rtol=1e-12, atol=1e-12)  # the table is eps*
    assert any(r"\varepsilon^*(x_t, t)" in el.value for el in app.latex)
    assert trace(chart(app, f"{KEY}_field"), translate("en", "diffusion_live.plot.score_exact"))


def test_the_predictor_follows_training_until_the_student_picks_one(monkeypatch):
    state: dict = {}
    monkeypatch.setattr(diffusion_step2d.st, "session_state", state)

    class Trainer:
        step_count = 0

    trainer = Trainer()
    assert diffusion_step2d.predictor(trainer) == "exact"
    trainer.step_count = diffusion_step2d.EXACT_UNTIL - 1
    assert diffusion_step2d.predictor(trainer) == "exact"
    trainer.step_count = diffusion_step2d.EXACT_UNTIL
    assert diffusion_step2d.predictor(trainer) == "network"
    state[diffusion_step2d.PREDICTOR_KEY] = "exact"  # the student picks the exact one: it holds from now on
    diffusion_step2d._picked()
    trainer.step_count = 10 * diffusion_step2d.EXACT_UNTIL
    assert diffusion_step2d.predictor(trainer) == "exact"


def test_the_log_axes_of_the_curves_label_each_tick_with_its_value():
    """Plotly's own log ticks over several decades read "5 10 2 5 100 2 5 1000"; here every label is the
    tick's value in full (or a power of ten), over the ranges an untrained-to-trained run spans."""
    from dashboard.chapters.diffusion import live_plots as plots

    losses = np.geomspace(2.0, 0.3, 400)
    evaluations = [{"step": 0, "sliced_w2": 2059.79}, {"step": 500, "sliced_w2": 0.2}, {"step": 1000, "sliced_w2": 0.1}]
    labels = {name: name for name in ("loss", "sliced_w2", "floor", "times_floor", "loss_by_t", "loss_axis",
                                      "w2_axis", "step", "t_axis", "loss_by_t_axis")}
    spec = plots.curves_figure(losses, evaluations, 0.0478, (np.arange(20.0), np.ones(20)),
                               labels=labels).to_plotly_json()
    for axis, (low, high) in (("yaxis", (0.3, 2.0)), ("yaxis2", (0.0478, 2059.79))):
        shown = [(v, text) for v, text in zip(spec["layout"][axis]["tickvals"], spec["layout"][axis]["ticktext"])
                 if low <= v <= high]
        assert len(shown) >= 3, (axis, shown)
        for value, text in shown:
            assert float(text) == pytest.approx(value, rel=1e-12), (axis, value, text)


STEP_LABELS = {name: name for name in ("particles", "eps", "to_x0", "sigma_z", "x_t", "x0_hat", "mean", "x_prev")}


def step_terms(x_t, eps, x0_hat, mean, sigma_z) -> dict:
    x_t, eps, x0_hat, mean, sigma_z = (np.asarray(v, dtype=np.float64) for v in (x_t, eps, x0_hat, mean, sigma_z))
    return dict(x_t=x_t, eps=eps, x0_hat=x0_hat, mean=mean, sigma_z=sigma_z, x_prev=mean + sigma_z)


def inside(terms: dict, x_range, y_range) -> bool:
    points = [terms["x_t"], terms["x_t"] + terms["eps"], terms["x0_hat"], terms["mean"], terms["x_prev"]]
    return all(x_range[0] < p[0] < x_range[1] and y_range[0] < p[1] < y_range[1] for p in points)


def test_the_one_step_figure_zooms_onto_the_terms_and_can_show_the_whole_cloud():
    """The default step (particle 0, t = T/2, exact predictor) has its terms within 0.3 of each other: on the
    cloud's [-4, 4]^2 view they were a few overlapping pixels. The figure frames them, square, with the
    cloud still behind (trace 0, every particle, clickable); the toggle's ``whole`` view is [-4, 4]^2."""
    from dashboard.chapters.diffusion import live_plots as plots

    cloud = np.random.default_rng(0).normal(size=(1000, 2))
    terms = step_terms((0.6311, 0.0673), (0.1353, 0.0259), (0.7612, 0.0696), (0.6351, 0.0672), (0.2654, -0.0505))
    layout_of = lambda fig: fig.to_plotly_json()["layout"]  # noqa: E731
    zoomed = plots.step_figure(cloud, *terms.values(), labels=STEP_LABELS)
    layout = layout_of(zoomed)
    x_range, y_range = layout["xaxis"]["range"], layout["yaxis"]["range"]
    assert inside(terms, x_range, y_range)
    width, height = x_range[1] - x_range[0], y_range[1] - y_range[0]
    assert width == pytest.approx(height) and width < 0.5, (x_range, y_range)  # square, 16x closer than [-4, 4]
    assert layout["yaxis"]["scaleanchor"] == "x"  # equal scales: the arrows keep their directions
    assert width >= 1.4 * 0.2693  # a margin around the terms (they span 0.2693 in x₁)
    assert zoomed.data[0].name == "particles" and len(zoomed.data[0].x) == 1000  # the cloud, clickable
    assert layout["legend"]["y"] < 0 and layout["legend"]["yanchor"] == "top"  # under the plot, not over it
    heads = {a["arrowcolor"] for a in layout["annotations"]}
    assert len(heads) == 2  # ε's and σ_t z's arrowheads
    whole = layout_of(plots.step_figure(cloud, *terms.values(), labels=STEP_LABELS, whole=True))
    assert whole["xaxis"]["range"] == [-plots.VIEW, plots.VIEW] == whole["yaxis"]["range"]
    (outline,) = whole["shapes"]  # the zoomed view, dashed
    assert [outline["x0"], outline["x1"], outline["y0"], outline["y1"]] == pytest.approx([*x_range, *y_range])
    assert whole["uirevision"] != layout["uirevision"]  # switching views resets a pan or zoom of the other


def test_the_zoomed_view_follows_far_terms_and_never_shrinks_to_a_point():
    from dashboard.chapters.diffusion import live_plots as plots

    far = step_terms((3.0, -1.0), (0.5, 0.5), (40.0, -25.0), (2.0, -1.5), (0.1, 0.1))  # x̂_0 far out (large t)
    x_range, y_range = plots.step_view(np.stack([far["x_t"], far["x_t"] + far["eps"], far["x0_hat"], far["mean"],
                                                 far["x_prev"]]))
    assert inside(far, x_range, y_range)
    still = np.array([[1.0, 1.0], [1.0, 1.0]])  # t = 1 with a zero noise guess: nothing moves
    x_range, y_range = plots.step_view(still)
    assert x_range[1] - x_range[0] == pytest.approx(plots.ZOOM_MIN_SIDE) and x_range[0] < 1.0 < x_range[1]
    x_range, _ = plots.step_view(np.array([[np.nan, 0.0], [1.0, 1.0]]))  # a diverged term is left out
    assert np.all(np.isfinite(x_range))
    x_range, y_range = plots.step_view(np.stack([far["x_t"], far["x0_hat"]]), whole=True)  # the cloud and the square
    assert x_range == y_range and x_range[0] <= -plots.VIEW and x_range[1] > 40.0


def test_the_step_section_opens_zoomed_onto_its_terms_and_the_toggle_shows_the_whole_cloud():
    app = section_app(steps=None)
    table = app.dataframe[0].value
    shown = {name: table.iloc[i][["x₁", "x₂"]].to_numpy(float) for i, name in enumerate(diffusion_step2d.TERMS)}
    layout = chart(app, f"{KEY}_step_figure")["layout"]
    x_range, y_range = layout["xaxis"]["range"], layout["yaxis"]["range"]
    assert inside(shown, x_range, y_range)
    assert x_range[1] - x_range[0] < 0.25 * 8, (x_range, y_range)  # much closer than the cloud's [-4, 4]
    assert app.toggle(key=f"{KEY}_step_whole").value is False
    app.toggle(key=f"{KEY}_step_whole").set_value(True).run()
    assert not app.exception
    layout = chart(app, f"{KEY}_step_figure")["layout"]
    assert layout["xaxis"]["range"][1] - layout["xaxis"]["range"][0] >= 8
    assert app.toggle(key=f"{KEY}_step_whole").label == translate("en", "diffusion_live.step.whole")
