"""The GAN page's live 2D section through AppTest: drawing, step buttons, presets, live settings,
layers, CSV uploads, Korean, and a diverging run.

AppTest does not tick the ``run_every`` fragment, so the tests press the buttons (callbacks) and
call ``live_training.advance`` on the session's slot, as ``test_live_training.py`` does.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dashboard.shared import live_training as live
from dashboard.shared.i18n import translate
from engine.data.points import PointsError, parse_points_csv
from engine.gan.live import PRESETS
from tests.dashboard.plotly_spec import chart

KEY = "gan_live"


def slot(at) -> live.Slot:
    return at.session_state[f"live::{KEY}"]


def trace_names(spec: dict) -> list[str]:
    return [trace.get("name") for trace in spec["data"]]


def params(trainer) -> dict[str, np.ndarray]:
    """G's and D's weights (copies), to tell which network a step moved."""
    return {f"{who}.{name}": value.detach().clone().numpy()
            for who, net in (("g", trainer.nets.g), ("d", trainer.nets.d))
            for name, value in net.state_dict().items()}


def moved(before: dict, after: dict, who: str) -> bool:
    return any(not np.array_equal(before[k], after[k]) for k in before if k.startswith(who + "."))


@pytest.fixture
def gan(page_app):
    return page_app("gan")


def test_default_section_draws_real_fake_and_the_heatmap(gan):
    spec = chart(gan, f"{KEY}_field")
    names = trace_names(spec)
    for layer in ("real", "fake", "heatmap", "gradients"):
        assert translate("en", f"gan_live.plot.{layer}") in names
    assert any(trace["type"] == "heatmap" for trace in spec["data"])
    x0, x1, y0, y1 = slot(gan).trainer.snapshot(grid=2).bounds
    assert spec["layout"]["xaxis"]["range"] == pytest.approx([x0, x1])  # fixed frame from the snapshot bounds
    assert spec["layout"]["yaxis"]["range"] == pytest.approx([y0, y1])
    curves = trace_names(chart(gan, f"{KEY}_curves"))
    assert translate("en", "gan_live.plot.modes_covered") in curves  # ring8 has known modes
    assert not gan.exception


@pytest.mark.parametrize("button, trains", [("step_d", {"d"}), ("step_g", {"g"}), ("step_both", {"d", "g"})])
def test_step_buttons_move_only_their_network(gan, button, trains):
    trainer = slot(gan).trainer
    before, count = params(trainer), trainer.step_count
    gan.button(key=f"{KEY}_{button}").click().run()
    assert not gan.exception
    assert slot(gan).trainer is trainer and trainer.step_count == count + 1
    after = params(trainer)
    for who in ("d", "g"):
        assert moved(before, after, who) == (who in trains), (button, who)


def test_a_preset_sets_the_widgets_and_the_trainer(gan):
    preset = PRESETS["cover_all"]
    gan.button_group(key=f"{KEY}_preset").set_value("cover_all").run()
    assert not gan.exception
    assert gan.session_state[f"{KEY}_pack"] == preset.settings.pack
    assert gan.session_state[f"{KEY}_batch"] == preset.settings.batch_size
    assert gan.selectbox(key=f"{KEY}_loss").value == preset.settings.loss
    trainer = slot(gan).trainer
    assert trainer.settings == preset.settings and trainer.architecture == preset.architecture
    watch = translate("en", "gan_live.watch.cover_all", pack=preset.settings.pack, beta1=preset.settings.beta1)
    assert any(watch in info.value for info in gan.info)


def test_every_preset_pick_starts_a_fresh_run(gan):
    """A preset's text describes a run from step 0 with its seed: picking one never continues the
    trainer that was running, even when data and networks are the same (issue: "Cover every mode"
    after "Mode collapse" went on from step 8715 and ended at 5/8 modes)."""
    first, second = "collapse", "cover_all"
    assert (PRESETS[first].dataset, PRESETS[first].architecture) == (PRESETS[second].dataset,
                                                                      PRESETS[second].architecture)
    presets = gan.button_group(key=f"{KEY}_preset")

    def step_a_few() -> live.Slot:
        for _ in range(3):
            gan.button(key=f"{KEY}_step_both").click().run()
        assert not gan.exception
        return slot(gan)

    presets.set_value(first).run()
    before = step_a_few()
    assert before.trainer.step_count == 3
    gan.button_group(key=f"{KEY}_preset").set_value(second).run()  # same data and networks
    after = slot(gan)
    assert not gan.exception and after.trainer is not before.trainer
    assert after.trainer.step_count == 0 and len(after.trainer.evaluations) == 1
    assert after.trainer.settings == PRESETS[second].settings
    assert after.trainer.architecture == PRESETS[second].architecture  # the preset's seed
    fresh = params(after.trainer)
    # Clicking the selected pill again (the browser sends "nothing selected") reruns the preset.
    again = step_a_few()
    assert again.trainer.step_count == 3
    gan.button_group(key=f"{KEY}_preset").set_value(None).run()
    assert not gan.exception
    assert gan.button_group(key=f"{KEY}_preset").value == second
    rerun = slot(gan).trainer
    assert rerun is not again.trainer and rerun.step_count == 0
    assert not any(moved(fresh, params(rerun), who) for who in ("d", "g"))  # the same start: the seed's nets


def test_learning_rate_changes_live_while_width_restarts(gan):
    gan.button(key=f"{KEY}_step_both").click().run()
    gan.button(key=f"{KEY}_step_both").click().run()
    trainer = slot(gan).trainer
    assert trainer.step_count == 2
    lr = gan.select_slider(key=f"{KEY}_g_lr")
    new_lr = next(v for v in lr.options if float(v) != float(lr.value))
    lr.set_value(float(new_lr)).run()
    assert slot(gan).trainer is trainer and trainer.step_count == 2  # no restart
    assert trainer.settings.g_lr == pytest.approx(float(new_lr))
    assert trainer.nets.g_opt.param_groups[0]["lr"] == pytest.approx(float(new_lr))
    width = gan.select_slider(key=f"{KEY}_width")
    new_width = next(v for v in width.options if int(v) != int(width.value))
    width.set_value(int(new_width)).run()
    rebuilt = slot(gan).trainer
    assert rebuilt is not trainer and rebuilt.step_count == 0 and rebuilt.architecture.width == int(new_width)


def test_toggling_a_layer_removes_its_trace(gan):
    heatmap = translate("en", "gan_live.plot.heatmap")
    assert heatmap in trace_names(chart(gan, f"{KEY}_field"))
    gan.button_group(key=f"{KEY}_layers").set_value(["real", "fake"]).run()
    names = trace_names(chart(gan, f"{KEY}_field"))
    assert heatmap not in names and translate("en", "gan_live.plot.gradients") not in names
    assert translate("en", "gan_live.plot.real") in names
    gan.button_group(key=f"{KEY}_layers").set_value(["real", "fake", "manifold"]).run()
    assert translate("en", "gan_live.plot.manifold") in trace_names(chart(gan, f"{KEY}_field"))


BAD_CSVS = {  # code -> a file that has exactly that problem, and a detail the message must show
    "columns": (b"x,y\n1,2\n3,4,5\n", "3"),
    "not_numeric": (b"x,y\n1,2\n3,abc\n", "abc"),
    "non_finite": (b"1,2\n3,nan\n", "nan"),
    "too_few": (b"1,2\n3,4\n", "2"),
    "empty": (b"x,y\n", None),
    "encoding": (b"\xff\xfe\x00x,y", None),
}


@pytest.mark.parametrize("code", sorted(BAD_CSVS))
def test_a_bad_csv_shows_its_translated_error_and_keeps_the_previous_data(gan, code):
    content, shown = BAD_CSVS[code]
    with pytest.raises(PointsError) as raised:  # the engine's own verdict on the file
        parse_points_csv(content)
    assert raised.value.code == code
    expected = translate("en", f"points.csv.errors.{code}", **raised.value.detail)
    trainer = slot(gan).trainer
    gan.selectbox(key=f"{KEY}_data").set_value("csv").run()
    assert not gan.exception and slot(gan).trainer is trainer  # no upload yet: the ring keeps training
    gan.file_uploader(key=f"{KEY}_csv").set_value(("points.csv", content, "text/csv")).run()
    assert not gan.exception
    assert [e.value for e in gan.error] == [expected]
    assert shown is None or shown in expected
    assert slot(gan).trainer is trainer  # the previous data (and its training) stay
    gan.button(key=f"{KEY}_step_both").click().run()
    assert not gan.exception and trainer.step_count == 1


def test_a_good_csv_trains(gan):
    rng = np.random.default_rng(3)
    points = rng.normal(size=(200, 2)) * [3.0, 0.5] + [10.0, -4.0]
    content = ("x,y\n" + "\n".join(f"{a:.5f},{b:.5f}" for a, b in points)).encode()
    gan.selectbox(key=f"{KEY}_data").set_value("csv").run()
    gan.file_uploader(key=f"{KEY}_csv").set_value(("points.csv", content, "text/csv")).run()
    assert not gan.exception and not gan.error
    trainer = slot(gan).trainer
    assert len(trainer.data) == 200 and trainer.modes is None
    assert np.abs(trainer.data.mean(axis=0)).max() < 1e-9  # standardised: centred
    gan.button(key=f"{KEY}_step_both").click().run()
    assert trainer.step_count == 1
    curves = trace_names(chart(gan, f"{KEY}_curves"))
    assert translate("en", "gan_live.plot.modes_covered") not in curves  # no known modes for a CSV


def test_korean_renders(page_app):
    at = page_app("gan", "ko")
    assert any(h.value == translate("ko", "gan_live.title") for h in at.header)
    names = trace_names(chart(at, f"{KEY}_field"))
    assert translate("ko", "gan_live.plot.real") in names and translate("ko", "gan_live.plot.fake") in names
    assert at.button(key=f"{KEY}_step_d").label == translate("ko", "gan_live.step_d")


def test_a_diverging_run_pauses_with_an_explanation_and_reset_recovers(gan):
    trainer = slot(gan).trainer
    with torch.no_grad():  # a test hook: one blown-up weight, as a far too large step would leave
        trainer.nets.g[0].weight.fill_(float("inf"))
    live.play(KEY, gan.session_state)
    live.advance(slot(gan))
    assert trainer.stopped is not None and trainer.stopped.code == "non_finite" and not slot(gan).playing
    gan.run()
    warnings = [w.value for w in gan.warning]
    assert len(warnings) == 1 and str(trainer.stopped.step) in warnings[0]
    assert translate("en", "gan_live.losses.non_saturating") in warnings[0]
    gan.button(key=f"{KEY}_reset").click().run()
    assert trainer.stopped is None and trainer.step_count == 0 and not gan.warning
    gan.button(key=f"{KEY}_step_both").click().run()
    assert trainer.stopped is None and np.isfinite(trainer.history[-1]["d_loss"])


def test_the_settings_panel_is_one_table_that_reaches_every_preset_and_reads_back_what_it_shows():
    """Every GANSettings and GANArchitecture field has exactly one control; every preset's and the
    default's value is offered; filling the widgets with a preset and reading them back gives the preset."""
    from dataclasses import fields

    from dashboard.chapters.gan import controls
    from engine.gan.live import PRESETS, GANArchitecture, GANSettings

    by_part = {"settings": GANSettings, "arch": GANArchitecture}
    for part, cls in by_part.items():
        assert sorted(c.field for c in controls.CONTROLS if c.part == part) == sorted(f.name for f in fields(cls))
    assert len({c.key for c in controls.CONTROLS}) == len(controls.CONTROLS)
    for preset in PRESETS.values():
        for c in controls.CONTROLS:
            if c.widget != "number":
                assert c.default(preset.architecture, preset.settings) in c.options(), (c.name, preset)
    import streamlit as st

    for preset in PRESETS.values():
        st.session_state.clear()
        controls.fill(preset.architecture, preset.settings, force=True)
        assert controls.read_config() == (preset.architecture, preset.settings)
