"""Divergences: KL, reverse KL, JS, TV and Wasserstein between two 1D distributions, live.

Sections: the two distributions and their six numbers; where each number comes from
(pointwise integrands, CDFs, the quantile coupling); "move Q away" (disjoint supports);
the 2D parallel-lines example and optimal transport of point clouds; mode covering vs seeking.
"""

import math

import numpy as np
import streamlit as st

from dashboard.chapters.divergences import plots
from dashboard.chapters.divergences.claims import CLAIMS
from dashboard.shared import claims, links
from dashboard.shared.charts import chart
from dashboard.shared.controls import DistSpec, distribution_controls
from dashboard.shared.i18n import current_language, labeler, t, texts, translate
from dashboard.shared.links import LINK
from dashboard.shared.plotting import COLORS, format_value, plot_grid
from dashboard.shared.sections import section
from engine import divergences as D
from engine import projections, toy2d, transport
from engine.distributions import Normal, Uniform, two_normal_mixture
from engine.shift_sweep import shift_sweep as sweep_divergences

DEFAULT_P = DistSpec("mixture", location=0.0, scale=0.6, weight=0.5, separation=3.0)
DEFAULT_Q = DistSpec("normal", location=1.0, scale=1.8)  # wider than P: the CDFs cross, so W1 > |mean gap|
SWEEP_THETAS = np.linspace(-4.0, 4.0, 161)  # odd count: θ = 0 is on the grid


SERIES = ("p", "q", "m", "density", "cdf", "cdf_p", "cdf_q", "moves", "kl_pq", "kl_qp", "js", "tv", "w1", "w2",
          "value", "slope", "panel_kl", "panel_js", "panel_tv", "panel_w", "forward", "reverse", "mean",
          "log_std", "objective", "colorbar", "path", "end", "kl_infinite")  # plot labels: divergences.series.*


def series_labels(lang: str) -> dict:
    return texts(lang, "divergences.series", SERIES)


def metric_row(report: D.Divergences) -> None:
    """The six numbers, with ∞ explained in one line and JS shown against its log 2 ceiling."""
    columns = st.columns(6)
    entries = [("kl_pq", report.kl_pq), ("kl_qp", report.kl_qp), ("js", report.js),
               ("tv", report.tv), ("w1", report.w1), ("w2", report.w2)]
    for column, (key, value) in zip(columns, entries):
        with column:
            st.metric(t(f"divergences.metrics.{key}"), format_value(value), help=t(f"divergences.metrics.{key}_help"),
                      border=True)
            if math.isinf(value):
                st.caption(t(f"divergences.metrics.{key}_infinite"))
            elif key == "js":
                st.caption(t("divergences.metrics.js_ceiling", percent=100 * value / math.log(2)))


def where_it_comes_from(x: np.ndarray, curves, labels: dict) -> None:
    st.subheader(t("divergences.integrands.title"), anchor=False)
    st.markdown(t("divergences.integrands.intro"))
    panels = [("kl_pq", curves.kl_pq, COLORS["p"]), ("kl_qp", curves.kl_qp, COLORS["q"]),
              ("js", curves.js, COLORS["accent"]), ("tv", curves.tv, "#7c3aed")]
    for row in (panels[:2], panels[2:]):
        for column, (key, values, color) in zip(st.columns(2), row):
            with column:
                st.latex(t(f"divergences.equations.{key}"))
                chart(plots.integrand_figure(x, values, color=color, y_title=labels[key],
                                                       infinite_label=t("divergences.integrands.infinite")),
                                key=f"integrand_{key}")


def wasserstein_views(x, p, q, curves, labels: dict) -> None:
    st.subheader(t("divergences.wasserstein.title"), anchor=False)
    left, right = st.columns(2)
    with left:
        st.latex(t("divergences.equations.w1"))
        chart(plots.cdf_figure(x, curves.cdf_p, curves.cdf_q, labels=labels), key="cdfs")
        st.caption(t("divergences.wasserstein.cdf_caption"))
    with right:
        st.latex(t("divergences.equations.w2"))
        levels = (np.arange(20) + 0.5) / 20  # 20 equal-mass slices of each distribution
        x_p, x_q = D.quantile_coupling(p, q, levels)
        chart(plots.coupling_figure(x, curves.p, curves.q, x_p, x_q, labels=labels), key="coupling")
        st.caption(t("divergences.wasserstein.coupling_caption"))


@st.cache_data(max_entries=16, show_spinner=False)
def shift_sweep(shape: str, width: float):
    """Divergences between P and P shifted by θ, for every θ on the sweep grid (cached per shape)."""
    base = Uniform(-width / 2, width / 2) if shape == "uniform" else Normal(0.0, width / 2)
    return base, sweep_divergences(base, base, SWEEP_THETAS)


