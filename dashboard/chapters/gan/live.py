"""GAN page, section 2: a GAN trained live on 2D points, GAN Lab style, with honest mode counts.

The student picks data (named sets or an uploaded CSV), the game (loss, D steps, optimisers,
batch, PacGAN packing) and the networks; plays, pauses or steps D alone, G alone or both; and
watches D's opinion (heatmap), G's samples, the gradient G follows, the warped latent grid,
and curves of the losses, a divergence estimate and the VEEGAN/PacGAN mode metric.

Settings of the game change the running trainer (``GAN2DTrainer.update``, no restart); data,
architecture and a run id bumped by every preset pick identify the trainer, so changing them (or
picking a preset) starts over from step 0 (their help says so).
Widget keys start with ``gan_live_``; the live loop is ``dashboard.shared.live_training``.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import streamlit as st

from dashboard.chapters.gan import live_plots as plots
from dashboard.chapters.gan.controls import ARCH, CONTROLS, SETTINGS, fill, read_config, settings_panel
from dashboard.shared import links, points_upload
from dashboard.shared import live_training as live
from dashboard.shared.charts import chart
from dashboard.shared.i18n import current_language, labeler, t, texts
from dashboard.shared.links import LINK
from dashboard.shared.sections import section
from engine.data.points import parse_points_csv, standardize
from engine.gan.live import (
    EVAL_SAMPLES,
    GAN_DATASETS,
    MODE_STD,
    PRESETS,
    GAN2DTrainer,
    GANSettings,
    mode_centers,
    sample_data,
)

KEY = "gan_live"
N_POINTS = 10_000  # points drawn once per named data set: minibatches of 512 rarely repeat a point
GRID = 48  # heatmap cells per side: smooth with zsmooth, 2.3k values per frame instead of 4k
STEP_N = 1  # iterations per step button press: one update, as in GAN Lab, to see a single move
# Per tick (budget_s, most iterations). A tick trains for the budget, then draws (~0.1 s); with the
# browser on the same 2 cores this gave 2.1-2.2 frames/s at 300-360 iterations/s
# (benchmarks/bench_gan_live.py); a 0.3 s budget gave more iterations but under 2 frames/s.
SPEEDS = {"slow": (0.25, 4), "normal": (0.25, 40), "fast": (0.25, 100_000)}
INTERVAL_S = 0.35
DEFAULT_SPEED = "fast"  # ring modes take thousands of iterations to form: the dynamics show at full speed
CRITIC_MIDPOINT = {"least_squares": 0.5}  # LSGAN codes real as 1 and fake as 0; other critics split at 0
DEFAULT_LAYERS = ("heatmap", "real", "fake", "gradients")  # the manifold is a fifth layer, off to start
# Streamlit gives a plotly chart a new element id (and the browser a fresh Plotly.newPlot, ~3x the
# cost of an update) whenever its figure changes. The curves change slowly, so while playing they
# are rebuilt at most this often and the same figure is sent in between (same id: no redraw).
CURVES_EVERY_S = 1.0

# Rows that wrap instead of squeezing when the page is narrow (a 150% zoom of a 1280 px window with the
# sidebar open leaves ~520 px): Streamlit's columns already wrap (flex-wrap), they only need a minimum
# width. Equations: never narrower than the formula (it was cut off), scrolled if even a full row is
# too narrow. Buttons of live_training's row (in the panel, outside the view): never narrower than
# their label (they were cut to one letter). Field and curves: side by side from ~2 x 340 px, else one
# under the other. The charts keep a fixed height (CSS containment: a redraw of one chart never
# re-lays out the page).
LAYOUT_CSS = """<style>
.st-key-{key}_field, .st-key-{key}_curves {{contain: strict; height: {height}px;}}
.st-key-{key}_equations [data-testid="stColumn"] {{min-width: min(100%, max-content);}}
.st-key-{key}_equations .katex-display {{overflow-x: auto; overflow-y: hidden;}}
.st-key-{key}_panel [data-testid="stColumn"]:has([data-testid="stButton"]) {{min-width: max-content;}}
.st-key-{key}_panel [data-testid="stColumn"]:has(.st-key-{key}_speed) {{min-width: 9rem;}}
.st-key-{key}_view [data-testid="stColumn"] {{min-width: 21rem;}}
</style>"""


def use_preset() -> None:
    """Callback of the preset pills: move every control (and the data) to the preset's values and
    start a fresh run from step 0, even where the data and networks equal the current ones (a
    preset's text describes a run from its seed, not a continuation of whatever was training).

    Clicking the selected pill again deselects it in the browser; that restarts the preset instead.
    """
    state = st.session_state
    name = state.get(f"{KEY}_preset")
    if name is None:  # the selected pill was clicked again: keep it selected and run it again
        name = state.get(f"{KEY}_preset_last")
        state[f"{KEY}_preset"] = name
    if name in PRESETS:
        preset = PRESETS[name]
        state[f"{KEY}_data"] = preset.dataset
        fill(preset.architecture, preset.settings, force=True)
        state[f"{KEY}_preset_last"] = name
        state[f"{KEY}_run"] = state.get(f"{KEY}_run", 0) + 1  # part of the trainer's identity: a new trainer


# ---- data
@st.cache_data(max_entries=8, show_spinner=False)
def named_data(name: str) -> np.ndarray:
    return sample_data(name, N_POINTS, rng=0)  # (N_POINTS, 2)


@st.cache_data(max_entries=8, show_spinner=False)
def uploaded_points(data: bytes) -> np.ndarray:
    """Parsed and standardised points of an upload (raises ``PointsError``; errors are not cached)."""
    return standardize(parse_points_csv(data))


# ---- controls
def preset_row(column) -> None:
    column.pills(t("gan_live.preset"), list(PRESETS), format_func=labeler("gan_live.presets"),
                 bind=LINK, key=f"{KEY}_preset", on_change=use_preset, help=t("gan_live.preset_help"))
    name = st.session_state.get(f"{KEY}_preset")
    if name in PRESETS:
        preset = PRESETS[name]
        values = {**asdict(preset.settings), **{f"arch_{k}": v for k, v in asdict(preset.architecture).items()},
                  "data": t(f"gan_live.datasets.{preset.dataset}"),
                  "loss": t(f"gan_live.losses.{preset.settings.loss}")}
        uses = t("gan_live.preset_uses", **values)
        st.info(f"{t(f'gan_live.watch.{name}', **values)}\n\n{uses}", icon=":material/visibility:")


def step_buttons() -> list[live.StepButton]:
    return [live.StepButton("step_d", t("gan_live.step_d"), lambda tr: tr.step_only("d", STEP_N),
                            icon=":material/looks_one:", help=t("gan_live.step_d_help")),
            live.StepButton("step_g", t("gan_live.step_g"), lambda tr: tr.step_only("g", STEP_N),
                            icon=":material/looks_two:", help=t("gan_live.step_g_help")),
            live.StepButton("step_both", t("gan_live.step_both"), lambda tr: tr.step(STEP_N),
                            help=t("gan_live.step_both_help"))]


def equations(loss: str) -> None:
    """D's and G's objectives side by side where both fit, one under the other where not (``LAYOUT_CSS``)."""
    left, right = st.container(key=f"{KEY}_equations").columns(2)
    left.caption(t("gan_live.d_objective"))
    left.latex(t(f"gan_live.equations.{loss}.d"))
    right.caption(t("gan_live.g_objective"))
    right.latex(t(f"gan_live.equations.{loss}.g"))


# ---- the live view
def plot_labels(lang: str) -> dict:
    names = ("heatmap", "real", "fake", "gradients", "manifold", "step", "d_loss", "g_loss", "sliced_w2", "floor",
             "modes_covered", "high_quality")
    return texts(lang, "gan_live.plot", names)


def loss_series(history: list[dict]) -> dict[str, np.ndarray]:
    """d_loss and g_loss of every history entry as arrays, extended incrementally between frames.

    The cache is dropped when the history was rewound or replaced (its last entry is not the
    same object any more), so a resume or reset never shows stale values.
    """
    cache = st.session_state.get(f"{KEY}_series")
    n = len(history)
    if cache is None or cache["n"] > n or (cache["n"] and history[cache["n"] - 1] is not cache["last"]):
        cache = {"n": 0, "last": None, "d_loss": np.zeros(0), "g_loss": np.zeros(0)}
    new = history[cache["n"]:]
    if new:
        for name in ("d_loss", "g_loss"):
            cache[name] = np.concatenate([cache[name], np.fromiter((h[name] for h in new), float, len(new))])
        cache["n"], cache["last"] = n, history[-1]
    st.session_state[f"{KEY}_series"] = cache
    return cache


def curves_figure(trainer, modes, labels: dict):
    """The curves figure, rebuilt when training moved and (while playing) ``CURVES_EVERY_S`` passed."""
    version = (trainer, trainer.step_count, len(trainer.evaluations), current_language())
    return live.held(KEY, "curves", version, hold_s=CURVES_EVERY_S, build=lambda: plots.curves_figure(
        loss_series(trainer.history), trainer.evaluations, trainer.sliced_w2_floor, labels=labels,
        has_modes=modes is not None, n_modes=None if modes is None else len(modes[0])))


def draw_factory(modes):
    labels = plot_labels(current_language())

    def draw(trainer: GAN2DTrainer) -> None:
        layers = st.pills(t("gan_live.layers"), plots.LAYERS, selection_mode="multi", default=DEFAULT_LAYERS,
                          format_func=labeler("gan_live.plot"), bind=LINK, key=f"{KEY}_layers")
        snap = trainer.snapshot(grid=GRID)
        loss = trainer.settings.loss
        title = t("gan_live.colorbar_probability" if snap.d_is_probability else "gan_live.colorbar_critic")
        field, curves = st.columns([5, 4])
        chart(plots.field_figure(snap, layers, labels=labels, colorbar_title=title,
                                 midpoint=CRITIC_MIDPOINT.get(loss, 0.0)), key=f"{KEY}_field", container=field)
        evaluations = trainer.evaluations
        chart(curves_figure(trainer, modes, labels), key=f"{KEY}_curves", container=curves)
        last = evaluations[-1] if evaluations else None
        if last is not None:
            text = t("gan_live.numbers", step=last["step"], w2=last["sliced_w2"], floor=trainer.sliced_w2_floor)
            if modes is not None:
                text += " " + t("gan_live.mode_numbers", covered=int(last["modes_covered"]), k=len(modes[0]),
                                hq=100.0 * last["high_quality"])
            curves.caption(text)

    return draw


def stop_text(trainer):
    """The stop banner in the GAN's words: which loss, optimisers and learning rates blew up."""

    def message(stop) -> str:
        s = trainer.settings
        names = {"loss_name": t(f"gan_live.losses.{s.loss}"), "g_opt_name": t(f"gan_live.optimizers.{s.g_optimizer}"),
                 "d_opt_name": t(f"gan_live.optimizers.{s.d_optimizer}")}
        return live.stop_message(stop, "gan_live.stop", **names, **asdict(s))

    return message


def apply_settings(trainer: GAN2DTrainer, settings: GANSettings) -> None:
    if trainer.settings != settings:
        trainer.update(settings)  # live: no restart, the optimisers keep their state


@section
def section() -> None:
    links.header("gan_live")
    st.markdown(t("gan_live.intro"))
    fill(ARCH, SETTINGS, force=False)
    st.session_state.setdefault(f"{KEY}_data", GAN_DATASETS[0])
    data_col, preset_col = st.columns([1, 2])
    identity, data = points_upload.choose_data(data_col, key=KEY, namespace="gan_live", datasets=GAN_DATASETS,
                                                named=named_data, parse=uploaded_points)
    preset_row(preset_col)
    settings_panel()
    architecture, settings = read_config()
    name = identity[0]
    modes = (mode_centers(name), MODE_STD[name]) if name in MODE_STD else None
    run_id = st.session_state.get(f"{KEY}_run", 0)  # bumped by each preset pick (use_preset)
    trainer = live.trainer_for(KEY, (identity, architecture, run_id),
                               lambda: GAN2DTrainer(data, architecture, settings, modes=modes),
                               speed=DEFAULT_SPEED, speeds=SPEEDS, interval_s=INTERVAL_S,
                               live=lambda tr: apply_settings(tr, settings))
    equations(settings.loss)
    st.html(LAYOUT_CSS.format(key=KEY, height=plots.HEIGHT))
    live.run(KEY, draw_factory(modes), message=stop_text(trainer), steps=step_buttons(),
             files=(f"{KEY}_data", *(control.key for control in CONTROLS)))
    st.caption(t("gan_live.protocol", n=EVAL_SAMPLES, every=trainer.eval_every) if modes is not None
               else t("gan_live.no_modes"))
    with st.expander(t("gan_live.reading"), icon=":material/school:"):
        st.markdown(t("gan_live.reading_body"))

