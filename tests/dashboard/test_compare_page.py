"""The compare page through AppTest: a preset race, a drawing (stored, from a link), Korean."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.shared import drawn
from dashboard.shared.i18n import translate
from tests.dashboard.plotly_spec import chart

PAGE = "compare"


def table_rows(at) -> list[str]:
    head = translate(at.session_state["lang"], "compare.table.family")
    (table,) = [m.value for m in at.markdown if m.value.startswith(f"| {head} |")]
    return table.splitlines()[2:]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_a_preset_race_steps_and_scores_all_five(page_app, lang):
    at = page_app(PAGE, lang)
    at.button(key="compare_step10").click().run()
    assert not at.exception
    race = at.session_state["live::compare"].trainer
    assert race.step_count == 10
    rows = table_rows(at)
    assert len(rows) == 5
    assert rows[0].startswith(f"| {translate(lang, 'compare.names.mixture')}")
    assert translate(lang, "compare.likelihood.none_gan") in rows[2]
    spec = chart(at, "compare_figure")
    assert len(spec["data"]) == 15  # a view, the data and the samples in each of five panels


def test_a_drawing_trains_the_race_and_goes_into_the_link(page_app):
    at = page_app(PAGE)
    points = np.random.default_rng(0).normal(size=(200, 2)).round(2)
    drawn.store(at.session_state, points)
    at.segmented_control(key="compare_source").set_value("draw").run()
    assert not at.exception
    race = at.session_state["live::compare"].trainer
    assert len(race.train) == 150 and len(race.heldout) == 50  # a quarter kept aside for the scores
    assert np.allclose(np.sort(np.vstack([race.train, race.heldout]), axis=0), np.sort(points, axis=0))
    assert drawn.decode(at.query_params[drawn.LINK]) == pytest.approx(points)


def test_a_link_brings_its_drawing_and_a_bad_one_is_reported(page_app, app_test):
    points = np.random.default_rng(1).normal(size=(80, 2)).round(2)
    at = app_test(PAGE, run=False)
    at.query_params.update({drawn.LINK: drawn.encode(points), "compare_source": "Draw"})
    at.run()
    assert not at.exception
    assert drawn.get(at.session_state) == pytest.approx(points)
    bad = app_test(PAGE, run=False)
    bad.query_params.update({drawn.LINK: "not-a-drawing!"})
    bad.run()
    assert not bad.exception and drawn.get(bad.session_state) is None
    assert translate("en", "compare.draw.bad_link") in [toast.value for toast in bad.toast]


def test_drawn_points_round_trip_through_the_link_text():
    points = np.array([[0.123, -2.5], [299.99, -300.0], [0.0, 0.004]])
    assert drawn.decode(drawn.encode(points)) == pytest.approx(np.round(points, 2))
    assert drawn.encode(np.zeros((drawn.LINK_POINTS + 1, 2))) is None
    for bad in ("", "abc", "@@@@", "AAAAA"):
        assert drawn.decode(bad) is None, bad


def test_the_drawing_is_offered_to_the_gan_vae_and_diffusion_pages(page_app):
    at = page_app("gan")
    assert "drawn" not in at.selectbox(key="gan_live_data").options  # nothing drawn yet: not offered
    points = np.random.default_rng(2).normal(size=(120, 2))
    drawn.store(at.session_state, points)
    at.run()
    assert translate("en", "points.drawn") in at.selectbox(key="gan_live_data").options
    at.selectbox(key="gan_live_data").set_value("drawn").run()
    assert not at.exception
    assert np.array_equal(at.session_state["live::gan_live"].trainer.data, points)
    at.switch_page("chapters/vae/page.py").run()
    at.selectbox(key="vae_live_data").set_value("drawn").run()
    assert not at.exception
    assert np.array_equal(at.session_state["live::vae"].trainer.data, points)
    at.switch_page("chapters/diffusion/page.py").run()
    at.selectbox(key="diffusion_live_data").set_value("drawn").run()
    assert not at.exception
    assert np.array_equal(at.session_state["live::diffusion_live"].trainer.data, points)


def test_a_family_can_race_alone_and_the_verdict_reads_the_table(page_app):
    at = page_app(PAGE)
    at.multiselect(key="compare_families").set_value(["mixture"]).run()
    assert not at.exception
    race = at.session_state["live::compare"].trainer
    assert race.families == ("mixture",)
    at.button(key="compare_step10").click().run()
    assert len(table_rows(at)) == 1
    ratio = race.scoreboard()["mixture"].ratio
    closest = translate("en", "compare.verdict.closest", name=translate("en", "compare.names.mixture"), ratio=ratio)
    assert any(m.value.startswith(closest) for m in at.markdown)  # a mixture of 8 on the moons: near the floor
    at.multiselect(key="compare_families").set_value([]).run()
    assert translate("en", "compare.no_family") in [i.value for i in at.info]


def test_the_races_networks_sample_side_by_side_from_the_same_noise(page_app):
    from engine.flow.samplers import trained_samplers

    at = page_app(PAGE)
    at.button(key="compare_step10").click().run()
    at.select_slider(key="compare_sampler_steps").set_value(5).run()
    assert not at.exception
    race = at.session_state["live::compare"].trainer
    result = trained_samplers(race.lanes["ddpm"].trainer, race.lanes["flow"].trainer, 1000, 5, seed=3)
    shown = {m.label.split(":")[0]: m.value for m in at.metric}
    for kind, name in (("ddpm", "DDPM"), ("ddim", "DDIM"), ("flow", translate("en", "diffusion_samplers.names.flow"))):
        assert shown[name] == f"{race.sliced_w2_of(result.samples(kind)) / race.floor:.2f}×"
    assert all(np.array_equal(path[0], result.paths["ddpm"][0]) for path in result.paths.values())
    at.button(key="compare_step10").click().run()
    at.button(key="compare_resample").click().run()  # the networks after 20 rounds now
    assert translate("en", "compare.samplers.at", rounds=20) in [c.value for c in at.caption]
    at.multiselect(key="compare_families").set_value(["mixture", "ddpm"]).run()  # no flow: no such section
    assert not at.exception and not at.metric
