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


def base_figure(height: int = 320, *, x_title: str = "", y_title: str = "", **layout) -> go.Figure:
    """An empty figure with the shared look; ``layout`` adds or overrides layout keys.

    Everything is set in one constructor call: plotly validates per call, and on a page that
    redraws a dozen figures per slider move the many small ``update_*`` calls add up.
    """
    base = dict(
        height=height,
        margin=dict(l=10, r=10, t=10, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
        hovermode="x unified",
        xaxis=dict(title=dict(text=x_title), zeroline=False),
        yaxis=dict(title=dict(text=y_title), zeroline=False),
    )
    for key, value in layout.items():  # one level deep, so yaxis=dict(range=...) keeps the title
        base[key] = {**base[key], **value} if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return go.Figure(layout=base)


def subplot_grid(rows: int, cols: int, *, titles=(), x_title: str = "", y_titles=(), gap: float = 0.06) -> dict:
    """Layout for a rows x cols grid of panels, without ``make_subplots`` (which costs ~30 ms).

    Panel k = (row - 1) * cols + col (1-based, row-major) uses axes ``x{k}``/``y{k}`` ("x"/"y"
    for k = 1); all panels share the x range. ``titles`` label the top row, ``x_title`` the
    bottom row, ``y_titles`` the first column. Returns a layout dict including ``annotations``.
    """
    width, height = (1 - gap * (cols - 1)) / cols, (1 - 1.5 * gap * (rows - 1)) / rows
    layout: dict = {"annotations": []}
    for r in range(rows):
        y0 = max(0.0, 1 - (r + 1) * height - r * 1.5 * gap)  # max: rounding gives -3e-17
        for c in range(cols):
            k = r * cols + c + 1
            suffix = "" if k == 1 else str(k)
            x0 = c * (width + gap)
            layout[f"xaxis{suffix}"] = dict(domain=[x0, x0 + width], anchor=f"y{suffix}", zeroline=False,
                                            matches=None if k == 1 else "x", showticklabels=r == rows - 1,
                                            title=dict(text=x_title if r == rows - 1 else ""))
            layout[f"yaxis{suffix}"] = dict(domain=[y0, y0 + height], anchor=f"x{suffix}", zeroline=False,
                                            title=dict(text=y_titles[r] if c == 0 and r < len(y_titles) else ""))
            if r == 0 and c < len(titles):
                layout["annotations"].append(dict(text=titles[c], x=x0 + width / 2, y=1.0, xref="paper",
                                                  yref="paper", xanchor="center", yanchor="bottom",
                                                  showarrow=False, font=dict(size=14)))
    return layout


def vertical_line(x: float, axis: str = "", **line) -> dict:
    """A layout shape spanning the full height of subplot ``axis`` ("" for the first, "2", ...)."""
    return dict(type="line", xref=f"x{axis}", yref=f"y{axis} domain", x0=x, x1=x, y0=0, y1=1,
                line={"color": COLORS["muted"], "width": 1, **line})


def horizontal_line(y: float, axis: str = "", **line) -> dict:
    """A layout shape spanning the full width of subplot ``axis``."""
    return dict(type="line", xref=f"x{axis} domain", yref=f"y{axis}", x0=0, x1=1, y0=y, y1=y,
                line={"color": COLORS["muted"], "width": 1, **line})


def band(x0: float, x1: float, color: str, axis: str = "") -> dict:
    """A translucent full-height band between x0 and x1 (behind the curves)."""
    return dict(type="rect", xref=f"x{axis}", yref=f"y{axis} domain", x0=x0, x1=x1, y0=0, y1=1,
                fillcolor=rgba(color, 0.13), line=dict(width=0), layer="below")


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


def surface_with_path(x, y, z, path, *, x_title: str, y_title: str, z_title: str, path_name: str,
                      end_name: str, colorscale: str = "Blues_r", height: int = 340) -> go.Figure:
    """Contours of a function of two parameters with an optimiser's path drawn on top.

    ``z`` has shape (len(y), len(x)); ``path`` is (steps, 2) of (x, y), start first. Used for
    every "loss landscape + where gradient descent went" picture in the course.
    """
    path = np.asarray(path, dtype=float)
    fig = base_figure(height, x_title=x_title, y_title=y_title, hovermode="closest")
    fig.add_traces([
        dict(type="contour", x=x, y=y, z=z, colorscale=colorscale, contours=dict(showlines=False), ncontours=25,
             name=z_title, colorbar=dict(title=dict(text=z_title, side="right"), thickness=12),
             hovertemplate="%{x:.2f}, %{y:.2f}: %{z:.3f}<extra></extra>"),
        dict(type="scatter", x=path[:, 0], y=path[:, 1], mode="lines+markers", name=path_name,
             line=dict(color=COLORS["q"], width=2), marker=dict(size=5)),
        dict(type="scatter", x=path[-1:, 0], y=path[-1:, 1], mode="markers", name=end_name,
             marker=dict(color=COLORS["q"], size=14, symbol="star")),
    ])
    return fig
