"""Diffusion page, section 2: a 2D DDPM trained live, then its reverse process (section 3 follows).

The student picks data (named sets or an uploaded CSV), the schedule, T and the network, then plays,
pauses or steps training, watching the samples, the loss, the loss per timestep and sliced W2 next to
its floor. Below, the trained model's reverse chain: an animation that runs in the browser (plotly
frames), a slider that scrubs it with the learned score field at that step, and a few particles'
paths. ``diffusion_step2d`` then takes one step of one particle apart.

Only the learning rate changes the running trainer; data, schedule, T and the network identify it,
so changing them starts over (their help says so). Widget keys start with ``diffusion_live_``.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import streamlit as st

from dashboard.chapters.diffusion import live_plots as plots
from dashboard.chapters.diffusion import step2d as diffusion_step2d
from dashboard.shared import links, points_upload
from dashboard.shared import live_training as live
from dashboard.shared.charts import chart
from dashboard.shared.i18n import current_language, labeler, t, texts
from dashboard.shared.links import LINK
from dashboard.shared.sections import section
from engine import toy2d
from engine.data.points import parse_points_csv, standardize
from engine.diffusion import SCHEDULES
from engine.diffusion.live import N_EVAL, Diffusion2DConfig, Diffusion2DTrainer, ReverseFilm

KEY = "diffusion_live"
DATASETS = ("swiss_roll", "moons", "ring", "spiral")
N_POINTS = 10_000  # points drawn once per named set: minibatches of 512 rarely repeat a point
CSV_REACH = 2.0  # uploads are standardised, then scaled so the farthest coordinate is 2, the toy sets' scale:
#                  N(0, I) noise then swamps them at the same t as it does the named sets
# Per tick (budget_s, most steps), as on the GAN page: one step is ~4 ms single-threaded and an
# evaluation (a 1,000-particle chain) ~0.25 s, so "fast" reaches 3x the floor in a few seconds.
SPEEDS = {"slow": (0.25, 5), "normal": (0.25, 50), "fast": (0.25, 100_000)}
INTERVAL_S = 0.35
DEFAULT_SPEED = "fast"
STEP_SIZES = (1, 100)  # one update to watch the loss move; 100 to see the samples change
N_FILM = N_EVAL  # particles in the reverse film (the metric's sample size)
MAX_FRAMES = 51  # animation frames at most: a longer chain is shown every k-th step (caption says so)
N_PATHS = 5  # highlighted trajectories
FIELD_GRID = 17  # score arrows per side at the chosen t
CURVES_EVERY_S = 1.0  # while playing, the curves are redrawn at most this often (as on the GAN page)

DEFAULT = Diffusion2DConfig()
STEPS_T = tuple(sorted({10, 20, 50, 100, 200, 500, 1000, DEFAULT.steps}))
LRS = tuple(sorted({1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 1.0, DEFAULT.lr}))
WIDTHS = tuple(sorted({32, 64, 128, 256, DEFAULT.width}))
DEPTHS = tuple(sorted({1, 2, 3, 4, DEFAULT.depth}))


# ---- data
@st.cache_data(max_entries=8, show_spinner=False)
def named_data(name: str) -> np.ndarray:
    return toy2d.sample(name, N_POINTS, rng=0)  # (N_POINTS, 2)


def fresh_sampler(name: str):
    return lambda n, seed: toy2d.sample(name, n, seed)


@st.cache_data(max_entries=8, show_spinner=False)
def uploaded_points(data: bytes) -> np.ndarray:
    """Parsed, standardised and scaled points of an upload (raises ``PointsError``; errors are not cached)."""
    points = standardize(parse_points_csv(data))
    return points * (CSV_REACH / np.abs(points).max())


# ---- controls
# The controls a model file restores (the data picker's choice and every setting of settings_panel).
FILE_KEYS = tuple(f"{KEY}_{name}" for name in ("data", "schedule", "steps", "rescale", "lr", "width", "depth", "seed"))


def settings_panel() -> Diffusion2DConfig:
    """The schedule and network (restart) and the learning rate (live), as a config."""
    state = st.session_state
    defaults = {"schedule": DEFAULT.schedule, "steps": DEFAULT.steps, "rescale": DEFAULT.rescale, "lr": DEFAULT.lr,
                "width": DEFAULT.width, "depth": DEFAULT.depth, "seed": DEFAULT.seed}
    for name, value in defaults.items():
        state.setdefault(f"{KEY}_{name}", value)
    restart = t("diffusion_live.restart_help")
    with st.expander(t("diffusion_live.settings"), expanded=False, icon=":material/tune:"):
        chain, net = st.columns(2)
        schedule = chain.selectbox(t("diffusion_live.schedule"), SCHEDULES, bind=LINK, key=f"{KEY}_schedule",
                                   format_func=labeler("diffusion_live.schedules"),
                                   help=t("diffusion_live.schedule_help") + " " + restart)
        chain.select_slider(t("diffusion_live.steps"), STEPS_T, bind=LINK, key=f"{KEY}_steps",
                            help=t("diffusion_live.steps_help") + " " + restart)
        if schedule == "linear":
            chain.checkbox(t("diffusion_live.rescale"), bind=LINK, key=f"{KEY}_rescale",
                           help=t("diffusion_live.rescale_help") + " " + restart)
        net.select_slider(t("diffusion_live.lr"), LRS, bind=LINK, key=f"{KEY}_lr", format_func=lambda v: f"{v:g}",
                          help=t("diffusion_live.lr_help"))
        net.select_slider(t("diffusion_live.width"), WIDTHS, bind=LINK, key=f"{KEY}_width", help=restart)
        net.select_slider(t("diffusion_live.depth"), DEPTHS, bind=LINK, key=f"{KEY}_depth", help=restart)
        net.number_input(t("diffusion_live.seed"), 0, 9999, step=1, bind=LINK, key=f"{KEY}_seed", help=restart)
    return replace(DEFAULT, schedule=schedule, steps=int(state[f"{KEY}_steps"]),
                   rescale=bool(state[f"{KEY}_rescale"]) if schedule == "linear" else DEFAULT.rescale,
                   lr=float(state[f"{KEY}_lr"]), width=int(state[f"{KEY}_width"]),
                   depth=int(state[f"{KEY}_depth"]), seed=int(state[f"{KEY}_seed"]))


# ---- the live view
LABELS = ("data", "samples", "loss", "sliced_w2", "floor", "times_floor", "loss_by_t", "loss_axis", "w2_axis", "step",
          "t_axis", "loss_by_t_axis", "particles", "trajectories", "score", "play", "pause", "step_prefix", "eps",
          "to_x0", "sigma_z", "x_t", "x0_hat", "mean", "x_prev")


def plot_labels(lang: str) -> dict:
    return texts(lang, "diffusion_live.plot", LABELS)


def model_state(trainer) -> tuple:
    """What identifies the trainer's weights: the trainer, its step count and its last history entry.

    The objects themselves (not their ids, which Python reuses) are kept, and compared with ``is``
    (``same``): a rebuilt trainer, a reset followed by other steps, or a rewind all change the state.
    """
    return (trainer, trainer.step_count, trainer.history[-1] if trainer.history else None, len(trainer.evaluations))


def draw_factory(data: np.ndarray):
    lang = current_language()
    labels = plot_labels(lang)

    def draw(trainer: Diffusion2DTrainer) -> None:
        samples_col, curves_col = st.columns([4, 5])
        evaluations = trainer.evaluations
        version = (trainer, trainer.samples, lang)  # a new array at each evaluation (and after a rewind)
        chart(live.held(KEY, "samples", version, hold_s=0, build=lambda: plots.samples_figure(
            data, trainer.samples, labels=labels)), key=f"{KEY}_samples", container=samples_col)
        history = trainer.history
        curves = live.held(KEY, "curves", (*model_state(trainer), lang), hold_s=CURVES_EVERY_S, build=lambda: (
            plots.curves_figure(np.fromiter((h["loss"] for h in history), float, len(history)), evaluations,
                                trainer.sliced_w2_floor, trainer.loss_by_t(), labels=labels)))
        chart(curves, key=f"{KEY}_curves", container=curves_col)
        if evaluations:
            last = evaluations[-1]
            floor = trainer.sliced_w2_floor
            outside = int(np.sum(np.abs(trainer.samples).max(axis=1) > plots.VIEW)) if len(trainer.samples) else 0
            samples_col.caption(t("diffusion_live.samples_caption", step=last["step"], outside=outside,
                                  n=len(trainer.samples)))
            curves_col.caption(t("diffusion_live.numbers", step=last["step"], w2=last["sliced_w2"], floor=floor,
                                 ratio=last["sliced_w2"] / floor if floor > 0 else math.inf))

    return draw


def stop_text(trainer):
    def message(stop) -> str:
        return live.stop_message(stop, "diffusion_live.stop", lr=trainer.lr)

    return message


# ---- the reverse process
def film_for(trainer: Diffusion2DTrainer, predictor: str = "network") -> ReverseFilm:
    """The reverse chain of N_FILM particles at the trainer's current weights (cached per step count), or
    driven by the data's exact noise predictor (cached per trainer: it does not change with training)."""
    state = (trainer, predictor) if predictor == "exact" else (*model_state(trainer), predictor)
    cached = st.session_state.get(f"{KEY}_film_cache")
    if cached is not None and live.same(cached[0], state):
        return cached[1]
    film = trainer.reverse_film(N_FILM, seed=0, predictor=predictor)
    film = replace(film, frames=film.frames.astype(np.float32))  # halves what the session keeps
    st.session_state[f"{KEY}_film_cache"] = (state, film)
    return film


