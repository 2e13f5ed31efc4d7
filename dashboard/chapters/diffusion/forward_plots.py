"""Figures for the Diffusion page's forward-process section. Inputs are arrays from
``engine.diffusion`` (schedules, closed-form samples of q(x_t | x_0), KL curves) and labels already
translated by the section; nothing here computes a schedule or a divergence.

Each figure is built in one constructor call (``plotting.base_figure``); the section caches them.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.shared.plotting import COLORS, base_figure, finite_or_none, rgba, subplot_grid, vertical_line

VIEW = 4.0  # half width of the 2D view: N(0, I)'s 3-sigma circle and every toy set fit inside
SIGMAS = (1.0, 2.0, 3.0)  # radii of the N(0, I) contours drawn behind the cloud
SCHEDULE_COLORS = {"linear": COLORS["p"], "cosine": COLORS["q"]}
KL_STYLES = {  # curve key -> (colour, dash)
    "upper_2d": (COLORS["p"], "solid"),
    "lower_2d": (COLORS["p"], "dot"),
    "upper_mnist": (COLORS["accent"], "dash"),  # dashed: with E[x0^2] near 1 it nearly covers the 2D bound
}


def circles(radii=SIGMAS, points: int = 121) -> tuple[np.ndarray, np.ndarray]:
    """x, y of circles of the given radii around 0 as one polyline, separated by NaN (plotly's gap)."""
    angle = np.linspace(0.0, 2.0 * np.pi, points)
    xs, ys = [], []
    for r in radii:
        xs += [r * np.cos(angle), [np.nan]]
        ys += [r * np.sin(angle), [np.nan]]
    return np.concatenate(xs), np.concatenate(ys)


def cloud_figure(x0: np.ndarray, xt: np.ndarray, *, labels: dict, height: int = 400) -> go.Figure:
    """x_0 (faint blue) and x_t (N, 2, orange) on a square [-VIEW, VIEW]^2 view with N(0, I)'s 1, 2, 3 sigma circles."""
    cx, cy = circles()
    axis = dict(range=[-VIEW, VIEW], zeroline=False, constrain="domain")
    fig = base_figure(height, x_title="x₁", y_title="x₂", hovermode=False, xaxis=axis,
                      yaxis=dict(axis, scaleanchor="x", scaleratio=1))
    fig.add_traces([
        dict(type="scatter", x=cx, y=cy, mode="lines", name=labels["prior"], hoverinfo="skip",
             line=dict(color=COLORS["muted"], width=1.2, dash="dash")),
        dict(type="scatter", x=x0[:, 0], y=x0[:, 1], mode="markers", name=labels["x0"], hoverinfo="skip",
             marker=dict(color=rgba(COLORS["p"], 0.3), size=3)),
        dict(type="scatter", x=xt[:, 0], y=xt[:, 1], mode="markers", name=labels["xt"], hoverinfo="skip",
             marker=dict(color=rgba(COLORS["q"], 0.6), size=4)),
    ])
    return fig


def kl_figure(steps: np.ndarray, curves: dict[str, np.ndarray], chosen: int, *, labels: dict,
              height: int = 340) -> go.Figure:
    """Per-dimension KL curves against t on a log axis, with the chosen t marked on each.

    ``curves`` maps a key of ``KL_STYLES`` to values (T + 1,) indexed by t; infinite values (the
    upper bound at t = 0) are left as gaps.
    """
    fig = base_figure(height, x_title=labels["t"], y_title=labels["kl_axis"], hovermode="x unified",
                      yaxis=dict(type="log", exponentformat="power", dtick=1),  # decades only
                      shapes=[vertical_line(chosen, color=COLORS["bad"], dash="dot")])
    traces = []
    for key, y in curves.items():
        color, dash = KL_STYLES[key]
        traces.append(dict(type="scatter", x=steps, y=finite_or_none(y), mode="lines", name=labels[key],
                           line=dict(color=color, dash=dash, width=2.5), hovertemplate="%{y:.3g}"))
        value = float(y[chosen])
        if np.isfinite(value) and value > 0:
            traces.append(dict(type="scatter", x=[chosen], y=[value], mode="markers", showlegend=False,
                               name=labels[key], hoverinfo="skip",
                               marker=dict(color=color, size=10, line=dict(color="white", width=1.5))))
    fig.add_traces(traces)
    return fig


def schedule_figure(schedules: dict, chosen_kind: str, chosen_u: float, *, labels: dict,
                    height: int = 330) -> go.Figure:
    """alpha_bar_t (left) and log SNR(t) (right) against u = t / T, one curve per schedule kind.

    ``schedules`` maps kind -> (u (T + 1,), alpha_bar (T + 1,), log_snr (T + 1,)); log SNR is drawn
    for t >= 1 only (it is +inf at t = 0). The chosen kind is drawn thick, the others thin.
    """
    layout = subplot_grid(1, 2, titles=(labels["alpha_bar"], labels["log_snr"]), x_title=labels["u"], gap=0.08)
    fig = base_figure(height, shapes=[vertical_line(chosen_u, axis, color=COLORS["bad"], dash="dot")
                                      for axis in ("", "2")],
                      hovermode="x", margin=dict(t=60), legend=dict(y=1.1, x=0.5, xanchor="center"), **layout)
    traces = []
    for kind, (u, alpha_bar, log_snr) in schedules.items():
        chosen = kind == chosen_kind
        line = dict(color=SCHEDULE_COLORS[kind], width=3.5 if chosen else 1.5, dash="solid" if chosen else "dash")
        name = labels[kind] + (labels["chosen_suffix"] if chosen else "")
        traces += [
            dict(type="scatter", x=u, y=alpha_bar, mode="lines", name=name, legendgroup=kind, line=line,
                 hovertemplate="%{y:.4g}"),
            dict(type="scatter", x=u[1:], y=log_snr[1:], mode="lines", name=name, legendgroup=kind, line=line,
                 showlegend=False, xaxis="x2", yaxis="y2", hovertemplate="%{y:.3g}"),
        ]
    fig.add_traces(traces)
    return fig
