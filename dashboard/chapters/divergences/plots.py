"""Figures for the Divergences page. Inputs are arrays from ``engine.divergences`` and labels
already translated by the page; nothing here computes a divergence.

Traces are plain dicts and each figure is built in one constructor call (see
``plotting.base_figure``): the page redraws these on every slider move.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.shared.plotting import (
    COLORS,
    band,
    base_figure,
    finite_or_none,
    horizontal_line,
    rgba,
    subplot_grid,
    surface_with_path,
    vertical_line,
)


def _infinite_spans(x: np.ndarray, values: np.ndarray) -> list[tuple[float, float]]:
    """Contiguous x-intervals where ``values`` is +inf (P has mass where Q has none)."""
    inf = np.isposinf(values)
    starts = np.flatnonzero(inf & ~np.r_[False, inf[:-1]])
    ends = np.flatnonzero(inf & ~np.r_[inf[1:], False])
    return [(float(x[a]), float(x[b])) for a, b in zip(starts, ends)]


def _line(x, y, name: str, color: str, **extra) -> dict:
    return dict(type="scatter", x=x, y=y, name=name, mode="lines",
                line=dict(color=color, width=extra.pop("width", 2.5), dash=extra.pop("dash", "solid")), **extra)


def densities_figure(x, p, q, m, *, labels: dict, height: int = 320) -> go.Figure:
    """P and Q filled, their mixture M dashed (M is what JS compares both to)."""
    fig = base_figure(height, x_title="x", y_title=labels["density"])
    fig.add_traces([
        _line(x, p, labels["p"], COLORS["p"], fill="tozeroy", fillcolor=rgba(COLORS["p"], 0.15)),
        _line(x, q, labels["q"], COLORS["q"], fill="tozeroy", fillcolor=rgba(COLORS["q"], 0.15)),
        _line(x, m, labels["m"], COLORS["m"], width=1.5, dash="dash"),
    ])
    return fig


def integrand_figure(x, values, *, color: str, y_title: str, infinite_label: str, height: int = 230):
    """The pointwise integrand: its signed area is the divergence. Regions where it is +inf
    (KL with P > 0 = Q) are shaded red and labelled instead of being drawn."""
    spans = _infinite_spans(np.asarray(x), np.asarray(values))
    fig = base_figure(
        height, x_title="x", y_title=y_title, showlegend=False,
        shapes=[horizontal_line(0.0)] + [band(lo, hi, COLORS["bad"]) for lo, hi in spans],
        annotations=[dict(x=lo, xref="x", y=1, yref="y domain", text=infinite_label, showarrow=False,
                          xanchor="left", font=dict(color=COLORS["bad"])) for lo, _ in spans],
    )
    fig.add_traces([_line(x, finite_or_none(values), y_title, color, width=2, fill="tozeroy",
                          fillcolor=rgba(color, 0.25), connectgaps=False)])
    return fig


def cdf_figure(x, cdf_p, cdf_q, *, labels: dict, height: int = 300) -> go.Figure:
    """Both CDFs with the area between them shaded: that area is W1."""
    fig = base_figure(height, x_title="x", y_title=labels["cdf"], legend=dict(traceorder="normal"),
                      yaxis=dict(range=[-0.02, 1.02]))
    fig.add_traces([
        _line(x, cdf_p, labels["cdf_p"], COLORS["p"]),
        _line(x, cdf_q, labels["cdf_q"], COLORS["q"], fill="tonexty", fillcolor=rgba(COLORS["accent"], 0.25)),
    ])
    return fig


def coupling_figure(x, p, q, x_p, x_q, *, labels: dict, height: int = 340) -> go.Figure:
    """The monotone (quantile) coupling: P drawn above, Q mirrored below, and a line from each
    quantile of P to the same quantile of Q. W_p averages the lengths of these moves."""
    scale = 0.8 / max(float(np.max(p)), float(np.max(q)), 1e-12)
    moves_x = np.column_stack([x_p, x_q, np.full(len(x_p), np.nan)]).ravel()
    moves_y = np.tile([1.0, 0.0, np.nan], len(x_p))
    fig = base_figure(height, x_title="x", hovermode="closest",
                      yaxis=dict(showticklabels=False, range=[-0.9, 1.9], zeroline=False))
    fig.add_traces([
        _line(x, 1.0 + scale * np.asarray(p), labels["p"], COLORS["p"], width=2),
        _line(x, -scale * np.asarray(q), labels["q"], COLORS["q"], width=2),
        _line(moves_x, moves_y, labels["moves"], rgba(COLORS["accent"], 0.8), width=1.5, hoverinfo="skip"),
        dict(type="scatter", x=x_p, y=np.ones(len(x_p)), mode="markers", showlegend=False,
             marker=dict(color=COLORS["p"], size=6), hoverinfo="x"),
        dict(type="scatter", x=x_q, y=np.zeros(len(x_q)), mode="markers", showlegend=False,
             marker=dict(color=COLORS["q"], size=6), hoverinfo="x"),
    ])
    return fig


SWEEP_PANELS = {"kl": ("kl_pq", "kl_qp"), "js": ("js",), "tv": ("tv",), "w": ("w1", "w2")}
SWEEP_STYLES = {"kl_pq": (COLORS["p"], "solid"), "kl_qp": (COLORS["q"], "dash"), "js": (COLORS["accent"], "solid"),
                "tv": ("#7c3aed", "solid"), "w1": ("#0f766e", "solid"), "w2": ("#b45309", "dash")}


def _isolated_marker_sizes(values) -> list[int]:
    """Marker size 8 for finite points whose neighbours are both gaps (a lone point draws no line)."""
    finite = np.isfinite(np.asarray(values, dtype=float))
    left = np.r_[False, finite[:-1]]
    right = np.r_[finite[1:], False]
    return [8 if f and not (a or b) else 0 for f, a, b in zip(finite, left, right)]


def sweep_figure(sweep, theta_now: float, *, labels: dict, height: int = 520) -> go.Figure:
    """Small multiples: each divergence against the shift θ (top row) and its slope d/dθ (bottom).

    ``sweep`` is an ``engine.shift_sweep.ShiftSweep``. Infinite values become gaps; the θ where
    KL(P‖Q) is infinite get a red band in the KL panel. Subplot k (1..8, row-major) uses axes
    x{k}/y{k}, so the top row is 1..4 and the bottom row 5..8.
    """
    thetas = sweep.thetas
    axis = {1: "", **{k: str(k) for k in range(2, 9)}}
    layout = subplot_grid(2, 4, titles=[labels[f"panel_{k}"] for k in SWEEP_PANELS],
                          x_title="θ", y_titles=(labels["value"], labels["slope"]))
    traces = []
    for col, keys in enumerate(SWEEP_PANELS.values(), start=1):
        for key in keys:
            color, dash = SWEEP_STYLES[key]
            for row, series in ((0, getattr(sweep, key)), (1, getattr(sweep, f"d_{key}"))):
                k = axis[col + 4 * row]
                traces.append(dict(type="scatter", x=thetas, y=finite_or_none(series), name=labels[key],
                                   legendgroup=key, showlegend=row == 0, mode="lines+markers",
                                   marker=dict(size=_isolated_marker_sizes(series)),
                                   line=dict(color=color, dash=dash, width=2), xaxis=f"x{k}", yaxis=f"y{k}"))
    shapes = [vertical_line(theta_now, axis[k]) for k in range(1, 9)]
    shapes += [band(lo, hi, COLORS["bad"]) for lo, hi in _infinite_spans(thetas, sweep.kl_pq)]
    shapes += [horizontal_line(float(np.log(2.0)), "2", dash="dot"), horizontal_line(1.0, "3", dash="dot")]
    annotations = layout.pop("annotations") + [
        dict(text="log 2", x=1, xref="x2 domain", y=float(np.log(2.0)), yref="y2", showarrow=False,
             xanchor="right", yanchor="top", font=dict(color=COLORS["muted"])),
    ]
    kl_finite = np.concatenate([sweep.kl_pq[np.isfinite(sweep.kl_pq)], sweep.kl_qp[np.isfinite(sweep.kl_qp)]])
    if np.isinf(sweep.kl_pq).any():  # centred in the KL panel, in short lines: plotly never wraps a note,
        # and one long line ran onto the JS panel once the panels were narrow (150% zoom, half a screen)
        annotations.append(dict(text=labels["kl_infinite"], x=0.5, xref="x domain", xanchor="center", y=0.5,
                                yref="y domain", yanchor="middle", showarrow=False, bgcolor="rgba(255,255,255,0.85)",
                                font=dict(color=COLORS["bad"], size=13)))
    if kl_finite.size and kl_finite.max() < 1e-9:  # only θ = 0 is finite: keep that 0 visible
        layout["yaxis"]["range"] = [-0.05, 1.0]
    layout.update(height=height, shapes=shapes, annotations=annotations, hovermode="x unified",
                  margin=dict(l=10, r=10, t=30, b=10),
                  legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0.0))
    return go.Figure(data=traces, layout=layout)


def transport_figure(x, y, rows, cols, *, labels: dict, height: int = 420) -> go.Figure:
    """Two 2D point sets and the optimal matching between them, one grey segment per pair."""
    nan = np.full(len(rows), np.nan)
    moves_x = np.column_stack([x[rows, 0], y[cols, 0], nan]).ravel()
    moves_y = np.column_stack([x[rows, 1], y[cols, 1], nan]).ravel()
    fig = base_figure(height, hovermode="closest", yaxis=dict(scaleanchor="x", scaleratio=1, zeroline=False))
    fig.add_traces([
        _line(moves_x, moves_y, labels["moves"], rgba(COLORS["m"], 0.55), width=1, hoverinfo="skip"),
        dict(type="scatter", x=x[:, 0], y=x[:, 1], mode="markers", name=labels["p"],
             marker=dict(color=COLORS["p"], size=6)),
        dict(type="scatter", x=y[:, 0], y=y[:, 1], mode="markers", name=labels["q"],
             marker=dict(color=COLORS["q"], size=6, symbol="diamond")),
    ])
    return fig


def mode_fit_figure(x, p, forward, reverse, *, labels: dict, height: int = 320) -> go.Figure:
    """A bimodal P with its two best single-Gaussian fits: forward KL covers, reverse KL seeks."""
    fig = base_figure(height, x_title="x", y_title=labels["density"])
    fig.add_traces([
        _line(x, p, labels["p"], COLORS["p"], fill="tozeroy", fillcolor=rgba(COLORS["p"], 0.15)),
        _line(x, forward, labels["forward"], COLORS["accent"]),
        _line(x, reverse, labels["reverse"], COLORS["q"], dash="dash"),
    ])
    return fig


def landscape_figure(means, log_stds, values, path, *, labels: dict, height: int = 340) -> go.Figure:
    """Reverse KL over (μ, log σ) as contours, with the optimiser's path: where it starts
    decides which valley (mode) it ends in. ``values`` has shape (len(log_stds), len(means))."""
    return surface_with_path(means, log_stds, np.log10(np.asarray(values) + 1e-3), path, x_title=labels["mean"],
                             y_title=labels["log_std"], z_title=labels["colorbar"], path_name=labels["path"],
                             end_name=labels["end"], height=height)
