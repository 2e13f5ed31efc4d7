"""Compare the families on one data set: a preset, a CSV, or points drawn on the page.

The data picker (preset / draw / CSV) sits at the top and reruns the page; the drawing is kept per
session in ``dashboard.shared.drawn`` (so the VAE, GAN and diffusion pages' data pickers offer it too) and goes
into the link while it is small. Below, ``engine.compare.Race`` trains the five families side by side
in one live panel (play / pause / step rounds / reset) and scores them by one protocol; the figure
shows each family's samples over the data and its own view of itself.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from dashboard.chapters.compare import plots
from dashboard.chapters.compare.canvas import canvas
from dashboard.shared import drawn, links, sampler_plots
from dashboard.shared import live_training as live
from dashboard.shared.charts import chart
from dashboard.shared.i18n import current_language, labeler, t
from dashboard.shared.links import LINK
from dashboard.shared.points_upload import csv_error
from dashboard.shared.sections import section
from engine.data.points import PointsError, parse_points_csv

KEY = "compare"
SOURCES = ("preset", "draw", "csv")
PRESETS = ("moons", "ring8", "grid25", "spiral")
N_TRAIN, N_HELDOUT = 4000, 1000
TRAIN_SIZES = (100, 300, 1000, 4000, 10_000)
K_CHOICES = (1, 2, 4, 8, 16, 25)  # the mixture's components
HELDOUT_SHARE = 0.25  # of a drawing or an upload, kept out of training for the scores
SPEEDS = {"slow": (0.15, 1), "normal": (0.25, 5), "fast": (0.4, 100_000)}  # rounds per tick
INTERVAL_S = 0.5


@st.cache_data(max_entries=16, show_spinner=False)
def preset(name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    from engine.gan.modes import sample_data

    return sample_data(name, n, 0), sample_data(name, N_HELDOUT, 100)


def split(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out points of a drawing or an upload (a fixed shuffle)."""
    order = np.random.default_rng(0).permutation(len(points))
    cut = int(round(len(points) * (1 - HELDOUT_SHARE)))
    return points[order[:cut]], points[order[cut:]]


def from_link() -> None:
    """A link's ``?drawn=``: put its points in the session once (a bad one is reported, not raised)."""
    text = st.query_params.get(drawn.LINK)
    if text and st.session_state.get("compare_link_drawn") != text:
        st.session_state["compare_link_drawn"] = text
        points = drawn.decode(text)
        if points is None:
            st.toast(t("compare.draw.bad_link"), icon=":material/link_off:")
        else:
            drawn.store(st.session_state, points)
            st.session_state["compare_canvas_version"] = st.session_state.get("compare_canvas_version", 0) + 1


def drawing_panel() -> tuple | None:
    """Brush, density and the canvas; (identity, points) once the drawing has enough points."""
    state = st.session_state
    drawing, settings = st.columns([3, 2])
    brush = settings.select_slider(t("compare.draw.brush"), (0.02, 0.05, 0.1, 0.2, 0.3), value=0.1, bind=LINK,
                                    key=f"{KEY}_brush", help=t("compare.draw.brush_help"))
    density = settings.select_slider(t("compare.draw.density"), (1, 2, 4, 8, 16), value=4, bind=LINK,
                                        key=f"{KEY}_density", help=t("compare.draw.density_help"))
    labels = {"undo": t("compare.draw.undo"), "clear": t("compare.draw.clear"), "hint": t("compare.draw.hint"),
              "count": t("compare.draw.count"), "full": t("compare.draw.full")}
    settings.caption(t("compare.draw.how"))
    with drawing:
        flat = canvas(key=f"{KEY}_canvas", points=drawn.get(state) if drawn.KEY in state else None,
                      version=state.get("compare_canvas_version", 0), brush=brush, density=density, labels=labels)
    if flat is not None:
        drawn.store(state, flat)
    points = drawn.get(state)
    if points is None:
        st.info(t("compare.draw.more", n=drawn.MIN_POINTS), icon=":material/draw:")
        return None
    text = drawn.encode(points)
    if text is None:
        st.caption(t("compare.draw.too_big_for_link", n=len(points), most=drawn.LINK_POINTS))
        st.query_params.pop(drawn.LINK, None)
    elif st.query_params.get(drawn.LINK) != text:
        st.query_params[drawn.LINK] = text
        state["compare_link_drawn"] = text
    return ("draw", hashlib.sha1(points.tobytes()).hexdigest()), points


