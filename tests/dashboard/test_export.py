"""Export: the toolbar saves PNG or SVG, and the numbers behind any figure of the page come out as CSV."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import plotly.graph_objects as go
from streamlit.testing.v1 import AppTest

from dashboard.shared import charts
from tests.conftest import HOME_SCRIPT
from tests.dashboard.plotly_spec import chart, values


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_a_figures_csv_has_every_plotted_value_bit_for_bit():
    x = np.linspace(0, 1, 7)
    y = np.sin(x) / 3  # numbers with every digit in use
    fig = go.Figure([
        go.Scatter(x=x, y=y, name="curve"),
        go.Bar(x=["a", "b"], y=[2, 5], name="bars"),
        go.Heatmap(x=[0.0, 1.0, 2.0], y=[10.0, 20.0], z=[[1, 2, 3], [4, 5, 6]], name="field"),
        go.Histogram(x=[0.5, 0.25, 0.125], name="samples"),
        go.Scatter(x=[0, 1, None, 2], y=[0, 1, None, 2], name="gappy", xaxis="x2", yaxis="y2"),
    ])
    table = rows(charts.figure_csv(fig))
    assert list(table[0]) == list(charts.CSV_COLUMNS)
    curve = [r for r in table if r["name"] == "curve"]
    assert np.array_equal([float(r["x"]) for r in curve], x) and np.array_equal([float(r["y"]) for r in curve], y)
    assert [(r["x"], r["y"]) for r in table if r["name"] == "bars"] == [("a", "2"), ("b", "5")]
    cells = {(float(r["x"]), float(r["y"])): float(r["z"]) for r in table if r["name"] == "field"}
    assert cells == {(0.0, 10.0): 1, (1.0, 10.0): 2, (2.0, 10.0): 3, (0.0, 20.0): 4, (1.0, 20.0): 5, (2.0, 20.0): 6}
    assert [float(r["x"]) for r in table if r["name"] == "samples"] == [0.5, 0.25, 0.125]
    gappy = [r for r in table if r["name"] == "gappy"]
    assert [r["x"] for r in gappy] == ["0", "1", "", "2"] and {r["axes"] for r in gappy} == {"x2 y2"}
    assert {r["type"] for r in table} == {"scatter", "bar", "heatmap", "histogram"}


def test_the_export_lists_the_pages_figures_and_the_toolbar_saves_svg_when_asked(app_test):
    at = app_test("divergences")
    drawn = at.session_state[charts.DRAWN]
    assert {"densities", "cdfs", "coupling"} <= set(drawn)  # the page's figures, by chart key
    picker = at.selectbox(key="export_figure")
    assert set(picker.options) == {drawn[k][0] for k in drawn}  # labelled by section and title
    table = rows(charts.figure_csv(drawn["densities"][1]))
    spec = chart(at, "densities")  # what the browser draws: the CSV has each of its points, to the bit
    assert len(table) == sum(len(values(trace["x"])) for trace in spec["data"])
    first = [r for r in table if r["trace"] == "0"]
    assert np.array_equal([float(r["y"]) for r in first], values(spec["data"][0]["y"]))

    config = json.loads(at.get("plotly_chart")[0].proto.config)
    assert config["toImageButtonOptions"] == {"format": "png", "scale": 2}
    at.radio(key=charts.FORMAT).set_value("SVG").run()
    assert not at.exception
    config = json.loads(at.get("plotly_chart")[0].proto.config)
    assert config["toImageButtonOptions"]["format"] == "svg"

    linked = AppTest.from_file(str(HOME_SCRIPT), default_timeout=120)  # a link that asks for SVG
    linked.query_params.update({"lang": "en", charts.FORMAT: "SVG"})
    linked.run()
    linked.switch_page("chapters/divergences/page.py").run()
    assert json.loads(linked.get("plotly_chart")[0].proto.config)["toImageButtonOptions"] == {"format": "svg"}

    at.switch_page("chapters/likelihood/page.py").run()  # another page: its figures only
    assert "densities" not in at.session_state[charts.DRAWN] and "data_model" in at.session_state[charts.DRAWN]
