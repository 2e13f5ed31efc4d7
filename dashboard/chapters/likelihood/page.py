"""Maximum likelihood: learning = finding the model closest to the data, with KL as the yardstick.

Sections: the data and a model family with a capacity knob; KL = cross-entropy − entropy;
expected vs empirical log-likelihood; the variance of Monte Carlo estimates; overfitting vs
underfitting (and a KDE that memorises); live gradient ascent; a 2D variant.
"""

from dataclasses import dataclass

import numpy as np
import streamlit as st

from dashboard.chapters.likelihood import plots
from dashboard.chapters.likelihood.claims import CLAIMS
from dashboard.shared import claims, links
from dashboard.shared import live_training as live
from dashboard.shared.charts import chart
from dashboard.shared.controls import DistSpec, distribution_controls
from dashboard.shared.i18n import current_language, labeler, t, texts
from dashboard.shared.links import LINK
from dashboard.shared.plotting import format_value, plot_grid, power_label, surface_with_path
from dashboard.shared.sections import section
from engine import capacity, toy2d
from engine import likelihood as L
from engine.mle import MLEConfig, MLETrainer, excursion, loglik_surface

DEFAULT_DATA = DistSpec("mixture", location=0.0, scale=0.5, weight=0.35, separation=3.0)
N_TEST = 2000  # held-out points: enough that their average is a sharp estimate of the expectation
BANDWIDTHS = (0.001, 0.003, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0)
MC_NS = (5, 10, 20, 50, 100, 200, 500, 1000)
MC_REPEATS = 400  # estimates in the histogram
SE_REPEATS = 200  # estimates per n on the 1/sqrt(n) plot: the SE of an SE is ~1/sqrt(2*200) = 5%
EM_CURVE = dict(max_iter=60, tol=1e-6)  # capacity curve only: its shape is settled well before this
LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
SERIES = ("density", "train", "test", "p_data", "model", "nats", "entropy", "kl", "cross_entropy", "avg_loglik",
          "estimate", "standard_error", "theory", "empirical", "nearest", "count", "model_samples", "fresh_data",
          "step", "expected", "mean", "log_std", "surface", "path", "end")  # plot labels: likelihood.series.*


@dataclass(frozen=True)
class Setup:
    """What the page's top controls decide, read by every section below: the data p_data (``spec``),
    n training points drawn with ``seed``, and the model family (``kind``) with its capacity knob
    (``k`` components of a mixture, bandwidth ``h`` of a KDE)."""

    spec: DistSpec
    n: int
    seed: int
    kind: str
    k: int
    h: float


def series_labels(lang: str) -> dict:
    return texts(lang, "likelihood.series", SERIES)


@st.cache_data(max_entries=32, show_spinner=False)
def make_data(spec: DistSpec, n: int, seed: int):
    """(train, held-out) samples of p_data; held-out comes from the same stream after train."""
    rng = np.random.default_rng(seed)
    p = spec.build()
    return p.sample(n, rng), p.sample(N_TEST, rng)


@st.cache_resource(max_entries=64, show_spinner=False)
def fitted_model(setup: Setup):
    train, test = make_data(setup.spec, setup.n, setup.seed)
    if setup.kind == "gaussian":
        model = L.fit_gaussian(train)
    elif setup.kind == "mixture":
        model = L.fit_mixture(train, setup.k, seed=setup.seed)
    else:
        model = L.kde(train, setup.h)
    p = setup.spec.build()
    return {
        "model": model,
        "decomposition": L.kl_decomposition(p, model),
        "variance": L.log_likelihood_variance(p, model),
        "train": L.mean_log_likelihood(model, train),
        "test": L.mean_log_likelihood(model, test),
    }