def csv_panel() -> tuple | None:
    upload = st.file_uploader(t("points.csv.upload"), type=["csv", "txt"], key=f"{KEY}_csv",
                              help=t("points.csv.help"), max_upload_size=3)
    if upload is None:
        st.info(t("points.csv.prompt"), icon=":material/upload_file:")
        return None
    content = upload.getvalue()
    try:
        points = parse_points_csv(content)
    except PointsError as error:
        st.error(csv_error(error), icon=":material/error:")
        return None
    if len(points) < drawn.MIN_POINTS:
        st.error(t("compare.csv_too_few", n=len(points), least=drawn.MIN_POINTS), icon=":material/error:")
        return None
    drawn.store(st.session_state, points)  # the other pages' pickers offer it as "your points"
    return ("csv", hashlib.sha1(content).hexdigest()), points


def choose_data() -> tuple | None:
    """(identity, train, held-out, modes) of the chosen data, or None while it is not there yet."""
    source = st.segmented_control(t("compare.source"), SOURCES, default="preset", bind=LINK, key=f"{KEY}_source",
                                  format_func=labeler("compare.sources")) or "preset"
    if source == "preset":
        left, right = st.columns(2)
        name = left.selectbox(t("compare.preset"), PRESETS, format_func=labeler("compare.presets"), bind=LINK,
                              key=f"{KEY}_preset")
        n = right.select_slider(t("compare.points"), TRAIN_SIZES, value=N_TRAIN, bind=LINK, key=f"{KEY}_points",
                                help=t("compare.points_help"))
        from engine.gan.modes import MODE_STD, mode_centers

        train, heldout = preset(name, n)
        modes = (mode_centers(name), MODE_STD[name]) if name in MODE_STD else None
        return ("preset", name, n), train, heldout, modes
    chosen = drawing_panel() if source == "draw" else csv_panel()
    if chosen is None:
        return None
    identity, points = chosen
    train, heldout = split(points)
    return identity, train, heldout, None


def scoreboard(race) -> str:
    """The scoreboard as a markdown table, one row per family (the latest score of each)."""
    head = [t(f"compare.table.{c}") for c in ("family", "trained", "w2", "modes", "likelihood", "evaluations",
                                               "sampling", "reached")]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for family, score in race.scoreboard().items():
        lane = race.lanes[family]
        likelihood = ", ".join(t(f"compare.likelihood.{k}", value=v) for k, v in score.log_likelihood.items()) \
            or t(f"compare.likelihood.none_{family}")
        modes = "—" if score.modes_covered is None else f"{score.modes_covered}/{score.n_modes}"
        reached = t("compare.reached", seconds=lane.reached[2]) if 2 in lane.reached else t("compare.not_yet")
        ratio = "—" if not np.isfinite(score.ratio) else f"{score.ratio:.2f}×"
        stopped = f" ⚠ {t('compare.stopped')}" if lane.trainer.stopped is not None else ""
        trained = t("compare.cells.trained", seconds=score.train_seconds, steps=score.steps)
        sampling = t("compare.cells.sampling", ms=1000 * score.sample_seconds)
        cells = (f"{t(f'compare.names.{family}')}{stopped}", trained, ratio, modes, likelihood,
                 str(score.evaluations), sampling, reached)
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def verdict(race) -> str:
    """What the table says right now, in a sentence or three: who is closest to the data, who got within
    2x the floor first, and the cheapest sampler among those within 2x."""
    board = {f: s for f, s in race.scoreboard().items() if np.isfinite(s.ratio)}
    if not board:
        return ""
    name = {f: t(f"compare.names.{f}") for f in board}
    best = min(board, key=lambda f: board[f].ratio)
    parts = [t("compare.verdict.closest", name=name[best], ratio=board[best].ratio)]
    reached = {f: race.lanes[f].reached[2] for f in board if 2 in race.lanes[f].reached}
    if reached:
        first = min(reached, key=reached.get)
        parts.append(t("compare.verdict.first", name=name[first], seconds=reached[first]))
        near = [f for f in board if board[f].ratio <= 2]
        if near:
            cheap = min(near, key=lambda f: (board[f].evaluations, board[f].sample_seconds))
            parts.append(t("compare.verdict.cheapest", name=name[cheap], evaluations=board[cheap].evaluations))
    else:
        parts.append(t("compare.verdict.none_yet"))
    return " ".join(parts)


SAMPLER_STEPS = (1, 2, 5, 10, 20, 50, 100)


