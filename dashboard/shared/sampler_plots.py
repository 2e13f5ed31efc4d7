"""DDPM, DDIM and flow matching side by side: one panel each, their paths from the same noise (the diffusion
page's exact-field samplers and the compare page's trained ones)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.shared.plotting import COLORS, base_figure, polylines, rgba, subplot_grid, thin

HEIGHT = 400  # three panels side by side in the page's width: about square without a scale anchor
VIEW = 3.5  # the noise (|x| < 3.5 but for one point in ~2,000) and every toy set fit in [-3.5, 3.5]^2
PATHS_COLOR = "#7c3aed"


def samplers_figure(data: np.ndarray, paths: dict[str, np.ndarray], shown: int, *, titles: dict,
                    labels: dict) -> go.Figure:
    """Per sampler (``paths[kind]`` (K, n, 2), noise first): the data, the paths of the first ``shown``
    particles, where they started and the samples they ended as."""
    kinds = list(paths)
    layout = subplot_grid(1, len(kinds), titles=[titles[k] for k in kinds], x_title="x₁", y_titles=["x₂"],
                          gap=0.04)
    for k in range(1, len(kinds) + 1):
        suffix = "" if k == 1 else str(k)
        layout[f"xaxis{suffix}"].update(range=[-VIEW, VIEW], showgrid=False)
        layout[f"yaxis{suffix}"].update(range=[-VIEW, VIEW], showgrid=False, showticklabels=k == 1)
    fig = base_figure(HEIGHT, hovermode=False, margin=dict(l=45, r=10, t=30, b=70),
                      legend=dict(orientation="h", x=0.0, xanchor="left", y=-0.16, yanchor="top"), **layout)
    cloud = thin(data, 400)
    for k, kind in enumerate(kinds, start=1):
        axes = dict(xaxis="x" if k == 1 else f"x{k}", yaxis="y" if k == 1 else f"y{k}")
        path = paths[kind]
        first = k == 1
        xs, ys = polylines(np.transpose(path[:, :shown], (1, 0, 2)))
        fig.add_traces([
            dict(type="scatter", x=cloud[:, 0], y=cloud[:, 1], mode="markers", name=labels["data"],
                 legendgroup="data", showlegend=first, marker=dict(color=rgba(COLORS["p"], 0.35), size=4), **axes),
            dict(type="scatter", x=xs, y=ys, mode="lines", name=labels["paths"], legendgroup="paths",
                 showlegend=first, line=dict(color=rgba(PATHS_COLOR, 0.5), width=1.2), **axes),
            dict(type="scatter", x=path[0, :shown, 0], y=path[0, :shown, 1], mode="markers", name=labels["noise"],
                 legendgroup="noise", showlegend=first,
                 marker=dict(color=COLORS["muted"], size=5, symbol="circle-open"), **axes),
            dict(type="scatter", x=path[-1, :, 0], y=path[-1, :, 1], mode="markers", name=labels["samples"],
                 legendgroup="samples", showlegend=first, marker=dict(color=rgba(COLORS["q"], 0.75), size=4),
                 **axes),
        ])
    return fig
