"""The compare page's figure: one panel per family, its samples over the data and its own view of itself.

Views: the mixture's density (contours), the VAE's decoder over a grid of latent codes (the image of
grid lines), the GAN discriminator's verdict (a heatmap behind the points), the DDPM's and the flow's
paths from noise to samples. Traces are plain dicts of float32 arrays (sent base64-encoded); the figure
is rebuilt at most once a second while training plays (``live_training.held``).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.shared.plotting import COLORS, base_figure, polylines, rgba, subplot_grid, thin

HEIGHT = 360
PATHS = "#7c3aed"


def _f32(values) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float32)


def _points(points, name: str, color: str, size: float, legend: bool, group: str, **axes) -> dict:
    points = np.asarray(points)
    return dict(type="scatter", x=_f32(points[:, 0]), y=_f32(points[:, 1]), mode="markers", name=name,
                legendgroup=group, showlegend=legend, hoverinfo="skip",
                marker=dict(color=color, size=size, line=dict(width=0)), **axes)


def view_traces(family: str, view: dict, labels: dict, legend: bool, **axes) -> list[dict]:
    """The family's own picture (under its samples)."""
    if family == "mixture":
        return [dict(type="contour", x=_f32(view["xs"]), y=_f32(view["ys"]), z=_f32(view["density"]),
                     contours=dict(coloring="lines"), ncontours=8, showscale=False, hoverinfo="skip",
                     colorscale=[[0, rgba(COLORS["q"], 0.25)], [1, COLORS["q"]]], line=dict(width=1),
                     name=labels["density"], showlegend=False, **axes)]
    if family == "gan":
        return [dict(type="heatmap", x=_f32(view["xs"]), y=_f32(view["ys"]), z=_f32(view["d"]), showscale=False,
                     colorscale=[[0, "#fff7ed"], [1, "#dbeafe"]], hoverinfo="skip", name=labels["verdict"],
                     showlegend=False, **axes)]
    if family == "vae":
        xs, ys = polylines(view["grid"])
    else:  # ddpm, flow: paths from noise (first point) to samples (last)
        xs, ys = polylines(view["paths"])
    name = labels["latent_grid"] if family == "vae" else labels["paths"]
    return [dict(type="scatter", x=xs, y=ys, mode="lines", name=name, legendgroup=f"view-{family}",
                 showlegend=False, hoverinfo="skip", line=dict(color=rgba(PATHS, 0.45), width=1), **axes)]


def race_figure(data: np.ndarray, samples: dict[str, np.ndarray], views: dict[str, dict], bounds: tuple, *,
                titles: dict, labels: dict) -> go.Figure:
    families = list(samples)
    layout = subplot_grid(1, len(families), titles=[titles[f] for f in families], gap=0.025)
    for k in range(1, len(families) + 1):
        suffix = "" if k == 1 else str(k)
        layout[f"xaxis{suffix}"].update(range=list(bounds[:2]), showgrid=False, showticklabels=False)
        layout[f"yaxis{suffix}"].update(range=list(bounds[2:]), showgrid=False, showticklabels=False)
    fig = base_figure(HEIGHT, hovermode=False, margin=dict(l=10, r=10, t=30, b=40), uirevision="compare",
                      legend=dict(orientation="h", x=0.0, xanchor="left", y=-0.04, yanchor="top"), **layout)
    cloud = thin(data, 400)
    traces = []
    for k, family in enumerate(families, start=1):
        axes = dict(xaxis="x" if k == 1 else f"x{k}", yaxis="y" if k == 1 else f"y{k}")
        traces += view_traces(family, views[family], labels, k == 1, **axes)
        traces.append(_points(cloud, labels["data"], rgba(COLORS["p"], 0.45), 3, k == 1, "data", **axes))
        traces.append(_points(thin(samples[family], 400), labels["samples"], rgba(COLORS["q"], 0.8), 3, k == 1,
                              "samples", **axes))
    fig.add_traces(traces)
    return fig