def data_and_model() -> Setup:
    """The data controls and the model-family controls."""
    links.header("likelihood.data")
    st.markdown(t("likelihood.data.intro"))
    left, middle, right = st.columns([1, 1, 1])
    with left:
        spec = distribution_controls("data", DEFAULT_DATA)
    with middle:
        n = st.slider(t("likelihood.data.n"), 10, 2000, 100, 10,
                      bind=LINK, key="data_n", help=t("likelihood.data.n_help"))
        seed = int(st.number_input(t("likelihood.data.seed"), 0, 10_000, 0, bind=LINK, key="data_seed"))
    with right:
        kind = st.radio(t("likelihood.model.family"), ("gaussian", "mixture", "kde"),
                        format_func=labeler("likelihood.model.families"), bind=LINK, key="model_kind")
        k = st.slider(t("likelihood.model.k"), 1, 10, 2, bind=LINK, key="model_k", disabled=kind != "mixture")
        h = st.select_slider(t("likelihood.model.bandwidth"), BANDWIDTHS, value=0.2, bind=LINK, key="model_h",
                             disabled=kind != "kde", help=t("likelihood.model.bandwidth_help"))
    return Setup(spec, n, seed, kind, k, h)


def data_picture(setup: Setup, view: dict, labels: dict) -> None:
    x = plot_grid(setup.spec.build())
    train, _ = make_data(setup.spec, setup.n, setup.seed)
    fig = plots.data_figure(x, setup.spec.build().pdf(x), train, model=view["model"].pdf(x), labels=labels)
    chart(fig, key="data_model")


def metrics(view: dict, n: int) -> None:
    d = view["decomposition"]
    entries = [("entropy", d.entropy), ("cross_entropy", d.cross_entropy), ("kl", d.kl),
               ("expected", -d.cross_entropy), ("train", view["train"]), ("test", view["test"])]
    for column, (key, value) in zip(st.columns(6), entries):
        column.metric(t(f"likelihood.metrics.{key}"), format_value(value), help=t(f"likelihood.metrics.{key}_help"),
                      border=True)
    gap = view["train"] - view["test"]
    message = t("likelihood.metrics.gap", gap=gap, n=n)
    (st.warning if gap > 0.25 else st.caption)(message)


def decomposition_and_estimates(n: int, view: dict, labels: dict) -> None:
    links.header("likelihood.kl")
    left, right = st.columns(2)
    d = view["decomposition"]
    with left:
        st.latex(t("likelihood.kl.equation"))
        chart(plots.decomposition_figure(d.entropy, d.kl, d.cross_entropy, labels=labels),
                        key="decomposition")
        st.caption(t("likelihood.kl.caption"))
    with right:
        st.latex(t("likelihood.estimates.equation"))
        names = [labels["expected"], labels["train"], labels["test"]]
        values = [-d.cross_entropy, view["train"], view["test"]]
        se = np.sqrt(view["variance"]) if np.isfinite(view["variance"]) else 0.0
        errors = [0.0, se / np.sqrt(n), se / np.sqrt(N_TEST)]
        chart(plots.estimates_figure(names, values, errors, -d.cross_entropy, labels=labels),
                        key="estimates")
        st.caption(t("likelihood.estimates.caption"))


@st.cache_data(max_entries=32, show_spinner=False)
def monte_carlo(setup: Setup, n_mc: int):
    model = fitted_model(setup)["model"]
    p = setup.spec.build()
    estimates = L.mc_log_likelihood(p, model, n_mc, MC_REPEATS, rng=setup.seed + 1)
    curve = L.standard_error_curve(p, model, MC_NS, SE_REPEATS, rng=setup.seed + 2)
    return estimates, curve


@section
def monte_carlo_section(setup: Setup) -> None:
    links.header("likelihood.mc")
    st.markdown(t("likelihood.mc.intro"))
    n_mc = st.select_slider(t("likelihood.mc.n"), MC_NS, value=20, bind=LINK, key="mc_n")
    estimates, curve = monte_carlo(setup, n_mc)
    labels = series_labels(current_language())
    left, right = st.columns(2)
    with left:
        st.latex(t("likelihood.mc.estimator"))
        chart(plots.mc_histogram_figure(estimates, curve.expected, labels=labels), key="mc_histogram")
        st.caption(t("likelihood.mc.spread", sd=float(np.std(estimates, ddof=1)), repeats=MC_REPEATS, n=n_mc))
    with right:
        st.latex(t("likelihood.mc.law"))
        chart(plots.standard_error_figure(curve.ns, curve.empirical_se, curve.theory_se, n_mc,
                                                    labels=labels), key="mc_se")
        st.caption(t("likelihood.mc.law_caption"))