def reverse_process(trainer: Diffusion2DTrainer, film: ReverseFilm) -> None:
    labels = plot_labels(current_language())
    total = trainer.config.steps
    st.subheader(t("diffusion_live.reverse.title"), anchor=False)
    st.markdown(t("diffusion_live.reverse.intro"))
    diffusion_step2d.predictor_switch(trainer)
    exact = film.predictor == "exact"
    if exact:
        labels["score"] = t("diffusion_live.plot.score_exact")
    every = max(1, math.ceil(total / (MAX_FRAMES - 1)))
    kept = np.flatnonzero((film.steps % every == 0) | (film.steps == total))
    shown = film.frames[:, :: max(1, math.ceil(N_FILM / plots.MAX_POINTS))]
    paths = film.trajectories(range(N_PATHS))  # x_T is random, so the first particles are a random pick
    left, right = st.columns(2)
    with left:
        figure = live.held(KEY, "film_figure", (film, current_language()), hold_s=0, build=lambda: (
            plots.film_figure(film.steps[kept], shown[kept], paths[:, kept], labels=labels)))
        chart(figure, key=f"{KEY}_film")
        st.caption(t("diffusion_live.reverse.film_caption_exact" if exact else "diffusion_live.reverse.film_caption",
                     frames=len(kept), total=total, every=every, n=shown.shape[1], step=trainer.step_count))
    with right:
        state = st.session_state
        state.setdefault(f"{KEY}_t", total // 2)
        if state[f"{KEY}_t"] > total:  # T was lowered: the old step is out of range
            state[f"{KEY}_t"] = total
        step_t = st.slider(t("diffusion_live.reverse.t"), 0, total, bind=LINK, key=f"{KEY}_t",
                           help=t("diffusion_live.reverse.t_help"))
        k = int(np.flatnonzero(film.steps == step_t)[0])
        grid = score = None
        if step_t >= 1:
            axis = np.linspace(-0.9 * plots.VIEW, 0.9 * plots.VIEW, FIELD_GRID)
            grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)  # (FIELD_GRID², 2)
            _, score = trainer.noise_field(step_t, grid, predictor=film.predictor)
        chart(plots.field_figure(film.frames[k], paths, k, grid, score, labels=labels), key=f"{KEY}_field")
        if score is None:
            st.caption(t("diffusion_live.reverse.no_field"))
        else:
            st.caption(t("diffusion_live.reverse.field_caption", t=step_t,
                         abar=float(trainer.schedule.alpha_bar[step_t]),
                         top=float(np.linalg.norm(score, axis=1).max())))


