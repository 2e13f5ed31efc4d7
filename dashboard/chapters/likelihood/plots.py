"""Figures for the Maximum-likelihood page. Inputs are arrays from ``engine.likelihood`` /
``engine.mle`` and labels already translated by the page; nothing here fits a model."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.shared.plotting import COLORS, base_figure, log_ticks, rgba, vertical_line


def _histogram(values, name: str, color: str, *, nbins: int = 40, opacity: float = 0.35, **extra) -> dict:
    return dict(type="histogram", x=values, name=name, histnorm="probability density", nbinsx=nbins,
                marker=dict(color=rgba(color, opacity), line=dict(color=rgba(color, 0.8), width=0.5)), **extra)


def data_figure(x, p_data, train, *, labels: dict, model=None, height: int = 320) -> go.Figure:
    """p_data, a histogram of the training set, and (optionally) the fitted model's density."""
    fig = base_figure(height, x_title="x", y_title=labels["density"], barmode="overlay")
    traces = [
        _histogram(train, labels["train"], COLORS["p"]),
        dict(type="scatter", x=x, y=p_data, name=labels["p_data"], mode="lines",
             line=dict(color=COLORS["p"], width=2.5)),
    ]
    if model is not None:
        traces.append(dict(type="scatter", x=x, y=model, name=labels["model"], mode="lines",
                           line=dict(color=COLORS["q"], width=2.5)))
    fig.add_traces(traces)
    return fig


def decomposition_figure(entropy: float, kl: float, cross_entropy: float, *, labels: dict, height: int = 280):
    """Waterfall: H(p_data) (fixed by the data) + KL (what θ can change) = cross-entropy."""
    fig = base_figure(height, y_title=labels["nats"], showlegend=False, hovermode="closest")
    fig.add_traces([dict(
        type="waterfall", x=[labels["entropy"], labels["kl"], labels["cross_entropy"]],
        measure=["absolute", "relative", "total"], y=[entropy, kl, cross_entropy],
        text=[f"{entropy:.3f}", f"+{kl:.3f}", f"{cross_entropy:.3f}"], textposition="outside",
        connector=dict(line=dict(color=COLORS["muted"], dash="dot")),
        increasing=dict(marker=dict(color=COLORS["q"])), totals=dict(marker=dict(color=COLORS["p"])),
        decreasing=dict(marker=dict(color=COLORS["accent"])),
    )])
    return fig


def estimates_figure(names, values, errors, expected: float, *, labels: dict, height: int = 280) -> go.Figure:
    """Average log-likelihoods (dots with ± one standard error) against the exact expectation."""
    fig = base_figure(height, y_title=labels["avg_loglik"], showlegend=False, hovermode="closest",
                      shapes=[dict(type="line", xref="x domain", x0=0, x1=1, y0=expected, y1=expected,
                                   line=dict(color=COLORS["p"], dash="dash"))])
    fig.add_traces([dict(type="scatter", x=names, y=values, mode="markers+text", text=[f"{v:.3f}" for v in values],
                         textposition="top center", marker=dict(size=12, color=[COLORS["p"], COLORS["q"],
                                                                                  COLORS["accent"]]),
                         error_y=dict(type="data", array=errors, visible=True))])
    return fig


def mc_histogram_figure(estimates, expected: float, *, labels: dict, height: int = 300) -> go.Figure:
    """The spread of many n-sample estimates around the true expected log-likelihood."""
    fig = base_figure(height, x_title=labels["estimate"], y_title=labels["density"], showlegend=False,
                      shapes=[vertical_line(expected, color=COLORS["p"], dash="dash")])
    fig.add_traces([_histogram(estimates, labels["estimate"], COLORS["q"], nbins=40, opacity=0.5)])
    return fig


def standard_error_figure(ns, empirical, theory, n_now: int, *, labels: dict, height: int = 300) -> go.Figure:
    """Standard error against n on log–log axes: a line of slope −1/2 (the 1/√n law)."""
    fig = base_figure(height, x_title="n", y_title=labels["standard_error"], hovermode="closest",
                      xaxis=dict(type="log", **log_ticks(ns)), yaxis=dict(type="log", **log_ticks(empirical, theory)),
                      shapes=[vertical_line(n_now)])
    fig.add_traces([
        dict(type="scatter", x=ns, y=theory, name=labels["theory"], mode="lines",
             line=dict(color=COLORS["p"], dash="dash", width=2)),
        dict(type="scatter", x=ns, y=empirical, name=labels["empirical"], mode="markers",
             marker=dict(color=COLORS["q"], size=10)),
    ])
    return fig