@st.cache_resource(max_entries=16, show_spinner=False)
def capacity_view(spec: DistSpec, n: int, seed: int, memorise_h: float, lang: str):
    train, test = make_data(spec, n, seed)
    labels = series_labels(lang)
    ks = np.arange(1, 11)
    mixture = capacity.mixture_capacity_curve(train, test, ks, seed=seed, **EM_CURVE)
    kde = capacity.kde_capacity_curve(train, test, BANDWIDTHS)
    rng = np.random.default_rng(seed + 3)
    copies = capacity.nearest_distances(L.kde(train, memorise_h).sample(500, rng), train)
    fresh = capacity.nearest_distances(spec.build().sample(500, rng), train)
    return mixture, kde, copies, fresh, labels


@section
def capacity_section(setup: Setup) -> None:
    links.header("likelihood.capacity")
    st.markdown(t("likelihood.capacity.intro"))
    memorise_h = st.select_slider(t("likelihood.capacity.memorise_h"), BANDWIDTHS, value=0.001,
                                  bind=LINK, key="memorise_h")
    mixture, kde, copies, fresh, labels = capacity_view(setup.spec, setup.n, setup.seed, memorise_h,
                                                        current_language())
    left, right = st.columns(2)
    with left:
        chart(plots.capacity_figure(mixture.values, mixture.train_log_likelihood,
                                              mixture.test_log_likelihood, setup.k, x_title=t("likelihood.model.k"),
                                              labels=labels), key="capacity_mixture")
    with right:
        chart(plots.capacity_figure(kde.values, kde.train_log_likelihood, kde.test_log_likelihood, setup.h,
                                              x_title=t("likelihood.model.bandwidth"), labels=labels, log_x=True,
                                              reverse_x=True), key="capacity_kde")
    st.latex(t("likelihood.capacity.kde_equation"))
    left, right = st.columns([2, 1])
    with left:
        chart(plots.nearest_figure(copies, fresh, labels=labels), key="nearest")
    with right:
        st.metric(t("likelihood.capacity.median_copy"), f"{np.median(copies):.4f}")
        st.metric(t("likelihood.capacity.median_fresh"), f"{np.median(fresh):.4f}")
        st.caption(t("likelihood.capacity.nearest_caption"))


@st.cache_data(max_entries=16, show_spinner=False)
def surface_grid(spec: DistSpec, n: int, seed: int):
    train, _ = make_data(spec, n, seed)
    means = np.linspace(min(train.min(), -3.5) - 0.5, max(train.max(), 3.5) + 0.5, 90)
    log_stds = np.linspace(-2.0, 2.0, 70)
    surface = loglik_surface(train, means, log_stds)
    best = L.mean_log_likelihood(L.fit_gaussian(train), train)
    return means, log_stds, np.maximum(surface, best - 8.0), best  # clip: spend the contours near the optimum


