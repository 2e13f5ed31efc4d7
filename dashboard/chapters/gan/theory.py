"""GAN page, section 1: the minimax game solved exactly in 1D.

p_data is one of the named mixtures of ``engine.gan.exact.DATA``; p_g is a Normal, optionally
with a second component, set by sliders. The section draws D*, shows both sides of
V(D*, G) = -log 4 + 2 JS, trains a small discriminator against the fixed p_g on request, and
plots the generator's two losses against D(G(z)) with where a far-away p_g puts its samples.

Everything heavy is cached on primitive keys (the data name, a frozen ``GeneratorSpec``, the
language), figures included, so a rerun of the page costs only the widgets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from dashboard.chapters.gan import theory_plots as plots
from dashboard.shared import links
from dashboard.shared.charts import chart
from dashboard.shared.i18n import current_language, labeler, t, texts, translate
from dashboard.shared.links import LINK
from dashboard.shared.plotting import plot_grid
from dashboard.shared.sections import section
from engine.distributions import Mixture, Normal
from engine.gan import exact as G

STEP_CHOICES = (0, 100, 300, 1000, 2000)  # 0 shows the untrained network, far from D*
DEFAULT_STEPS = 1000  # enough for max |D - D*| < 0.05 on the default pairs (tests/engine/test_gan_theory.py)
FAKE_SAMPLES = 20_000  # draws of D*(x), x ~ p_g, for the shaded quantiles: each is good to ~0.005
EARLY_QUANTILES = (0.05, 0.5, 0.95)
D_GRID = np.linspace(0.001, 0.999, 999)  # D(G(z)) axis of the loss plot; the ends are where logs blow up
LEARNED_KEY = "gan_theory_learned"
SERIES = ("density", "d_axis", "p_data", "p_g", "d_star", "d_learned", "step", "d_loss", "d_loss_min", "losses",
          "gradients", "d_of_g", "loss", "gradient", "early", "saturating", "non_saturating")


def series_labels(lang: str) -> dict:
    return texts(lang, "gan_theory.series", SERIES)


@dataclass(frozen=True)
class GeneratorSpec:
    """p_g as the sliders describe it (hashable: it keys the caches).

    Defaults put p_g to the right of every data set, away from most of the data: D*(G(z)) is
    then near 0, where the saturating loss has no gradient, which is the point of the section.
    """

    mean: float = 4.5
    std: float = 0.8
    second: bool = False  # add a second Normal component
    mean2: float = -2.0
    std2: float = 0.6
    weight2: float = 0.5  # weight of the second component

    def build(self):
        first = Normal(self.mean, self.std)
        if not self.second:
            return first
        return Mixture((first, Normal(self.mean2, self.std2)), (1.0 - self.weight2, self.weight2))


@st.cache_data(max_entries=64, show_spinner=False)
def numbers(data: str, spec: GeneratorSpec) -> dict:
    """Everything the section shows for one (p_data, p_g), except the learned discriminator."""
    p_data, p_g = G.data_distribution(data), spec.build()
    x = plot_grid(p_data, p_g)
    fakes = G.d_star_on_generated(p_data, p_g, FAKE_SAMPLES, rng=0)
    return {"x": x, "p_data": p_data.pdf(x), "p_g": p_g.pdf(x), "d_star": G.optimal_discriminator(p_data, p_g, x),
            "game": G.game_at_optimum(p_data, p_g), "early": tuple(np.quantile(fakes, EARLY_QUANTILES)),
            "mean_fake": G.mean_d_star_on_generated(p_data, p_g)}


@st.cache_data(max_entries=32, show_spinner=False)
def learned(data: str, spec: GeneratorSpec, steps: int, mode: str) -> G.LearnedDiscriminator:
    p_data, p_g = G.data_distribution(data), spec.build()
    return G.train_discriminator(p_data, p_g, G.DiscriminatorConfig(steps=steps, mode=mode),
                                 x=numbers(data, spec)["x"])


@st.cache_resource(max_entries=32, show_spinner=False)
def discriminator_view(data: str, spec: GeneratorSpec, trained: tuple | None, lang: str):
    view = numbers(data, spec)
    curve = learned(data, spec, *trained).d if trained else None
    return plots.discriminator_figure(view["x"], view["p_data"], view["p_g"], view["d_star"], curve,
                                      labels=series_labels(lang))


@st.cache_resource(max_entries=32, show_spinner=False)
def training_view(data: str, spec: GeneratorSpec, trained: tuple, lang: str):
    result = learned(data, spec, *trained)
    return plots.training_loss_figure(result.losses, -numbers(data, spec)["game"].value,
                                      labels=series_labels(lang))


@st.cache_resource(max_entries=32, show_spinner=False)
def generator_view(early: tuple, lang: str):
    g = G.generator_losses(D_GRID)
    return plots.generator_loss_figure(g.d, g.saturating, g.non_saturating, g.grad_saturating,
                                       g.grad_non_saturating, early, labels=series_labels(lang))


def controls() -> tuple[str, GeneratorSpec]:
    left, right = st.columns(2)
    with left:
        data = st.selectbox(t("gan_theory.controls.data"), tuple(G.DATA), bind=LINK, key="gan_theory_data",
                            format_func=labeler("gan_theory.data"))
        second = st.toggle(t("gan_theory.controls.second"), False, bind=LINK, key="gan_theory_second")
        weight2 = st.slider(t("gan_theory.controls.weight2"), 0.05, 0.95, 0.5, 0.05,
                            bind=LINK, key="gan_theory_weight2",
                            disabled=not second)
    with right:
        a, b = st.columns(2)
        mean = a.slider(t("gan_theory.controls.mean"), -6.0, 6.0, GeneratorSpec.mean, 0.1,
                        bind=LINK, key="gan_theory_mean")
        std = b.slider(t("gan_theory.controls.std"), 0.1, 3.0, GeneratorSpec.std, 0.05, bind=LINK, key="gan_theory_std")
        mean2 = a.slider(t("gan_theory.controls.mean2"), -6.0, 6.0, GeneratorSpec.mean2, 0.1,

                         bind=LINK, key="gan_theory_mean2", disabled=not second)
        std2 = b.slider(t("gan_theory.controls.std2"), 0.1, 3.0, GeneratorSpec.std2, 0.05,
                        bind=LINK, key="gan_theory_std2",
                        disabled=not second)
    if not second:  # the hidden component's sliders must not split the caches
        mean2, std2, weight2 = GeneratorSpec.mean2, GeneratorSpec.std2, GeneratorSpec.weight2
    return data, GeneratorSpec(mean, std, second, mean2, std2, weight2)


def game_metrics(game: G.GameAtOptimum) -> None:
    # Six decimals fit a metric box at 150% zoom; the difference box shows how far they really agree.
    entries = (("value", f"{game.value:.6f}"), ("identity", f"{game.identity:.6f}"),
               ("difference", f"{game.difference:.1e}"), ("js", f"{game.js:.6f}"))
    columns = [column for _ in range(2) for column in st.columns(2)]  # 2 x 2: the numbers fit at 150% zoom
    for column, (key, shown) in zip(columns, entries):
        column.metric(t(f"gan_theory.metrics.{key}"), shown, help=t(f"gan_theory.metrics.{key}_help"), border=True)


def current_learned(identity: tuple) -> dict | None:
    """The trained discriminator of this browser session if it belongs to these distributions."""
    stored = st.session_state.get(LEARNED_KEY)
    if stored is not None and stored["identity"] != identity:
        del st.session_state[LEARNED_KEY]  # p_data or p_g moved: the old D answers another question
        return None
    return stored


def train_controls(data: str, spec: GeneratorSpec) -> dict | None:
    steps_col, mode_col, button_col = st.columns([1, 2, 1], vertical_alignment="bottom")
    steps = steps_col.selectbox(t("gan_theory.train.steps"), STEP_CHOICES, index=STEP_CHOICES.index(DEFAULT_STEPS),
                                bind=LINK, key="gan_theory_steps")
    mode = mode_col.segmented_control(t("gan_theory.train.mode"), G.MODES, default="expected",
                                      format_func=labeler("gan_theory.train.modes"),
                                      bind=LINK, key="gan_theory_mode") or "expected"
    if button_col.button(t("gan_theory.train.button"), key="gan_theory_train", icon=":material/model_training:",
                         type="primary"):
        with st.spinner(t("gan_theory.train.running", steps=steps)):
            learned(data, spec, steps, mode)
        st.session_state[LEARNED_KEY] = {"identity": (data, spec), "trained": (steps, mode)}
    st.caption(t(f"gan_theory.train.{mode}_caption"))
    return current_learned((data, spec))


def learned_report(data: str, spec: GeneratorSpec, trained: tuple, game: G.GameAtOptimum, lang: str) -> None:
    result = learned(data, spec, *trained)
    left, right = st.columns([1, 2])
    with left:
        mode = translate(lang, f"gan_theory.train.modes.{result.mode}")
        st.metric(t("gan_theory.train.max_error"), f"{result.max_error:.4f}",
                  help=t("gan_theory.train.max_error_help", fraction=f"{G.REGION_FRACTION:.0%}"), border=True)
        st.caption(t("gan_theory.train.report", steps=result.steps, mode=mode, value=result.value,
                     optimum=game.value))
        if result.stopped:
            st.warning(t("gan_theory.train.stopped", steps=result.steps), icon=":material/warning:")
    with right:
        if result.steps:
            chart(training_view(data, spec, trained, lang), key="gan_theory_loss_history")


@section
def section() -> None:
    links.header("gan_theory")
    st.markdown(t("gan_theory.intro"))
    data, spec = controls()
    try:
        view = numbers(data, spec)
    except ValueError:  # the sliders keep every std > 0, but a stale session state could still break it
        st.error(t("gan_theory.bad_input"), icon=":material/error:")
        return
    lang = current_language()
    game = view["game"]
    for equation in ("value", "optimum", "identity"):
        st.latex(t(f"gan_theory.equations.{equation}"))
    game_metrics(game)
    st.subheader(t("gan_theory.train.title"), anchor=False)
    stored = train_controls(data, spec)
    trained = stored["trained"] if stored else None
    chart(discriminator_view(data, spec, trained, lang), key="gan_theory_discriminator")
    st.caption(t("gan_theory.plot_caption"))
    if trained:
        learned_report(data, spec, trained, game, lang)
    st.subheader(t("gan_theory.generator.title"), anchor=False)
    st.latex(t("gan_theory.generator.equation"))
    left, right = st.columns([3, 2])
    with left:
        chart(generator_view(tuple(float(v) for v in view["early"]), lang), key="gan_theory_generator")
    with right:
        low, median, high = view["early"]
        st.markdown(t("gan_theory.generator.explanation"))
        st.caption(t("gan_theory.generator.early", low=low, median=median, high=high, mean=view["mean_fake"]))
