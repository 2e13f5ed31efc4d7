"""AppTest of the Divergences page: it renders in both languages, its numbers are the engine's
for whatever the sliders say, and every control changes what is shown without raising."""

import functools
import math

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.shared.controls import DistSpec
from engine import divergences as D
from tests.dashboard.plotly_spec import chart

LABELS = {"kl_pq": "KL(P‖Q)", "kl_qp": "KL(Q‖P)", "js": "JS(P, Q)", "tv": "TV(P, Q)", "w1": "W₁(P, Q)",
          "w2": "W₂(P, Q)"}


@pytest.fixture
def open_page(page_app):
    return functools.partial(page_app, "divergences")


def shown(at: AppTest) -> dict[str, str]:
    metrics = {m.label: m.value for m in at.metric}
    return {key: metrics[label] for key, label in LABELS.items()}


def spec_from_widgets(at: AppTest, prefix: str) -> DistSpec:
    """Rebuild the DistSpec the page should have used, from the widgets' current values."""
    kind = at.button_group(key=f"{prefix}_kind").value
    kind = kind[0] if isinstance(kind, list) else kind
    value = {w.key: w.value for w in at.slider}
    return DistSpec(kind, value[f"{prefix}_location"], value[f"{prefix}_scale"],
                    value.get(f"{prefix}_weight", 0.5), value.get(f"{prefix}_separation", 3.0))




def assert_numbers_match_engine(at: AppTest) -> None:
    p, q = spec_from_widgets(at, "p").build(), spec_from_widgets(at, "q").build()
    report = D.divergence_report(p, q)
    for key, text in shown(at).items():
        value = getattr(report, key)
        if math.isinf(value):
            assert text == "∞", key
        else:  # the page rounds to 3 decimals
            assert float(text) == pytest.approx(value, abs=5e-4), key


def test_default_view_shows_the_engine_numbers_and_all_figures(open_page):
    at = open_page("en")
    assert at.title[0].value.startswith("Divergences")
    assert_numbers_match_engine(at)
    assert all(v not in ("nan", "inf", "—") for v in shown(at).values())
    # densities, 4 integrands, CDFs, coupling, sweep densities, sweep, 2 transport plots, 2 mode plots
    assert len(at.get("plotly_chart")) == 13
    densities = chart(at, "densities")
    assert [trace["name"] for trace in densities["data"]] == ["P (data)", "Q (model)", "M = (P+Q)/2"]
    assert len(at.latex) >= 10  # an equation beside every plot and in the model map


def test_moving_a_slider_changes_the_numbers(open_page):
    at = open_page("en")
    before = shown(at)
    at.slider(key="q_location").set_value(3.0).run()
    assert not at.exception
    after = shown(at)
    assert after["w1"] != before["w1"] and after["kl_pq"] != before["kl_pq"]
    assert_numbers_match_engine(at)


def test_disjoint_uniforms_show_infinity_with_a_reason_and_js_at_log2(open_page):
    at = open_page("en")
    at.button_group(key="p_kind").set_value("uniform").run()
    at.button_group(key="q_kind").set_value("uniform").run()
    at.slider(key="p_location").set_value(-2.0).run()
    at.slider(key="q_location").set_value(2.0).run()
    at.slider(key="p_scale").set_value(0.5).run()
    at.slider(key="q_scale").set_value(0.5).run()
    assert not at.exception
    values = shown(at)
    assert values["kl_pq"] == "∞" and values["kl_qp"] == "∞"
    assert float(values["js"]) == pytest.approx(math.log(2), abs=5e-4)
    assert float(values["tv"]) == pytest.approx(1.0, abs=5e-4)
    assert float(values["w1"]) == pytest.approx(4.0, abs=5e-4)
    captions = " ".join(c.value for c in at.caption)
    assert "P has mass where Q's density is zero" in captions
    assert "Q has mass where P's density is zero" in captions
    assert "100% of its ceiling log 2" in captions


def test_korean_page_renders_korean_text(open_page):
    at = open_page("ko")
    assert at.title[0].value.startswith("발산")
    assert any("데이터" in s.value for s in at.subheader)
    assert_numbers_match_engine(at)


def test_sweep_controls_rerun_without_error_and_move_the_marker(open_page):
    at = open_page("en")
    at.button_group(key="sweep_shape").set_value("normal").run()
    at.slider(key="sweep_theta").set_value(-2.0).run()
    assert not at.exception
    sweep = chart(at, "sweep_figure")
    lines = [s for s in sweep["layout"].get("shapes", []) if s.get("type") == "line" and s.get("x0") == -2.0]
    assert lines, "the current θ should be marked on the sweep plots"
    # Narrow normals: KL is finite everywhere (no ∞ band), unlike uniforms.
    assert not [s for s in sweep["layout"].get("shapes", []) if s.get("type") == "rect"]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_kl_infinity_note_is_centred_in_the_kl_panel_in_short_lines(open_page, lang):
    """Plotly never wraps an annotation: the note sits in the middle of the KL panel (axes x/y), in
    lines short enough for a panel about 100 px wide (150% zoom; tests/e2e/test_layout.py measures it)."""
    from dashboard.shared.i18n import translate

    sweep = chart(open_page(lang), "sweep_figure")  # the default sweep: two uniforms, KL(P‖Q) = ∞ for θ ≠ 0
    text = translate(lang, "divergences.series.kl_infinite")
    notes = [a for a in sweep["layout"]["annotations"] if a.get("text") == text]
    assert len(notes) == 1
    note = notes[0]
    assert (note["xref"], note["yref"], note["x"], note["xanchor"]) == ("x domain", "y domain", 0.5, "center")
    assert max(len(line) for line in text.split("<br>")) <= 12, text


def test_point_clouds_and_parallel_lines_controls(open_page):
    at = open_page("en")
    at.selectbox(key="clouds_target").set_value("moons").run()
    at.slider(key="clouds_n").set_value(50).run()
    at.radio(key="clouds_order").set_value(2).run()
    at.slider(key="lines_theta").set_value(0.0).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["W2"] not in ("∞", "—")
    assert metrics[r"$\mathrm{JS}(P_0, P_\theta)$"] == "0.000"  # θ = 0: the two lines coincide


@pytest.mark.parametrize("init, side", [(-3.0, -1), (3.0, 1)])
def test_reverse_kl_fit_follows_its_start(open_page, init, side):
    at = open_page("en")
    at.slider(key="modes_init").set_value(init).run()
    assert not at.exception
    table = at.dataframe[0].value
    reverse_mean = float(table.iloc[1, 1])
    forward_mean = float(table.iloc[0, 1])
    assert side * reverse_mean > 1.0, "reverse KL should lock onto the bump on the side it starts"
    assert abs(forward_mean) < 0.05, "forward KL matches the mean of a symmetric mixture"
