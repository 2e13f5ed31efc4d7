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

# One colour per MNIST digit class (index = digit), wherever digits are coloured by label: the first
# ten colours of CARTO's "Safe" scheme (Paul Tol's colour-blind-safe "muted" set plus a dark brown).
# Every pair stays apart under simulated deuteranopia, protanopia and tritanopia, none is pale enough
# to vanish on the white plot background, and digits whose codes mingle (3/5/8, 4/9, 7/9, 1/7) got
# the most different pairs (tests/dashboard/test_palette.py measures all three).
CLASS_COLORS = ("#AA4499", "#661100", "#DDCC77", "#882255", "#CC6677",
                "#88CCEE", "#117733", "#44AA99", "#999933", "#332288")


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


def _clip_segment(p, q, low, high):
    """The part (a, b) of segment p -> q inside the box [low, high] (Liang-Barsky), or None."""
    d = q - p
    t0, t1 = 0.0, 1.0
    for axis in range(2):
        for step, room in ((-d[axis], p[axis] - low[axis]), (d[axis], high[axis] - p[axis])):
            if step == 0.0:
                if room < 0.0:
                    return None
                continue
            r = room / step
            if step < 0.0:
                t0 = max(t0, r)
            else:
                t1 = min(t1, r)
    return (p + t0 * d, p + t1 * d) if t0 <= t1 else None


def clip_path(path, x_range, y_range) -> tuple[np.ndarray, np.ndarray]:
    """The polyline ``path`` (m, 2) cut to the box x_range x y_range: (points (k, 2) with NaN rows where
    the line leaves the box, so plotly draws a gap; exits (e, 2), where it crossed the border outward).
    Segments with a non-finite end are dropped."""
    path = np.asarray(path, dtype=float).reshape(-1, 2)
    low = np.array([min(x_range), min(y_range)], dtype=float)
    high = np.array([max(x_range), max(y_range)], dtype=float)
    if len(path) == 1:
        inside = bool(np.all(np.isfinite(path)) and np.all((path >= low) & (path <= high)))
        return (path.copy() if inside else np.zeros((0, 2))), np.zeros((0, 2))
    points: list[np.ndarray] = []
    exits: list[np.ndarray] = []
    gap = np.full(2, np.nan)
    for p, q in zip(path[:-1], path[1:]):
        part = _clip_segment(p, q, low, high) if np.all(np.isfinite(p)) and np.all(np.isfinite(q)) else None
        if part is None:
            continue
        a, b = part
        if not points or not np.array_equal(points[-1], a):
            points += ([gap] if points else []) + [a]
        points.append(b)
        if not np.array_equal(b, q):  # the segment was cut at its end: it left the box there
            exits.append(b)
    return (np.array(points) if points else np.zeros((0, 2))), (np.array(exits) if exits else np.zeros((0, 2)))


PATH_POINTS = 300  # optimiser path points drawn at most; a live run adds one per step, thousands in a minute


