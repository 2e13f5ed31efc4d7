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

from dashboard.ui import diffusion_step2d
from dashboard.ui import live_training as live
from dashboard.ui.gan_live_plots import bucket_means, thin
from dashboard.ui.i18n import translate
from engine import diffusion as dm
from engine.data.points import MAX_BYTES, MAX_POINTS, PointsError, parse_points_csv, standardize
from engine.diffusion_toy import Diffusion2DConfig
from tests.conftest import APP_TIMEOUT_S
from tests.dashboard.plotly_spec import chart, values

KEY = "diffusion_live"
SCRIPT = """
from dashboard.ui import diffusion_live
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
    x0, _ = trainer.sample(1000, seed=0)  # the film's last frame is the model's sample with the film's seed
    np.testing.assert_allclose(values(frames[-1]["data"][0]["x"]), thin(x0, 500)[:, 0], rtol=1e-5, atol=1e-5)
    assert len(values(frames[0]["data"][0]["x"])) == 500


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