# Figures below are cached whole (keyed by their controls and the language): a slider in the top
# section reruns the whole page, and rebuilding these unchanged figures would double its cost.
@st.cache_resource(max_entries=64, show_spinner=False)
def sweep_figures(shape: str, width: float, theta: float, lang: str):
    base, sweep = shift_sweep(shape, width)
    shifted = base.shift(theta)
    x = plot_grid(base, shifted, Normal(0.0, 1.0))
    curves = D.integrands(base, shifted, x)
    labels = series_labels(lang)
    return (plots.densities_figure(x, curves.p, curves.q, curves.m, labels=labels, height=240),
            plots.sweep_figure(sweep, theta, labels=labels))


@section
def move_q_away() -> None:
    links.header("divergences.sweep")
    st.markdown(t("divergences.sweep.intro"))
    controls, picture = st.columns([1, 2])
    with controls:
        shape = st.segmented_control(t("divergences.sweep.shape"), ("uniform", "normal"), default="uniform",
                                     format_func=labeler("controls.dist.kinds"), bind=LINK, key="sweep_shape")
        width = st.slider(t("divergences.sweep.width"), 0.2, 2.0, 1.0, 0.1, bind=LINK, key="sweep_width")
        theta = st.slider("θ", float(SWEEP_THETAS[0]), float(SWEEP_THETAS[-1]), 1.5, 0.05, bind=LINK, key="sweep_theta")
    densities, sweep = sweep_figures(shape or "uniform", width, theta, current_language())
    with picture:
        chart(densities, key="sweep_densities")
    chart(sweep, key="sweep_figure")
    st.markdown(t("divergences.sweep.takeaway"))


@st.cache_resource(max_entries=64, show_spinner=False)
def parallel_lines_view(theta: float, n: int, lang: str):
    a, b = transport.parallel_lines(theta, n, rng=0)
    plan = transport.wasserstein_samples(a, b, order=1)
    figure = plots.transport_figure(a, b, plan.rows, plan.cols, labels=series_labels(lang))
    return transport.parallel_lines_divergences(theta), plan.distance, figure


@st.cache_resource(max_entries=64, show_spinner=False)
def point_cloud_view(source: str, target: str, n: int, order: int, seed: int, lang: str):
    rng = np.random.default_rng(seed)
    x, y = toy2d.sample(source, n, rng), toy2d.sample(target, n, rng)
    plan = transport.wasserstein_samples(x, y, order=order)
    return plan.distance, plots.transport_figure(x, y, plan.rows, plan.cols, labels=series_labels(lang))


@section
def two_d_examples() -> None:
    links.header("divergences.two_d")
    lines_tab, clouds_tab = st.tabs([t("divergences.two_d.lines_tab"), t("divergences.two_d.clouds_tab")])
    with lines_tab:
        st.markdown(t("divergences.two_d.lines_intro"))
        st.latex(t("divergences.equations.parallel_lines"))
        controls, picture = st.columns([1, 2])
        with controls:
            theta = st.slider("θ", -2.0, 2.0, 1.0, 0.05, bind=LINK, key="lines_theta")
            n = st.slider(t("divergences.two_d.samples"), 10, 200, 40, 10, bind=LINK, key="lines_n")
            exact, sample_w1, figure = parallel_lines_view(theta, n, current_language())
            st.metric(r"$\mathrm{KL}(P_0\|P_\theta)$", format_value(exact.kl_pq))
            st.metric(r"$\mathrm{JS}(P_0, P_\theta)$", format_value(exact.js), help=t("divergences.two_d.js_help"))
            st.metric(r"$W_1(P_0, P_\theta)$", format_value(exact.w1))
            st.caption(t("divergences.two_d.sample_w1", value=sample_w1, n=n))
        with picture:
            chart(figure, key="lines_plot")
    with clouds_tab:
        st.markdown(t("divergences.two_d.clouds_intro"))
        controls, picture = st.columns([1, 2])
        with controls:
            names = toy2d.NAMES
            source = st.selectbox(t("divergences.two_d.source"), names, index=names.index("gaussian"),
                                  format_func=labeler("controls.toy2d"), bind=LINK, key="clouds_source")
            target = st.selectbox(t("divergences.two_d.target"), names, index=names.index("ring"),
                                  format_func=labeler("controls.toy2d"), bind=LINK, key="clouds_target")
            n = st.slider(t("divergences.two_d.samples"), 10, 300, 120, 10, bind=LINK, key="clouds_n")
            order = st.radio(t("divergences.two_d.order"), (1, 2), horizontal=True, bind=LINK, key="clouds_order",
                             format_func=lambda k: f"W{k}")
            seed = st.number_input(t("divergences.two_d.seed"), 0, 10_000, 0, bind=LINK, key="clouds_seed")
            distance, figure = point_cloud_view(source, target, n, order, int(seed), current_language())
            st.metric(f"W{order}", format_value(distance))
        with picture:
            st.latex(t("divergences.equations.assignment"))
            chart(figure, key="clouds_plot")