def capacity_figure(values, train, test, current, *, x_title: str, labels: dict, log_x: bool = False,
                    reverse_x: bool = False, height: int = 320) -> go.Figure:
    """Train vs held-out average log-likelihood as capacity grows; the gap between them is
    overfitting. ``reverse_x`` puts small bandwidths (high capacity) on the right."""
    xaxis = dict(type="log" if log_x else "linear", autorange="reversed" if reverse_x else True,
                 **(log_ticks(values) if log_x else {}))
    fig = base_figure(height, x_title=x_title, y_title=labels["avg_loglik"], xaxis=xaxis,
                      shapes=[vertical_line(current)])
    fig.add_traces([
        dict(type="scatter", x=values, y=train, name=labels["train"], mode="lines+markers",
             line=dict(color=COLORS["p"], width=2.5)),
        dict(type="scatter", x=values, y=test, name=labels["test"], mode="lines+markers",
             line=dict(color=COLORS["accent"], width=2.5), fill="tonexty", fillcolor=rgba(COLORS["bad"], 0.08)),
    ])
    return fig


def nearest_figure(model_distances, data_distances, *, labels: dict, height: int = 300) -> go.Figure:
    """How far samples land from their nearest training point: copies sit at ~0."""
    floor = 1e-6  # log axis: an exact copy (distance 0) is drawn at the floor
    bins = np.logspace(np.log10(floor), np.log10(max(float(np.max(data_distances)), 1e-3)), 40)
    fig = base_figure(height, x_title=labels["nearest"], y_title=labels["count"], barmode="overlay",
                      xaxis=dict(type="log", **log_ticks(bins)))
    for values, name, color in ((model_distances, labels["model_samples"], COLORS["q"]),
                                (data_distances, labels["fresh_data"], COLORS["p"])):
        counts, edges = np.histogram(np.maximum(values, floor), bins=bins)
        fig.add_traces([dict(type="bar", x=np.sqrt(edges[:-1] * edges[1:]), y=counts, width=np.diff(edges),
                             name=name, marker=dict(color=rgba(color, 0.5)))])
    return fig


def training_curve_figure(log_likelihoods, best: float, *, labels: dict, height: int = 260) -> go.Figure:
    """Training log-likelihood per step, with the closed-form maximum it should climb to."""
    steps = np.arange(len(log_likelihoods))
    fig = base_figure(height, x_title=labels["step"], y_title=labels["avg_loglik"], showlegend=False,
                      shapes=[dict(type="line", xref="x domain", x0=0, x1=1, y0=best, y1=best,
                                   line=dict(color=COLORS["accent"], dash="dash"))])
    fig.add_traces([dict(type="scatter", x=steps, y=log_likelihoods, mode="lines",
                         line=dict(color=COLORS["q"], width=2))])
    return fig


def density_2d_figure(grid_x, grid_y, density, train, *, labels: dict, height: int = 420) -> go.Figure:
    """Model density contours over the 2D training points."""
    fig = base_figure(height, hovermode="closest", xaxis=dict(range=[grid_x[0], grid_x[-1]]),
                      yaxis=dict(scaleanchor="x", scaleratio=1, range=[grid_y[0], grid_y[-1]]))
    fade = [[0.0, "rgba(255,255,255,0)"], [0.08, rgba(COLORS["q"], 0.12)], [1.0, rgba(COLORS["q"], 0.9)]]
    fig.add_traces([
        dict(type="contour", x=grid_x, y=grid_y, z=density, colorscale=fade, showscale=False,
             contours=dict(coloring="fill", showlines=False), ncontours=14, name=labels["model"]),
        dict(type="scatter", x=train[:, 0], y=train[:, 1], mode="markers", name=labels["train"],
             marker=dict(color=COLORS["p"], size=4, opacity=0.6)),
    ])
    return fig
