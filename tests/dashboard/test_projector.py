"""The projector view: a copy of each figure with larger type and thicker lines, for a projecting session only."""

from __future__ import annotations

import plotly.graph_objects as go
from streamlit.testing.v1 import AppTest

from dashboard.shared import charts, style
from tests.conftest import HOME_SCRIPT
from tests.dashboard.plotly_spec import chart


def figure() -> go.Figure:
    fig = go.Figure([go.Scatter(x=[0, 1], y=[1, 0], line={"width": 2}, marker={"size": 5}),
                     go.Scatter(x=[0, 1], y=[0, 1])])
    fig.update_layout(font={"size": 14}, height=300, annotations=[{"text": "a", "x": 0, "y": 0, "font": {"size": 10}}])
    return fig


def test_a_projected_figure_has_larger_type_and_thicker_lines_and_the_original_is_untouched():
    original = figure()
    before = original.to_json()
    out = charts.projected(original)
    assert out.layout.font.size == 21 and out.layout.annotations[0].font.size == 15
    assert out.layout.xaxis.tickfont.size == 21 and out.layout.legend.font.size == 21
    assert out.data[0].line.width == 4 and out.data[0].marker.size == 8
    assert out.data[1].line.width == 4  # an unset width gets a thick one too
    assert out.layout.height > 300
    assert original.to_json() == before  # figures are shared by every session: never changed in place


def test_the_projector_css_enlarges_the_page_and_folds_the_prose():
    assert "font-size: 20px" in style.css("en", projector=True) and "font-size: 20px" not in style.css("en")


def test_a_link_with_projector_on_draws_projected_charts(app_test):
    plain = app_test("divergences")
    projecting = AppTest.from_file(str(HOME_SCRIPT), default_timeout=120)
    projecting.query_params.update({"lang": "en", "projector": "true"})  # as a link opened in a fresh browser
    projecting.run()
    projecting.switch_page("chapters/divergences/page.py").run()
    assert not projecting.exception and projecting.toggle(key="projector").value
    normal, big = chart(plain, "densities"), chart(projecting, "densities")
    assert big["layout"]["font"]["size"] > normal["layout"].get("font", {}).get("size", 12)