@section
def samplers_section() -> None:
    """DDPM, DDIM and flow matching from the same noise with the race's trained networks, steps a slider."""
    from engine.flow.samplers import trained_samplers

    links.header("compare.samplers")
    st.markdown(t("compare.samplers.intro"))
    left, right, again = st.columns([3, 1, 1], vertical_alignment="bottom")
    again.button(t("compare.samplers.again"), icon=":material/refresh:", key=f"{KEY}_resample",
                 help=t("compare.samplers.again_help"))  # a rerun of this section: the networks as they are now
    steps = left.select_slider(t("diffusion_samplers.steps"), SAMPLER_STEPS, value=20, bind=LINK,
                               key=f"{KEY}_sampler_steps", help=t("compare.samplers.steps_help"))
    flow_sampler = right.radio(t("diffusion_samplers.flow_sampler"), ("euler", "heun"), horizontal=True, bind=LINK,
                               format_func=labeler("diffusion_samplers.samplers"), key=f"{KEY}_flow_sampler")
    with live.locked(KEY) as race:  # the networks a tick trains: read them between ticks
        lanes = race.lanes
        result = trained_samplers(lanes["ddpm"].trainer, lanes["flow"].trainer, 1000, steps, seed=3,
                                  flow_sampler=flow_sampler)
        ratios = {kind: race.sliced_w2_of(result.samples(kind)) / race.floor for kind in result.paths}
        rounds = race.step_count
    titles = {kind: t(f"diffusion_samplers.titles.{kind}", n=result.evaluations[kind]) for kind in result.paths}
    labels = {name: t(f"diffusion_samplers.series.{name}") for name in ("data", "paths", "noise", "samples")}
    st.caption(t("compare.samplers.at", rounds=rounds))
    chart(sampler_plots.samplers_figure(race.train, result.paths, 40, titles=titles, labels=labels),
          key=f"{KEY}_samplers_figure")
    for column, kind in zip(st.columns(3), result.paths):
        column.metric(t("compare.samplers.metric", name=t(f"diffusion_samplers.names.{kind}")),
                      f"{ratios[kind]:.2f}×" if np.isfinite(ratios[kind]) else "—",
                      help=t("compare.samplers.metric_help"))
        column.caption(t("compare.samplers.cost", evaluations=result.evaluations[kind]))


def panel_draw(race) -> None:
    from engine.compare import bounds_of, draw, view

    lang = current_language()

    def build():
        bounds = bounds_of(race.train)
        samples = {f: draw(f, lane.trainer, 600, seed=0) for f, lane in race.lanes.items()}
        views = {f: view(f, lane.trainer, bounds) for f, lane in race.lanes.items()}
        titles = {f: t(f"compare.names.{f}") for f in race.lanes}
        labels = {k: t(f"compare.series.{k}") for k in ("data", "samples", "density", "verdict", "latent_grid",
                                                         "paths")}
        return plots.race_figure(race.train, samples, views, bounds, titles=titles, labels=labels)

    figure = live.held(KEY, "figure", (race, race.step_count, lang), build, hold_s=1.0)
    chart(figure, key=f"{KEY}_figure")
    st.caption(t("compare.views"))
    st.markdown(scoreboard(race))
    st.markdown(verdict(race))
    st.caption(t("compare.protocol", floor=race.floor))


# The scoreboard's eight columns scroll inside their box on a narrow window, never the page.
TABLE_CSS = """<style>
[data-testid='stMain'] [data-testid='stMarkdownContainer'] table {display: block; overflow-x: auto; max-width: 100%;}
[data-testid='stMain'] [data-testid='stMarkdownContainer'] :is(td, th) {min-width: 5.5rem; word-break: keep-all;}
[data-testid='stMain'] [data-testid='stMarkdownContainer'] td:first-child {white-space: nowrap;}
</style>"""
st.html(TABLE_CSS)
st.title(t("compare.title"), anchor=False)
st.markdown(t("compare.intro"))
st.latex(t("compare.thread"))
from_link()
links.header("compare.data")
chosen = choose_data()
links.header("compare.race")
if chosen is None:
    st.info(t("compare.waiting"), icon=":material/hourglass_empty:")
else:
    identity, train, heldout, modes = chosen
    from engine.compare import FAMILIES, Race

    pick, components = st.columns([3, 1])
    picked = pick.multiselect(t("compare.families"), FAMILIES, default=list(FAMILIES), bind=LINK, key=f"{KEY}_families",
                              format_func=labeler("compare.names"), help=t("compare.families_help"))
    k = components.select_slider(t("compare.k"), K_CHOICES, value=8, bind=LINK, key=f"{KEY}_k",
                                 help=t("compare.k_help"))
    families = tuple(f for f in FAMILIES if f in picked)  # the page's order, whatever the clicking order
    if not families:
        st.info(t("compare.no_family"), icon=":material/info:")
    else:
        with st.spinner(t("compare.building")):
            live.trainer_for(KEY, (identity, families, k),
                             lambda: Race(train, heldout, modes=modes, families=families, k=k),
                             speed="normal", speeds=SPEEDS, interval_s=INTERVAL_S)
        live.run(KEY, panel_draw, step_sizes=(1, 10))
        st.markdown(t("compare.reading"))
        if {"ddpm", "flow"} <= set(families):
            samplers_section()