@st.cache_resource(max_entries=64, show_spinner=False)
def mode_view(separation: float, weight: float, std: float, init_mean: float, lang: str):
    """Both single-Gaussian fits of a two-bump P, their scores, and the reverse-KL landscape."""
    p = two_normal_mixture(0.0, std, weight, separation)
    forward = projections.fit_forward_kl(p)
    reverse = projections.fit_reverse_kl(p, init_mean=init_mean, init_std=1.0)
    means, log_stds = np.linspace(-6.0, 6.0, 121), np.linspace(-1.5, 1.5, 61)
    surface = np.array([projections.reverse_kl_landscape(p, means, float(np.exp(s))) for s in log_stds])
    labels = series_labels(lang)
    x = plot_grid(p, forward, reverse.normal)
    fits = plots.mode_fit_figure(x, p.pdf(x), forward.pdf(x), reverse.normal.pdf(x), labels=labels)
    landscape = plots.landscape_figure(means, log_stds, surface, reverse.path, labels=labels)
    rows = [(translate(lang, "divergences.modes.forward_row"), forward),
            (translate(lang, "divergences.modes.reverse_row"), reverse.normal)]
    table = {translate(lang, "divergences.modes.fit"): [name for name, _ in rows],
             "μ": [f"{q.mean:.3f}" for _, q in rows],
             "σ": [f"{math.sqrt(q.var):.3f}" for _, q in rows],
             "KL(P‖Q)": [format_value(D.kl(p, q)) for _, q in rows],
             "KL(Q‖P)": [format_value(D.kl(q, p)) for _, q in rows]}
    return fits, landscape, table


@section
def mode_covering_vs_seeking() -> None:
    links.header("divergences.modes")
    st.markdown(t("divergences.modes.intro"))
    controls, picture = st.columns([1, 2])
    with controls:
        separation = st.slider(t("controls.dist.separation"), 0.0, 8.0, 4.0, 0.1, bind=LINK, key="modes_separation")
        weight = st.slider(t("controls.dist.weight"), 0.1, 0.9, 0.5, 0.05, bind=LINK, key="modes_weight")
        std = st.slider(t("controls.dist.scale_mixture"), 0.3, 1.5, 0.6, 0.05, bind=LINK, key="modes_std")
        init_mean = st.slider(t("divergences.modes.init"), -5.0, 5.0, 1.0, 0.1, bind=LINK, key="modes_init",
                              help=t("divergences.modes.init_help"))
    fits, landscape, table = mode_view(separation, weight, std, init_mean, current_language())
    with picture:
        chart(fits, key="modes_fit")
    left, right = st.columns([1, 1])
    with left:
        st.latex(t("divergences.equations.forward_fit"))
        st.latex(t("divergences.equations.reverse_fit"))
        st.dataframe(table, hide_index=True)
        st.markdown(t("divergences.modes.takeaway"))
    with right:
        chart(landscape, key="modes_landscape")


@section
def comparison() -> None:
    """P and Q, chosen by the student: every divergence between them, where it comes from, and W."""
    col_p, col_q = st.columns(2)
    with col_p:
        st.subheader(t("divergences.p_heading"), anchor=False)
        p_spec = distribution_controls("p", DEFAULT_P)
    with col_q:
        st.subheader(t("divergences.q_heading"), anchor=False)
        q_spec = distribution_controls("q", DEFAULT_Q)

    p, q = p_spec.build(), q_spec.build()
    report = D.divergence_report(p, q)
    labels = series_labels(current_language())
    metric_row(report)

    x = plot_grid(p, q)
    curves = D.integrands(p, q, x)
    chart(plots.densities_figure(x, curves.p, curves.q, curves.m, labels=labels), key="densities")
    where_it_comes_from(x, curves, labels)
    wasserstein_views(x, p, q, curves, labels)


def model_map() -> None:
    links.header("divergences.models")
    for key in ("kl", "js", "w"):
        with st.container(border=True):
            equation, text = st.columns([1, 1], vertical_alignment="center")
            with equation:
                st.subheader(t(f"divergences.models.{key}_title"), anchor=False)
                st.latex(t(f"divergences.models.{key}_equation"))
            with text:
                st.markdown(t(f"divergences.models.{key}_body"))


st.title(t("divergences.title"), anchor=False)
st.markdown(t("divergences.intro"))
claims.lecture("divergences", CLAIMS)

comparison()
model_map()
move_q_away()
two_d_examples()
mode_covering_vs_seeking()
