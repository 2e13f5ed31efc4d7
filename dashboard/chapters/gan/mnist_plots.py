"""Figures for the DCGAN section: D(x) histograms, the class histogram, the training losses.

Inputs are arrays from the training film (``engine.gan.mnist.load_film``) and labels already
translated by the section; nothing here trains or evaluates a model.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.shared.plotting import COLORS, base_figure, rgba, vertical_line

D_EDGES = np.linspace(0.0, 1.0, 26)  # shared bins of width 0.04 for real and generated D(x)


def d_histogram_figure(d_real, d_fake, *, labels: dict, height: int = 300) -> go.Figure:
    """D(x) of held-out real digits against generated ones, the same bins, as % of each set.

    P (real data) is blue and Q (the model) orange, as on every page. At the game's equilibrium
    both pile up at 1/2; a winning D pushes real towards 1 and generated towards 0.
    """
    centres, width = (D_EDGES[:-1] + D_EDGES[1:]) / 2, np.diff(D_EDGES)
    fig = base_figure(height, x_title=labels["d_value"], y_title=labels["percent"], barmode="overlay",
                      hovermode="closest", bargap=0.0, xaxis=dict(range=[0, 1]),
                      shapes=[vertical_line(0.5, dash="dot")])
    for values, name, color in ((d_real, labels["real"], COLORS["p"]), (d_fake, labels["generated"], COLORS["q"])):
        counts, _ = np.histogram(np.clip(values, 0.0, 1.0), bins=D_EDGES)
        fig.add_trace(go.Bar(x=centres, y=100.0 * counts / max(len(values), 1), width=width, name=name,
                             marker=dict(color=rgba(color, 0.55), line=dict(color=color, width=1))))
    return fig


def smooth(values, window: int) -> np.ndarray:
    """Trailing moving average (the first points average what exists so far)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0 or window <= 1:
        return values
    sums = np.cumsum(np.insert(values, 0, 0.0))
    starts = np.maximum(np.arange(1, len(values) + 1) - window, 0)
    return (sums[1:] - sums[starts]) / (np.arange(1, len(values) + 1) - starts)


def loss_figure(loss_d, loss_g, step: int, *, labels: dict, window: int = 50, height: int = 260) -> go.Figure:
    """Per-step D and G losses (moving averages over ``window`` steps) with the current frame marked."""
    steps = np.arange(1, len(loss_d) + 1)
    fig = base_figure(height, x_title=labels["step"], y_title=labels["loss"],
                      shapes=[vertical_line(step, dash="dot")])
    fig.add_traces([
        go.Scatter(x=steps, y=smooth(loss_d, window), mode="lines", name=labels["loss_d"],
                   line=dict(color=COLORS["accent"], width=2)),
        go.Scatter(x=steps, y=smooth(loss_g, window), mode="lines", name=labels["loss_g"],
                   line=dict(color=COLORS["q"], width=2)),
        go.Scatter(x=[steps[0], steps[-1]] if len(steps) else [], y=[2 * np.log(2)] * 2, mode="lines",
                   name=labels["equilibrium"], line=dict(color=COLORS["muted"], dash="dash"), hoverinfo="skip"),
    ])
    return fig