def surface_with_path(x, y, z, path, *, x_title: str, y_title: str, z_title: str, path_name: str,
                      end_name: str, colorscale: str = "Blues_r", height: int = 340, exit_name: str | None = None
                      ) -> go.Figure:
    """Contours of a function of two parameters with an optimiser's path drawn on top.

    ``z`` has shape (len(y), len(x)); ``path`` is (steps, 2) of (x, y), start first. Used for
    every "loss landscape + where gradient descent went" picture in the course. With ``exit_name``
    the view stays on the surface: the path is cut at its border (``clip_path``), each place it
    left is marked with an x, and the end is drawn only while it is on the surface.
    """
    path = np.asarray(path, dtype=float)
    if len(path) > PATH_POINTS:  # a long run: every k-th point and the last (the browser styles each marker)
        path = np.concatenate([path[:-1:-(-len(path) // PATH_POINTS)], path[-1:]])
    layout: dict = {}
    line, end = path, path[-1:]
    if exit_name is not None:
        x_range = [float(np.min(x)), float(np.max(x))]
        y_range = [float(np.min(y)), float(np.max(y))]
        line, exits = clip_path(path, x_range, y_range)
        on_surface = bool(np.all(np.isfinite(path[-1])) and x_range[0] <= path[-1, 0] <= x_range[1]
                          and y_range[0] <= path[-1, 1] <= y_range[1])
        end = path[-1:] if on_surface else np.zeros((0, 2))
        layout = dict(xaxis=dict(range=x_range), yaxis=dict(range=y_range))
    fig = base_figure(height, x_title=x_title, y_title=y_title, hovermode="closest", **layout)
    fig.add_traces([
        dict(type="contour", x=x, y=y, z=z, colorscale=colorscale, contours=dict(showlines=False), ncontours=25,
             name=z_title, colorbar=dict(title=dict(text=z_title, side="right"), thickness=12),
             hovertemplate="%{x:.2f}, %{y:.2f}: %{z:.3f}<extra></extra>"),
        dict(type="scatter", x=line[:, 0], y=line[:, 1], mode="lines+markers", name=path_name,
             line=dict(color=COLORS["q"], width=2), marker=dict(size=5)),
        dict(type="scatter", x=end[:, 0], y=end[:, 1], mode="markers", name=end_name,
             marker=dict(color=COLORS["q"], size=14, symbol="star")),
    ])
    if exit_name is not None and len(exits):
        fig.add_trace(dict(type="scatter", x=exits[:, 0], y=exits[:, 1], mode="markers", name=exit_name,
                           cliponaxis=False, marker=dict(color=COLORS["bad"], size=13, symbol="x-thin",
                                                         line=dict(color=COLORS["bad"], width=3))))
    return fig


LOG_MANTISSAS = ((1.0,), (1.0, 2.0, 5.0), (1.0, 2.0, 3.0, 5.0), (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0))
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_label(exponent: float) -> str:
    """10 to a (rounded) power as text, '10²⁰⁵': a number too large for a float can still be named."""
    return "10" + str(int(round(exponent))).translate(SUPERSCRIPT)


def tick_label(value: float, powers: bool = False) -> str:
    """A log-axis label written out in full: '0.02', '500', '20000', or '2·10⁻⁵' / '10⁶' outside [0.001, 1e5)
    (and always as a power of ten with ``powers``, so one axis does not mix '0.01' with '10⁶')."""
    if not powers and 1e-3 <= value < 1e5:
        return f"{value:g}"
    exponent = math.floor(math.log10(value) + 1e-9)
    mantissa = value / 10.0**exponent
    power = f"10{str(exponent).translate(SUPERSCRIPT)}"
    return power if abs(mantissa - 1.0) < 1e-9 else f"{mantissa:g}·{power}"


def log_ticks(*values, at_least: int = 3, at_most: int = 8) -> dict:
    """``tickvals`` / ``ticktext`` for a log axis that will show ``values`` (finite positive entries count).

    Plotly's own log ticks label the minor steps with a bare digit ("5 10 2 5 100 2 5 1000"), which
    reads as nonsense. Here every label is a whole number: powers of ten when they put ``at_least``
    ticks inside the values' range (every k-th power when there would be more than ``at_most``), else
    the first of 1-2-5, 1-2-3-5 or 1-1.5-2-3-4-5-6-8 steps that does. Powers of ten are written 10ᵏ
    when any of them would leave [0.001, 1e5). Returns {} (plotly's default ticks) when no value is
    positive or the range is too narrow for any set.
    """
    flat = np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in values]) if values else np.zeros(0)
    flat = flat[np.isfinite(flat) & (flat > 0)]
    if not flat.size:
        return {}
    low, high = float(flat.min()), float(flat.max())
    if high <= low * 1.0000001:
        low, high = low / 2.0, high * 2.0  # one value: a factor of 2 either side
    first, last = math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1
    for mantissas in LOG_MANTISSAS:
        ticks = [m * 10.0**k for k in range(first, last + 1) for m in mantissas]
        inside = [v for v in ticks if low * (1 - 1e-9) <= v <= high * (1 + 1e-9)]
        if len(inside) < at_least:
            continue
        powers = False
        if len(mantissas) == 1:
            if len(inside) > at_most:  # many decades: every k-th power, anchored at 1
                k = math.ceil(len(inside) / at_most)
                ticks = [v for v in ticks if round(math.log10(v)) % k == 0]
                inside = [v for v in inside if round(math.log10(v)) % k == 0]
            powers = not all(1e-3 <= v < 1e5 for v in inside)
        return {"tickvals": ticks, "ticktext": [tick_label(v, powers) for v in ticks]}
    return {}


# ---- many points, drawn cheaply (the live sections redraw these several times a second)
MAX_CURVE_POINTS = 400  # training curves are bucket means of at most this many points
# Legends of the live figures: one row above the plot, or inside its top-left corner.
TOP_LEGEND = dict(orientation="h", x=0.0, y=1.0, xanchor="left", yanchor="bottom", font=dict(size=11))
INSIDE_LEGEND = dict(orientation="h", x=0.01, y=0.99, xanchor="left", yanchor="top", bgcolor="rgba(255,255,255,0.7)",
                     font=dict(size=11))


def f32(values) -> np.ndarray:
    """A contiguous float32 copy: half the bytes of float64 in a figure's JSON."""
    return np.ascontiguousarray(values, dtype=np.float32)


def polylines(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(L, M, 2) lines -> x, y of one trace with a NaN after each line (plotly breaks a line at NaN)."""
    lines = np.asarray(lines, dtype=np.float32)
    gap = np.full((lines.shape[0], 1, 2), np.nan, dtype=np.float32)
    joined = np.concatenate([lines, gap], axis=1).reshape(-1, 2)
    return joined[:, 0], joined[:, 1]


def arrows(points: np.ndarray, vectors: np.ndarray, length: float) -> tuple[np.ndarray, ...]:
    """Segments from each point along its vector, the longest ``length`` long.

    Returns the segments' x, y (NaN-separated, one trace) and the tips (n, 2) with their angles
    in degrees, clockwise from up (plotly's ``marker.angle``), for small arrowheads.
    """
    points, vectors = np.asarray(points, dtype=np.float64), np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    finite = np.isfinite(norms)
    top = float(norms[finite].max()) if finite.any() else 0.0
    scale = length / top if top > 0 else 0.0
    tips = points + np.where(finite[:, None], vectors, 0.0) * scale
    segments = np.stack([points, tips], axis=1)  # (n, 2, 2)
    x, y = polylines(segments)
    angles = 90.0 - np.degrees(np.arctan2(vectors[:, 1], vectors[:, 0]))
    return x, y, f32(tips), f32(np.where(finite, angles, 0.0))


def thin(points: np.ndarray, most: int) -> np.ndarray:
    """Every k-th row so that at most ``most`` remain (the engine's subsets are already random)."""
    return points[:: max(1, math.ceil(len(points) / most))]


def bucket_means(values: np.ndarray, max_points: int = MAX_CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(steps, means): ``values`` (n,) averaged over equal buckets so at most ``max_points`` remain.

    Steps are the 1-based index of each bucket's last entry. Non-finite values are skipped in
    the mean (a bucket of only non-finite values gives NaN, drawn as a gap).
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    size = max(1, math.ceil(n / max_points))
    full = (n // size) * size
    head = values[:full].reshape(-1, size)
    finite = np.isfinite(head)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(finite, head, 0.0).sum(1) / finite.sum(1)
    steps = np.arange(size, full + 1, size, dtype=np.float64)
    if full < n:  # the partial last bucket
        tail = values[full:]
        tail = tail[np.isfinite(tail)]
        means = np.append(means, tail.mean() if tail.size else np.nan)
        steps = np.append(steps, n)
    return f32(steps), f32(means)
