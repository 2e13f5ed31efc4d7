"""The diffusion page's "three samplers" section: the numbers it shows against the engine, DDIM's clock,
and the reading's figures (the text quotes the moons at 50 steps: the test holds it to them)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.chapters.diffusion import samplers
from dashboard.shared.i18n import translate
from engine import toy2d
from engine.capacity import nearest_distances
from engine.flow.samplers import three_samplers
from tests.conftest import APP_TIMEOUT_S
from tests.dashboard.plotly_spec import chart

KEY = "diffusion_samplers"
SCRIPT = """
from dashboard.chapters.diffusion import samplers
samplers.section()
"""


def section_app(lang: str = "en", **state) -> AppTest:
    at = AppTest.from_string(SCRIPT, default_timeout=APP_TIMEOUT_S)
    at.session_state["lang"] = lang
    for key, value in state.items():
        at.session_state[f"{KEY}_{key}"] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown(at) -> dict[str, float]:
    return {m.label.split(":")[0]: float(m.value) for m in at.metric}


def test_the_numbers_are_the_engines_and_one_step_lands_everyone_on_the_mean():
    at = section_app(steps=1)
    values = shown(at)
    assert len(set(values.values())) == 1  # one step from pure noise: every sampler predicts the data's mean
    points = toy2d.sample("moons", samplers.POINTS, 0)
    result = three_samplers(points, samplers.PARTICLES, 1, seed=1)
    mean_offset = np.median(nearest_distances(result.samples("ddim"), points))
    assert values["DDIM"] == pytest.approx(mean_offset, abs=5e-4)
    assert np.allclose(result.samples("ddim"), points.mean(0), atol=0.05)  # all near the mean of the data
    spec = chart(at, f"{KEY}_figure")
    assert len(spec["data"]) == 12  # data, paths, starts and samples in each of three panels


def test_the_reading_quotes_what_the_page_shows_at_fifty_steps():
    at = section_app(steps=50)
    values = shown(at)
    reading = translate("en", f"{KEY}.reading")
    flow, ddim = (float(v) for v in re.search(r"(0\.\d+) off the data against DDIM's (0\.\d+)", reading).groups())
    assert values["Flow"] == pytest.approx(flow, abs=5e-4) and values["DDIM"] == pytest.approx(ddim, abs=5e-4)
    assert values["Flow"] < values["DDIM"]


def test_on_ddims_clock_the_flow_lands_where_ddim_does():
    at = section_app(steps=10, ddim_clock=True)
    values = shown(at)
    assert values["Flow"] == values["DDIM"]
    (note,) = [s.value for s in at.success]
    gap = float(re.search(r"difference is (\S+)\.$", note).group(1))
    assert gap < 1e-9


def test_heun_costs_two_evaluations_a_step_but_the_last_and_korean_renders():
    at = section_app(lang="ko", steps=5, flow_sampler="heun")
    captions = [c.value for c in at.caption]
    assert any(c.startswith(translate("ko", f"{KEY}.row", evaluations=9, straightness=0.0).split("·")[0])
               for c in captions)
    assert at.header[0].value == translate("ko", f"{KEY}.title")