@section
def section() -> None:
    links.header("diffusion_live")
    st.markdown(t("diffusion_live.intro"))
    st.session_state.setdefault(f"{KEY}_data", DATASETS[0])
    data_col, settings_col = st.columns([1, 2])
    identity, data = points_upload.choose_data(data_col, key=KEY, namespace="diffusion_live", datasets=DATASETS,
                                                named=named_data, parse=uploaded_points)
    with settings_col:
        config = settings_panel()
    fresh = fresh_sampler(identity[0]) if identity[0] not in (points_upload.CSV, points_upload.DRAWN) else None
    trainer = live.trainer_for(KEY, (identity, replace(config, lr=DEFAULT.lr)),
                               lambda: Diffusion2DTrainer(config, data, fresh=fresh),
                               speed=DEFAULT_SPEED, speeds=SPEEDS, interval_s=INTERVAL_S,
                               live=lambda tr: tr.set_lr(config.lr))  # no restart, Adam keeps its moments
    st.latex(t("diffusion_live.loss_equation"))
    st.html(f"<style>.st-key-{KEY}_samples, .st-key-{KEY}_curves "
            f"{{contain: strict; height: {plots.HEIGHT}px;}}</style>")
    live.run(KEY, draw_factory(data), message=stop_text(trainer), step_sizes=STEP_SIZES, files=FILE_KEYS)
    st.caption(t("diffusion_live.protocol", n=N_EVAL, every=trainer.config.eval_every))
    with live.locked(KEY):  # the film, the score field and the one-step view run the weights a tick trains
        film = film_for(trainer, diffusion_step2d.predictor(trainer))
        reverse_process(trainer, film)
        diffusion_step2d.section(trainer, film)
