"""Figures for the GAN theory section. Inputs are arrays from ``engine.gan.exact`` and labels
already translated by the section; nothing here computes a discriminator or a loss.

Traces are plain dicts and each figure is built in one constructor call (see
``plotting.base_figure``); the section caches the figures themselves.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.shared.plotting import COLORS, band, base_figure, rgba, subplot_grid, vertical_line

D_COLOR = COLORS["accent"]  # the optimal discriminator D*
LEARNED_COLOR = "#111827"  # the trained network, drawn dashed over D*


def _line(x, y, name: str, color: str, *, dash: str = "solid", width: float = 2.5, **extra) -> dict:
    return dict(type="scatter", x=x, y=y, name=name, mode="lines", line=dict(color=color, width=width, dash=dash),
                **extra)


def discriminator_figure(x, p_data, p_g, d_star, learned=None, *, labels: dict, height: int = 360) -> go.Figure:
    """p_data and p_g (left axis) with D*(x) and, once trained, the learned D(x) (right axis, 0..1)."""
    fig = base_figure(
        height, x_title="x", y_title=labels["density"],
        yaxis2=dict(title=dict(text=labels["d_axis"]), overlaying="y", side="right", range=[-0.02, 1.02],
                    tickmode="linear", tick0=0.0, dtick=0.25, zeroline=False, showgrid=False),
        shapes=[dict(type="line", xref="x domain", yref="y2", x0=0, x1=1, y0=0.5, y1=0.5,
                     line=dict(color=COLORS["muted"], width=1, dash="dot"))],
    )
    traces = [
        _line(x, p_data, labels["p_data"], COLORS["p"], fill="tozeroy", fillcolor=rgba(COLORS["p"], 0.15)),
        _line(x, p_g, labels["p_g"], COLORS["q"], fill="tozeroy", fillcolor=rgba(COLORS["q"], 0.15)),
        _line(x, d_star, labels["d_star"], D_COLOR, width=3, yaxis="y2"),
    ]
    if learned is not None:
        traces.append(_line(x, learned, labels["d_learned"], LEARNED_COLOR, dash="dash", width=2, yaxis="y2"))
    fig.add_traces(traces)
    return fig


def training_loss_figure(losses, minimum: float, *, labels: dict, height: int = 260) -> go.Figure:
    """The discriminator's loss -V(D, G) per step, down to its minimum log 4 - 2 JS = -V(D*, G)."""
    steps = np.arange(1, len(losses) + 1)
    fig = base_figure(height, x_title=labels["step"], y_title=labels["d_loss"],
                      shapes=[dict(type="line", xref="x domain", x0=0, x1=1, y0=minimum, y1=minimum,
                                   line=dict(color=D_COLOR, dash="dash"))])
    fig.add_traces([
        _line(steps, losses, labels["d_loss"], LEARNED_COLOR, width=1.5),
        _line([steps[0], steps[-1]], [minimum, minimum], labels["d_loss_min"], D_COLOR, dash="dash", width=1.5,
              hoverinfo="skip"),
    ])
    return fig


def generator_loss_figure(d, saturating, non_saturating, grad_saturating, grad_non_saturating,
                          early: tuple[float, float, float], *, labels: dict, height: int = 340) -> go.Figure:
    """Left: log(1 - D) and -log D against D = D(G(z)). Right: |d loss / d logit| of each.

    ``early`` = (low, median, high) quantiles of D*(x) for x ~ p_g: shaded on both panels,
    with the median marked, because that is where a generator far from p_data finds itself.
    """
    layout = subplot_grid(1, 2, titles=(labels["losses"], labels["gradients"]), x_title=labels["d_of_g"],
                          y_titles=(labels["loss"],), gap=0.08)
    layout["yaxis2"]["title"] = dict(text=labels["gradient"])
    low, median, high = early
    shapes = [band(low, high, COLORS["bad"], axis) for axis in ("", "2")]
    shapes += [vertical_line(median, axis, color=COLORS["bad"], dash="dot") for axis in ("", "2")]
    layout["annotations"].append(dict(text=labels["early"], x=median, xref="x", y=1.0, yref="y domain",
                                      xanchor="left", yanchor="top", showarrow=False,
                                      font=dict(color=COLORS["bad"])))
    # Legend above the panel titles (the base legend sits on them).
    fig = base_figure(height, shapes=shapes, hovermode="x", margin=dict(t=60),
                      legend=dict(y=1.08, x=0.5, xanchor="center"), **layout)
    sat, ns = COLORS["muted"], COLORS["q"]
    fig.add_traces([
        _line(d, saturating, labels["saturating"], sat, legendgroup="sat"),
        _line(d, non_saturating, labels["non_saturating"], ns, legendgroup="ns"),
        _line(d, np.abs(grad_saturating), labels["saturating"], sat, legendgroup="sat", showlegend=False,
              xaxis="x2", yaxis="y2"),
        _line(d, np.abs(grad_non_saturating), labels["non_saturating"], ns, legendgroup="ns", showlegend=False,
              xaxis="x2", yaxis="y2"),
    ])
    return fig