@section
def live_fitting(spec: DistSpec, n: int, seed: int) -> None:
    links.header("likelihood.live")
    st.markdown(t("likelihood.live.intro"))
    train, _ = make_data(spec, n, seed)
    left, middle, right = st.columns(3)
    family = left.segmented_control(t("likelihood.live.family"), ("gaussian", "mixture"), default="gaussian",
                                    format_func=labeler("likelihood.live.families"),
                                    bind=LINK, key="live_family") or "gaussian"
    optimizer = middle.segmented_control(t("likelihood.live.optimizer"), ("sgd", "momentum", "adam"), default="adam",
                                         format_func=labeler("likelihood.live.optimizers"),
                                         bind=LINK, key="live_optimizer") or "adam"
    lr = right.select_slider(t("likelihood.live.lr"), LEARNING_RATES, value=0.05, bind=LINK, key="live_lr",
                             help=t("likelihood.live.lr_help"))
    identity = (spec, n, seed, family)  # a change here starts a new run; optimiser and lr change live
    config = MLEConfig(family=family, optimizer=optimizer, lr=lr, seed=seed)
    live.trainer_for("mle", identity, lambda: MLETrainer(config, train),
                     live=lambda tr: (tr.set_optimizer(optimizer), tr.set_lr(lr)))
    st.latex(t("likelihood.live.update"))
    means, log_stds, surface, best = surface_grid(spec, n, seed)
    labels = series_labels(current_language())
    x = plot_grid(spec.build())

    def draw(trainer) -> None:
        snap = trainer.snapshot()
        history = [h["log_likelihood"] for h in trainer.history]
        a, b = st.columns(2)
        with a:
            if family == "gaussian":
                chart(surface_with_path(means, log_stds, surface, snap.path, x_title=labels["mean"],
                                                  y_title=labels["log_std"], z_title=labels["surface"],
                                                  path_name=labels["path"], end_name=labels["end"],
                                                  colorscale="Viridis", exit_name=t("likelihood.live.exit")),
                                key="live_surface")
            else:
                chart(plots.training_curve_figure(history, best, labels=labels), key="live_curve")
        with b:
            model = snap.model.pdf(x) if snap.model is not None else None
            chart(plots.data_figure(x, spec.build().pdf(x), train, model=model, labels=labels),
                            key="live_density")
        if history:
            st.caption(t("likelihood.live.progress", ll=history[-1], best=best))
        went = excursion(snap.path, means[[0, -1]], log_stds[[0, -1]]) if family == "gaussian" else None
        if went is not None:  # the surface is drawn on a fixed box: say where the path went and why
            mu, log_sigma = went.farthest
            st.warning(t("likelihood.live.left_region_" + ("adam" if trainer.optimizer_name == "adam" else "sgd"),
                         first=went.first, mu=mu, log_sigma=log_sigma, sigma=power_label(log_sigma / np.log(10.0)),
                         jump=went.largest_jump, lr=trainer.lr), icon=":material/open_in_full:")

    live.run("mle", draw)


@st.cache_resource(max_entries=16, show_spinner=False)
def two_d_view(name: str, n: int, kind: str, k: int, seed: int, lang: str):
    rng = np.random.default_rng(seed)
    train, test = toy2d.sample(name, n, rng), toy2d.sample(name, N_TEST, rng)
    model = L.fit_gaussian(train) if kind == "gaussian" else L.fit_mixture(train, k, seed=seed)
    grid = np.linspace(-3.5, 3.5, 120)
    gx, gy = np.meshgrid(grid, grid)
    density = model.pdf(np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)  # (120, 120)
    figure = plots.density_2d_figure(grid, grid, density, train, labels=series_labels(lang))
    return figure, L.mean_log_likelihood(model, train), L.mean_log_likelihood(model, test)


@section
def two_d_section() -> None:
    links.header("likelihood.two_d")
    st.markdown(t("likelihood.two_d.intro"))
    controls, picture = st.columns([1, 2])
    with controls:
        name = st.selectbox(t("likelihood.two_d.data"), toy2d.NAMES, index=toy2d.NAMES.index("moons"),
                            format_func=labeler("controls.toy2d"), bind=LINK, key="two_d_data")
        n = st.slider(t("likelihood.data.n"), 20, 2000, 400, 20, bind=LINK, key="two_d_n")
        kind = st.segmented_control(t("likelihood.model.family"), ("gaussian", "mixture"), default="mixture",
                                    format_func=labeler("likelihood.two_d.families"),
                                    bind=LINK, key="two_d_kind") or "mixture"
        k = st.slider(t("likelihood.model.k"), 1, 12, 6, bind=LINK, key="two_d_k", disabled=kind != "mixture")
        figure, train_ll, test_ll = two_d_view(name, n, kind, k, 0, current_language())
        st.metric(t("likelihood.two_d.train"), f"{train_ll:.3f}", help=t("likelihood.metrics.train_help"))
        st.metric(t("likelihood.two_d.test"), f"{test_ll:.3f}", help=t("likelihood.metrics.test_help"))
    with picture:
        st.latex(t("likelihood.two_d.equation"))
        chart(figure, key="two_d_plot")


st.title(t("likelihood.title"), anchor=False)
st.markdown(t("likelihood.intro"))
claims.lecture("likelihood", CLAIMS)
setup = data_and_model()
view = fitted_model(setup)
labels = series_labels(current_language())
data_picture(setup, view, labels)
metrics(view, setup.n)
decomposition_and_estimates(setup.n, view, labels)
monte_carlo_section(setup)
capacity_section(setup)
live_fitting(setup.spec, setup.n, setup.seed)
two_d_section()
