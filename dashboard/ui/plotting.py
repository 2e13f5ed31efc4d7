"""Plotly conventions shared by every page: one colour per role, one base layout, number format.

Figure builders take plain numpy arrays and already-translated labels, and return a
``go.Figure``; pages hand it to ``st.plotly_chart``. Keeping colours by role (P is always
blue, Q always orange) lets a student carry the reading of one plot over to the next.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

COLORS = {
    "p": "#2563eb",  # data distribution P
    "q": "#ea580c",  # model distribution Q
    "m": "#64748b",  # mixture M = (P + Q) / 2
    "accent": "#059669",
    "muted": "#94a3b8",
    "bad": "#dc2626",
}


def rgba(hex_color: str, alpha: float) -> str:
    """'#rrggbb' -> 'rgba(r,g,b,alpha)' for translucent fills."""
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def base_figure(height: int = 320, *, x_title: str = "", y_title: str = "", title: str = "") -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        title=dict(text=title, x=0.0, xanchor="left", font=dict(size=15)) if title else None,
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
        hovermode="x unified",
    )
    fig.update_xaxes(title_text=x_title, zeroline=False)
    fig.update_yaxes(title_text=y_title, zeroline=False)
    return fig


def plot_grid(*dists, points: int = 600) -> np.ndarray:
    """x-values covering the central 99.8% of every distribution, with a 10% margin.

    Finite support ends (the edges of uniforms) are put on the grid together with the point
    just left of them, so jumps in a density are drawn vertical rather than slanted.
    """
    lo = min(float(d.ppf(0.001)) for d in dists)
    hi = max(float(d.ppf(0.999)) for d in dists)
    pad = 0.1 * (hi - lo)
    grid = np.linspace(lo - pad, hi + pad, points)
    edges = np.array([e for d in dists for interval in d.support_intervals() for e in interval if math.isfinite(e)])
    if edges.size == 0:
        return grid
    return np.unique(np.concatenate([grid, edges, np.nextafter(edges, -np.inf)]))


def finite_or_none(values: np.ndarray) -> list:
    """Plotly draws gaps for None: use it where a curve is infinite or undefined."""
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=float)]


def format_value(value: float, digits: int = 3) -> str:
    """A divergence for display: '∞' for infinity, never 'nan' or 'inf'."""
    if value is None or math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞"
    return f"{value:.{digits}f}"
