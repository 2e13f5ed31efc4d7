"""Figures for the Divergences page. Inputs are arrays from ``engine.divergences`` and labels
already translated by the page; nothing here computes a divergence."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.ui.plotting import COLORS, base_figure, finite_or_none, rgba


def _infinite_spans(x: np.ndarray, values: np.ndarray) -> list[tuple[float, float]]:
    """Contiguous x-intervals where ``values`` is +inf (P has mass where Q has none)."""
    inf = np.isposinf(values)
    spans, start = [], None
    for xi, flag in zip(x, inf):
        if flag and start is None:
            start = xi
        elif not flag and start is not None:
            spans.append((start, xi))
            start = None
    if start is not None:
        spans.append((start, x[-1]))
    return spans


def densities_figure(x, p, q, m, *, labels: dict, height: int = 320) -> go.Figure:
    """P and Q filled, their mixture M dashed (M is what JS compares both to)."""
    fig = base_figure(height, x_title="x", y_title=labels["density"])
    fig.add_scatter(x=x, y=p, name=labels["p"], line=dict(color=COLORS["p"], width=2.5),
                    fill="tozeroy", fillcolor=rgba(COLORS["p"], 0.15))
    fig.add_scatter(x=x, y=q, name=labels["q"], line=dict(color=COLORS["q"], width=2.5),
                    fill="tozeroy", fillcolor=rgba(COLORS["q"], 0.15))
    fig.add_scatter(x=x, y=m, name=labels["m"], line=dict(color=COLORS["m"], width=1.5, dash="dash"))
    return fig


def integrand_figure(x, values, *, color: str, y_title: str, infinite_label: str, height: int = 230):
    """The pointwise integrand: its signed area is the divergence. Regions where it is +inf
    (KL with P > 0 = Q) are shaded red and labelled instead of being drawn."""
    fig = base_figure(height, x_title="x", y_title=y_title)
    fig.update_layout(showlegend=False, margin=dict(l=10, r=10, t=10, b=10))
    fig.add_scatter(x=x, y=finite_or_none(values), line=dict(color=color, width=2),
                    fill="tozeroy", fillcolor=rgba(color, 0.25), connectgaps=False)
    for lo, hi in _infinite_spans(np.asarray(x), np.asarray(values)):
        fig.add_vrect(x0=lo, x1=hi, fillcolor=rgba(COLORS["bad"], 0.15), line_width=0,
                      annotation_text=infinite_label, annotation_position="top left",
                      annotation_font_color=COLORS["bad"])
    fig.add_hline(y=0, line=dict(color=COLORS["muted"], width=1))
    return fig


def cdf_figure(x, cdf_p, cdf_q, *, labels: dict, height: int = 300) -> go.Figure:
    """Both CDFs with the area between them shaded: that area is W1."""
    fig = base_figure(height, x_title="x", y_title=labels["cdf"])
    fig.add_scatter(x=x, y=cdf_p, name=labels["cdf_p"], line=dict(color=COLORS["p"], width=2.5))
    fig.add_scatter(x=x, y=cdf_q, name=labels["cdf_q"], line=dict(color=COLORS["q"], width=2.5),
                    fill="tonexty", fillcolor=rgba(COLORS["accent"], 0.25))
    fig.update_yaxes(range=[-0.02, 1.02])
    return fig


def coupling_figure(x, p, q, x_p, x_q, *, labels: dict, height: int = 340) -> go.Figure:
    """The monotone (quantile) coupling: P drawn above, Q mirrored below, and a line from each
    quantile of P to the same quantile of Q. W_p averages the lengths of these moves."""
    scale = 1.0 / max(float(np.max(p)), float(np.max(q)), 1e-12)
    fig = base_figure(height, x_title="x")
    fig.update_layout(hovermode="closest")
    fig.add_scatter(x=x, y=1.0 + 0.8 * scale * np.asarray(p), name=labels["p"], line=dict(color=COLORS["p"], width=2))
    fig.add_scatter(x=x, y=-0.8 * scale * np.asarray(q), name=labels["q"], line=dict(color=COLORS["q"], width=2))
    xs, ys = [], []
    for a, b in zip(x_p, x_q):
        xs += [a, b, None]
        ys += [1.0, 0.0, None]
    fig.add_scatter(x=xs, y=ys, mode="lines", name=labels["moves"], hoverinfo="skip",
                    line=dict(color=rgba(COLORS["accent"], 0.8), width=1.5))
    fig.add_scatter(x=x_p, y=np.ones_like(x_p), mode="markers", showlegend=False,
                    marker=dict(color=COLORS["p"], size=6), hoverinfo="x")
    fig.add_scatter(x=x_q, y=np.zeros_like(x_q), mode="markers", showlegend=False,
                    marker=dict(color=COLORS["q"], size=6), hoverinfo="x")
    fig.update_yaxes(showticklabels=False, range=[-0.9, 1.9])
    return fig


SWEEP_PANELS = ("kl", "js", "tv", "w")


def _isolated_marker_sizes(values) -> list[int]:
    """Marker size 8 for finite points whose neighbours are both gaps (a lone point draws no line)."""
    finite = np.isfinite(np.asarray(values, dtype=float))
    left = np.r_[False, finite[:-1]]
    right = np.r_[finite[1:], False]
    return [8 if f and not (l or r) else 0 for f, l, r in zip(finite, left, right)]


def sweep_figure(sweep, theta_now: float, *, labels: dict, height: int = 520) -> go.Figure:
    """Small multiples: each divergence against the shift θ (top) and its slope d/dθ (bottom).

    ``sweep`` is an ``engine.divergences.ShiftSweep``. Infinite values become gaps, and the
    θ where KL(P‖Q) is infinite get a red band in the KL panel.
    """
    thetas = sweep.thetas
    fig = make_subplots(rows=2, cols=4, shared_xaxes=True, vertical_spacing=0.1, horizontal_spacing=0.06,
                        subplot_titles=[labels[f"panel_{k}"] for k in SWEEP_PANELS] + [""] * 4)
    groups = {"kl": ("kl_pq", "kl_qp"), "js": ("js",), "tv": ("tv",), "w": ("w1", "w2")}
    styles = {"kl_pq": (COLORS["p"], "solid"), "kl_qp": (COLORS["q"], "dash"), "js": (COLORS["accent"], "solid"),
              "tv": ("#7c3aed", "solid"), "w1": ("#0f766e", "solid"), "w2": ("#b45309", "dash")}
    for col, panel in enumerate(SWEEP_PANELS, start=1):
        for key in groups[panel]:
            color, dash = styles[key]
            for row, series in ((1, getattr(sweep, key)), (2, getattr(sweep, f"d_{key}"))):
                fig.add_scatter(x=thetas, y=finite_or_none(series), name=labels[key], legendgroup=key,
                                showlegend=row == 1, line=dict(color=color, dash=dash, width=2),
                                mode="lines+markers", marker=dict(size=_isolated_marker_sizes(series)),
                                row=row, col=col)
    for lo, hi in _infinite_spans(thetas, sweep.kl_pq):
        fig.add_vrect(x0=lo, x1=hi, fillcolor=rgba(COLORS["bad"], 0.12), line_width=0, row=1, col=1)
    if np.isinf(sweep.kl_pq).any():
        fig.add_annotation(text=labels["kl_infinite"], xref="x domain", yref="y domain", x=0.5, y=0.9,
                           showarrow=False, font=dict(color=COLORS["bad"], size=14), row=1, col=1)
    kl_finite = np.concatenate([sweep.kl_pq[np.isfinite(sweep.kl_pq)], sweep.kl_qp[np.isfinite(sweep.kl_qp)]])
    if kl_finite.size and kl_finite.max() < 1e-9:  # only the point θ = 0 is finite: keep 0 visible at the bottom
        fig.update_yaxes(range=[-0.05, 1.0], row=1, col=1)
    fig.add_hline(y=float(np.log(2.0)), line=dict(color=COLORS["muted"], dash="dot"), row=1, col=2,
                  annotation_text="log 2", annotation_position="bottom right")
    fig.add_hline(y=1.0, line=dict(color=COLORS["muted"], dash="dot"), row=1, col=3,
                  annotation_text="1", annotation_position="bottom right")
    for col in range(1, 5):
        for row in (1, 2):
            fig.add_vline(x=theta_now, line=dict(color=COLORS["muted"], width=1), row=row, col=col)
        fig.update_xaxes(title_text="θ", row=2, col=col)
    fig.update_yaxes(title_text=labels["value"], row=1, col=1)
    fig.update_yaxes(title_text=labels["slope"], row=2, col=1)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), hovermode="x unified",
                      legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0.0))
    return fig


def transport_figure(x, y, rows, cols, *, labels: dict, height: int = 420) -> go.Figure:
    """Two 2D point sets and the optimal matching between them, one grey segment per pair."""
    fig = base_figure(height)
    fig.update_layout(hovermode="closest")
    xs, ys = [], []
    for i, j in zip(rows, cols):
        xs += [x[i, 0], y[j, 0], None]
        ys += [x[i, 1], y[j, 1], None]
    fig.add_scatter(x=xs, y=ys, mode="lines", name=labels["moves"], hoverinfo="skip",
                    line=dict(color=rgba(COLORS["m"], 0.55), width=1))
    fig.add_scatter(x=x[:, 0], y=x[:, 1], mode="markers", name=labels["p"],
                    marker=dict(color=COLORS["p"], size=6))
    fig.add_scatter(x=y[:, 0], y=y[:, 1], mode="markers", name=labels["q"],
                    marker=dict(color=COLORS["q"], size=6, symbol="diamond"))
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def mode_fit_figure(x, p, forward, reverse, *, labels: dict, height: int = 320) -> go.Figure:
    """A bimodal P with its two best single-Gaussian fits: forward KL covers, reverse KL seeks."""
    fig = base_figure(height, x_title="x", y_title=labels["density"])
    fig.add_scatter(x=x, y=p, name=labels["p"], line=dict(color=COLORS["p"], width=2.5),
                    fill="tozeroy", fillcolor=rgba(COLORS["p"], 0.15))
    fig.add_scatter(x=x, y=forward, name=labels["forward"], line=dict(color=COLORS["accent"], width=2.5))
    fig.add_scatter(x=x, y=reverse, name=labels["reverse"], line=dict(color=COLORS["q"], width=2.5, dash="dash"))
    return fig


def landscape_figure(means, log_stds, values, path, *, labels: dict, height: int = 340) -> go.Figure:
    """Reverse KL over (μ, log σ) as contours, with the optimiser's path: where it starts
    decides which valley (mode) it ends in. ``values`` has shape (len(log_stds), len(means))."""
    fig = base_figure(height, x_title=labels["mean"], y_title=labels["log_std"])
    fig.update_layout(hovermode="closest")
    fig.add_contour(x=means, y=log_stds, z=np.log10(np.asarray(values) + 1e-3), colorscale="Blues_r",
                    contours=dict(showlines=False), ncontours=25, name=labels["objective"],
                    colorbar=dict(title=dict(text=labels["colorbar"], side="right"), thickness=12),
                    hovertemplate="μ=%{x:.2f}<br>log σ=%{y:.2f}<extra></extra>")
    fig.add_scatter(x=path[:, 0], y=path[:, 1], mode="lines+markers", name=labels["path"],
                    line=dict(color=COLORS["q"], width=2), marker=dict(size=6))
    fig.add_scatter(x=path[-1:, 0], y=path[-1:, 1], mode="markers", name=labels["end"],
                    marker=dict(color=COLORS["q"], size=14, symbol="star"))
    return fig
