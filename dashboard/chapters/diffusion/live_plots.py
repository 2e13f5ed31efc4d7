"""Figures of the live 2D DDPM: samples against data, training curves, the reverse film (a client-side
animation), the learned score field at one step, and one reverse step with every term as arrows.

Inputs are plain arrays and already-translated labels. As in ``gan_live_plots`` traces are plain dicts
of float32 arrays (sent base64-encoded), polylines are single NaN-separated traces, and the margins are
fixed (no automargin), because the live figures are redrawn a few times a second.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from dashboard.shared.plotting import (
    COLORS,
    INSIDE_LEGEND,
    TOP_LEGEND,
    arrows,
    base_figure,
    bucket_means,
    log_ticks,
    polylines,
    rgba,
    thin,
)

HEIGHT = 420  # the live figures (px); the page reserves this space (CSS containment)
VIEW = 4.0  # every point plot shows [-4, 4]^2: x_T ~ N(0, I) and the (scaled) data both fit
MAX_POINTS = 500  # markers per cloud in the live and animated figures (each is an SVG element per frame)
ARROW_FRACTION = 0.07  # the longest score arrow spans this share of the view
GUIDES = (1.0, 2.0, 3.0)  # the floor and the 2x / 3x targets, as dashed lines on the W2 panel
TRAJECTORY_COLORS = ("#7c3aed", "#db2777", "#0891b2", "#65a30d", "#b45309")
MARGIN = dict(l=50, r=20, t=10, b=45)
CURVES_MARGIN = dict(l=60, r=20, t=40, b=45)  # the top margin holds the legend
ANIMATION_MARGIN = dict(l=50, r=20, t=10, b=110)  # the bottom holds the play button and the slider
STEP_HEIGHT = 500  # the one-step figure: a square plot of about 360 px above its legend
ZOOM_MARGIN = 0.25  # its zoomed view: the terms' square widened by a quarter of its side on each side ...
ZOOM_MIN_SIDE = 0.2  # ... and at least this wide (near t = 1 a step moves a particle by hundredths)
STEP_MARGINS = dict(l=50, r=20, t=10, b=45)
STEP_LEGEND = dict(orientation="h", x=0.0, xanchor="left", y=-0.14, yanchor="top", font=dict(size=12),
                   itemwidth=30)  # under the x-axis title; plotly grows the bottom margin to fit it


def _f32(values) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float32)


def _square(height: int, view: float = VIEW, *, ranges: tuple | None = None, **layout) -> go.Figure:
    """A figure on the fixed [-view, view]^2 square (or the given x and y ``ranges``), equal scales,
    legend inside unless ``legend`` says otherwise."""
    x_range, y_range = ranges or ([-view, view], [-view, view])
    axis = dict(showgrid=False, automargin=False)
    return base_figure(height, x_title="x₁", y_title="x₂", hovermode="closest",
                       legend=layout.pop("legend", INSIDE_LEGEND), margin=layout.pop("margin", MARGIN),
                       xaxis=dict(axis, range=x_range, constrain="domain"),
                       yaxis=dict(axis, range=y_range, scaleanchor="x", scaleratio=1), **layout)


def _cloud(points, name: str, color: str, size: float = 4, opacity: float = 0.6, **extra) -> dict:
    points = np.asarray(points)
    return dict(type="scatter", x=_f32(points[:, 0]), y=_f32(points[:, 1]), mode="markers", name=name,
                hoverinfo="skip", marker=dict(color=color, size=size, opacity=opacity, line=dict(width=0)), **extra)


def samples_figure(data: np.ndarray, samples: np.ndarray, *, labels: dict, height: int = HEIGHT) -> go.Figure:
    """Data (P's colour) and the latest evaluation's model samples (Q's colour), thinned to MAX_POINTS."""
    fig = _square(height, uirevision="diffusion_live_samples")
    traces = [_cloud(thin(data, MAX_POINTS), labels["data"], COLORS["p"], opacity=0.45)]
    if len(samples):
        traces.append(_cloud(thin(samples, MAX_POINTS), labels["samples"], COLORS["q"], size=5, opacity=0.8))
    fig.add_traces(traces)
    return fig


def curves_figure(losses: np.ndarray, evaluations: list[dict], floor: float, loss_by_t: tuple, *, labels: dict,
                  height: int = HEIGHT) -> go.Figure:
    """Left: the loss (bucket means) over steps above sliced W2 with dashed floor / 2x / 3x lines (log y);
    right: the mean loss per bin of t so far (which noise levels are hard)."""
    steps = _f32([e["step"] for e in evaluations])
    w2 = _f32([e["sliced_w2"] for e in evaluations])
    x, y = bucket_means(losses)
    traces = [dict(type="scatter", x=x, y=y, mode="lines", name=labels["loss"], line=dict(color=COLORS["q"])),
              dict(type="scatter", x=steps, y=w2, mode="lines+markers", name=labels["sliced_w2"], xaxis="x2",
                   yaxis="y2", marker=dict(size=4), line=dict(color=COLORS["accent"]))]
    end = float(max(steps.max() if len(steps) else 0.0, len(losses), 1.0))
    if math.isfinite(floor) and floor > 0:
        for k in GUIDES:
            traces.append(dict(type="scatter", x=_f32([0.0, end]), y=_f32([k * floor, k * floor]), mode="lines",
                               name=labels["floor"] if k == 1 else labels["times_floor"].format(k=k), xaxis="x2",
                               yaxis="y2", hoverinfo="skip",
                               line=dict(color=COLORS["muted"], dash="dot" if k == 1 else "dash", width=1)))
    centres, means = loss_by_t
    traces.append(dict(type="bar", x=_f32(centres), y=_f32(means), name=labels["loss_by_t"], xaxis="x3", yaxis="y3",
                       marker=dict(color=rgba(COLORS["q"], 0.6)), hovertemplate="t≈%{x:.0f}: %{y:.3f}<extra></extra>"))
    left, right = [0.0, 0.6], [0.72, 1.0]
    layout = dict(
        xaxis=dict(domain=left, anchor="y", showticklabels=False, automargin=False),
        yaxis=dict(domain=[0.56, 1.0], type="log", title=dict(text=labels["loss_axis"]), automargin=False,
                   **log_ticks(y)),
        xaxis2=dict(domain=left, anchor="y2", matches="x", title=dict(text=labels["step"]), automargin=False,
                    zeroline=False),
        yaxis2=dict(domain=[0.0, 0.44], type="log", title=dict(text=labels["w2_axis"]), automargin=False,
                    zeroline=False, **log_ticks(w2, [floor * k for k in GUIDES] if math.isfinite(floor) else [])),
        xaxis3=dict(domain=right, anchor="y3", title=dict(text=labels["t_axis"]), automargin=False, zeroline=False),
        yaxis3=dict(domain=[0.0, 1.0], anchor="x3", title=dict(text=labels["loss_by_t_axis"]), automargin=False,
                    rangemode="tozero", zeroline=False),
    )
    fig = base_figure(height, hovermode="x unified", uirevision="diffusion_live_curves", margin=CURVES_MARGIN,
                      legend=dict(TOP_LEGEND, bgcolor="rgba(0,0,0,0)"),  # see-through: the top tick of the
                      **layout)                                            # right panel sits under its 2nd row
    fig.add_traces(traces)
    return fig


def _trajectory_traces(paths: np.ndarray, labels: dict, **axes) -> list[dict]:
    """One faint line per highlighted particle (P, K, 2), coloured as its marker."""
    return [dict(type="scatter", x=_f32(p[:, 0]), y=_f32(p[:, 1]), mode="lines", hoverinfo="skip",
                 name=labels["trajectories"], legendgroup="paths", showlegend=i == 0,
                 line=dict(color=rgba(TRAJECTORY_COLORS[i % len(TRAJECTORY_COLORS)], 0.55), width=1.5), **axes)
            for i, p in enumerate(paths)]


def _heads(points: np.ndarray, name: str, **extra) -> dict:
    colors = [TRAJECTORY_COLORS[i % len(TRAJECTORY_COLORS)] for i in range(len(points))]
    return dict(type="scatter", x=_f32(points[:, 0]), y=_f32(points[:, 1]), mode="markers", name=name,
                hoverinfo="skip", showlegend=False,
                marker=dict(color=colors, size=10, line=dict(color="white", width=1.5)), **extra)


def film_figure(steps: np.ndarray, frames: np.ndarray, paths: np.ndarray, *, labels: dict,
                height: int = HEIGHT + 90) -> go.Figure:
    """The reverse chain as a plotly animation: ``frames`` (K, n, 2) at ``steps`` (K,) from T to 0, with
    the highlighted particles' full ``paths`` (P, K, 2) drawn once and their current position per frame.

    Every frame is in the figure (play button and slider run in the browser, no server round trip);
    only the cloud (trace 0) and the heads (last trace) change from frame to frame.
    """
    frames = np.asarray(frames)
    heads = len(paths) + 1  # trace index of the moving heads
    traces = [_cloud(frames[0], labels["particles"], COLORS["q"], opacity=0.7), *_trajectory_traces(paths, labels),
              _heads(paths[:, 0], labels["trajectories"])]
    animation = [dict(name=str(int(t)), traces=[0, heads],
                      data=[dict(x=_f32(frames[k, :, 0]), y=_f32(frames[k, :, 1])),
                            dict(x=_f32(paths[:, k, 0]), y=_f32(paths[:, k, 1]))])
                 for k, t in enumerate(steps)]

    def go_to(name, duration: int) -> dict:
        return dict(mode="immediate", fromcurrent=True, frame=dict(duration=duration, redraw=False),
                    transition=dict(duration=0))

    slider = dict(active=0, x=0.1, len=0.9, y=0, yanchor="top", pad=dict(t=45), font=dict(size=9), ticklen=3,
                  currentvalue=dict(prefix=labels["step_prefix"], font=dict(size=12)),
                  steps=[dict(method="animate", label=str(int(t)), args=[[str(int(t))], go_to(str(int(t)), 0)])
                         for t in steps])
    buttons = dict(type="buttons", direction="left", x=0.0, y=0, xanchor="left", yanchor="top", pad=dict(t=45),
                   showactive=False,
                   buttons=[dict(label=labels["play"], method="animate", args=[None, go_to(None, 90)]),
                            dict(label=labels["pause"], method="animate", args=[[None], go_to(None, 0)])])
    fig = _square(height, uirevision="diffusion_live_film", margin=ANIMATION_MARGIN, sliders=[slider],
                  updatemenus=[buttons])
    fig.add_traces(traces)
    fig.frames = [go.Frame(**f) for f in animation]
    return fig


def field_figure(cloud: np.ndarray, paths: np.ndarray, k: int, grid: np.ndarray | None, score: np.ndarray | None,
                 *, labels: dict, height: int = HEIGHT) -> go.Figure:
    """The cloud x_t, the highlighted paths with their position at frame ``k``, and the learned score
    s_θ(x, t) on ``grid`` (m, 2) as arrows (lengths scaled so the longest spans ARROW_FRACTION of the view)."""
    traces = [_cloud(cloud, labels["particles"], COLORS["q"], opacity=0.5)]
    if grid is not None and score is not None:
        ax, ay, tips, angles = arrows(grid, score, ARROW_FRACTION * 2 * VIEW)
        traces += [dict(type="scatter", x=ax, y=ay, mode="lines", name=labels["score"], legendgroup="score",
                        hoverinfo="skip", line=dict(color=COLORS["p"], width=1)),
                   dict(type="scatter", x=tips[:, 0], y=tips[:, 1], mode="markers", legendgroup="score",
                        showlegend=False, hoverinfo="skip",
                        marker=dict(symbol="triangle-up", size=5, angle=angles, color=COLORS["p"]))]
    traces += [*_trajectory_traces(paths, labels), _heads(paths[:, k], labels["trajectories"])]
    fig = _square(height, uirevision="diffusion_live_field")
    fig.add_traces(traces)
    return fig


def step_view(terms: np.ndarray, whole: bool = False) -> tuple[list[float], list[float]]:
    """The x and y ranges of the one-step figure: a square around the finite ``terms`` (m, 2), widened by
    ZOOM_MARGIN of its side on each side and at least ZOOM_MIN_SIDE wide; ``whole``: the cloud's
    [-4, 4]^2 view, widened to take in that square (x̂_0 can land far out at large t)."""
    terms = np.asarray(terms, dtype=np.float64)
    finite = terms[np.all(np.isfinite(terms), axis=1)]
    if not len(finite):
        return [-VIEW, VIEW], [-VIEW, VIEW]
    low, high = finite.min(axis=0), finite.max(axis=0)
    centre = (low + high) / 2
    half = max(float((high - low).max()) * (0.5 + ZOOM_MARGIN), ZOOM_MIN_SIDE / 2)
    x_range = [float(centre[0] - half), float(centre[0] + half)]
    y_range = [float(centre[1] - half), float(centre[1] + half)]
    if whole:
        reach = max(VIEW, float(np.abs([x_range, y_range]).max()))
        return [-reach, reach], [-reach, reach]
    return x_range, y_range


def step_figure(cloud: np.ndarray, x_t, eps, x0_hat, mean, sigma_z, x_prev, *, labels: dict, whole: bool = False,
                height: int = STEP_HEIGHT) -> go.Figure:
    """One reverse step of one particle: the cloud at t (trace 0, clickable: its point index is the
    particle), x_t with its predicted noise ε_θ as an arrow, the jump to x̂_0, the posterior mean μ̃ on
    the way, the injected σ_t z from μ̃, and x_{t-1}. Every term is a 2-vector (2,).

    The terms of one step often lie within a few tenths of each other, so by default the view is the
    square around them (``step_view``), the cloud drawn behind; ``whole`` shows the whole cloud with
    that square outlined. The legend sits under the plot, where it covers nothing."""
    x_t, eps, x0_hat, mean, sigma_z, x_prev = (np.asarray(v, dtype=np.float64) for v in
                                                (x_t, eps, x0_hat, mean, sigma_z, x_prev))
    heads = []  # arrowheads as annotations: drawn at the tip, held off the marker there (standoff, px)

    def segment(a, b, name, color, standoff: float = 0.0) -> dict:
        if np.all(np.isfinite([a, b])) and np.linalg.norm(b - a) > 0:
            heads.append(dict(x=float(b[0]), y=float(b[1]), ax=float(a[0]), ay=float(a[1]), xref="x", yref="y",
                              axref="x", ayref="y", text="", showarrow=True, arrowhead=2, arrowsize=1.1,
                              arrowwidth=3, arrowcolor=color, standoff=standoff))
        return dict(type="scatter", x=_f32([a[0], b[0]]), y=_f32([a[1], b[1]]), mode="lines", name=name,
                    hoverinfo="skip", line=dict(color=color, width=3))

    def point(p, name, color, symbol, size=16, width=1.5, line="white") -> dict:
        return dict(type="scatter", x=_f32([p[0]]), y=_f32([p[1]]), mode="markers", name=name,
                    hovertemplate=f"{name}: (%{{x:.4f}}, %{{y:.4f}})<extra></extra>",
                    marker=dict(color=color, size=size, symbol=symbol, line=dict(color=line, width=width)))

    traces = [_cloud(cloud, labels["particles"], COLORS["muted"], size=6, opacity=0.45,
                     hovertemplate="#%{pointNumber}<extra></extra>")]
    traces[0].pop("hoverinfo")
    traces.append(segment(x_t, x_t + eps, labels["eps"], COLORS["bad"]))
    xs, ys = polylines(np.stack([x_t, x0_hat])[None])
    traces.append(dict(type="scatter", x=xs, y=ys, mode="lines", name=labels["to_x0"], hoverinfo="skip",
                       line=dict(color=COLORS["p"], width=2, dash="dot")))
    traces.append(segment(mean, x_prev, labels["sigma_z"], COLORS["accent"], standoff=8))
    # x_t is a ring, so that μ̃_t (often within a pixel or two of it) shows inside it
    traces += [point(x_t, labels["x_t"], COLORS["q"], "circle-open", size=22, width=3, line=COLORS["q"]),
               point(x0_hat, labels["x0_hat"], COLORS["p"], "star", size=20),
               point(mean, labels["mean"], "#7c3aed", "diamond", size=13),
               point(x_prev, labels["x_prev"], COLORS["accent"], "circle")]
    terms = np.stack([x_t, x_t + eps, x0_hat, mean, x_prev])
    x_range, y_range = step_view(terms, whole)
    shapes = []
    if whole:  # where the zoomed view is
        (x0, x1), (y0, y1) = step_view(terms)
        shapes.append(dict(type="rect", x0=x0, x1=x1, y0=y0, y1=y1, xref="x", yref="y", layer="above",
                           line=dict(color=COLORS["m"], width=1.5, dash="dash")))
    view = "whole" if whole else ",".join(f"{v:.6g}" for v in (*x_range, *y_range))
    fig = _square(height, ranges=(x_range, y_range), uirevision=f"diffusion_live_step:{view}",
                  clickmode="event+select", dragmode="pan", margin=STEP_MARGINS, legend=STEP_LEGEND,
                  annotations=heads, shapes=shapes)
    fig.add_traces(traces)
    return fig
