"""Figures of the live 2D GAN: the playing field (GAN Lab's main view) and the training curves.

Inputs are a ``engine.gan.live.GANSnapshot``, plain arrays and already-translated labels. These
figures are redrawn a few times a second while training plays, so traces are plain dicts of
float32 numpy arrays (plotly sends them base64-encoded, and validating dicts is cheaper than
building ``go.Scatter`` objects), polylines are one trace each with NaN gaps instead of one
trace per line, and long histories are averaged down to a few hundred points.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from dashboard.shared.plotting import (
    COLORS,
    arrows,
    base_figure,
    bucket_means,
    f32,
    polylines,
    rgba,
    subplot_grid,
    thin,
)

LAYERS = ("heatmap", "real", "fake", "gradients", "manifold")  # the order they are stacked in
ARROW_FRACTION = 0.09  # the longest gradient arrow spans this share of the view's width
# Points drawn per frame. Every marker is an SVG element the browser redraws at each frame; on a
# 2-core machine shared with the server, ~1,500 markers made frames several times slower.
MAX_REAL, MAX_FAKE, MAX_ARROWS = 400, 400, 200
HEIGHT = 460  # both live figures (px): the page reserves this space (CSS containment)

# Real (data) in the colour of P, generated in the colour of Q, as on every page. The heatmap
# takes the same colours, so D's "this looks real" regions are bluish, "fake" regions orange.
_FIELD_SCALE = [[0.0, rgba(COLORS["q"], 0.55)], [0.5, "rgba(255,255,255,0)"], [1.0, rgba(COLORS["p"], 0.55)]]
_MANIFOLD = "#7c3aed"
# Fixed margins, no automargin anywhere: plotly otherwise measures its text and redraws until the
# margins settle, several full redraws per frame (the browser's profile of a playing page was >80%
# in Plotly's doAutoMargin). So every label has a reserved place that fits it at any width the page
# gives (down to ~300 px, a 150% zoom with the sidebar open), in English and Korean:
# field: the legend in two columns above the plot (never over the ring's top mode), the colour bar
#   horizontal below the x axis with its title beside it (a vertical bar's title collided with
#   wide tick labels such as "−0.005" and was cut off at the right edge);
# curves: one legend row above each panel naming its curves, instead of one tall legend over the
#   top panel and rotated axis titles longer than the panels.
FIELD_MARGIN = dict(l=44, r=12, t=44, b=106)
# (xref="container" would gain the left margin, but plotly 6 then stacks the entries vertically)
FIELD_LEGEND = dict(orientation="h", x=0.0, y=1.0, xanchor="left", yanchor="bottom", traceorder="normal",
                    font=dict(size=11), itemwidth=30, tracegroupgap=0)
FIELD_COLORBAR_BELOW_PX = 74  # the colour bar's top below the plot: under the x ticks, x title and its own title
CURVES_MARGIN = dict(l=46, r=34, t=26, b=40)
CURVES_GAP = 0.085  # subplot_grid gap; 1.5 gap between panels (~50 px) holds a legend of up to 2 rows


def field_figure(snap, layers, *, labels: dict, colorbar_title: str, midpoint: float = 0.0,
                 height: int = HEIGHT) -> go.Figure:
    """The data plane: D's opinion as a heatmap, real and generated samples, G's gradients and manifold.

    ``layers`` is a subset of ``LAYERS``; ``midpoint`` is the white value of a critic's colour
    scale (a probability always uses 0..1 with white at 0.5). The axes are fixed to
    ``snap.bounds``, so frames line up while training plays.
    """
    layers = set(layers)
    x0, x1, y0, y1 = snap.bounds
    plot_height = height - FIELD_MARGIN["t"] - FIELD_MARGIN["b"]  # px; paper units below scale by it
    traces = []
    if "heatmap" in layers:
        z = f32(snap.d_values)
        if snap.d_is_probability:
            zrange = dict(zmin=0.0, zmax=1.0)
        else:  # symmetric around the midpoint, so white means "undecided" for every critic
            finite = z[np.isfinite(z)]
            spread = float(np.abs(finite - midpoint).max()) if finite.size else 1.0
            spread = spread if spread > 0 else 1.0
            zrange = dict(zmin=midpoint - spread, zmax=midpoint + spread)
        traces.append(dict(type="heatmap", x=f32(snap.xs), y=f32(snap.ys), z=z, colorscale=_FIELD_SCALE,
                           zsmooth="fast", name=labels["heatmap"], **zrange,
                           colorbar=dict(orientation="h", thickness=10, len=0.5, x=0.5, xanchor="center", xpad=0,
                                         y=-FIELD_COLORBAR_BELOW_PX / plot_height, yanchor="top", ypad=0,
                                         tickfont=dict(size=10), nticks=4, tickangle=0,
                                         title=dict(text=colorbar_title, side="top", font=dict(size=12))),
                           hovertemplate="%{x:.2f}, %{y:.2f}: %{z:.3f}<extra></extra>"))
    if "manifold" in layers:
        mx, my = polylines(snap.manifold)
        traces.append(dict(type="scatter", x=mx, y=my, mode="lines", name=labels["manifold"], hoverinfo="skip",
                           line=dict(color=rgba(_MANIFOLD, 0.45), width=1)))
    if "real" in layers:
        real = thin(snap.real, MAX_REAL)
        traces.append(dict(type="scatter", x=f32(real[:, 0]), y=f32(real[:, 1]), mode="markers",
                           name=labels["real"], hoverinfo="skip",
                           marker=dict(color=COLORS["p"], size=4, opacity=0.55)))
    fake, gradients = thin(snap.fake, MAX_FAKE), thin(snap.gradients, MAX_FAKE)
    if "fake" in layers:
        traces.append(dict(type="scatter", x=f32(fake[:, 0]), y=f32(fake[:, 1]), mode="markers",
                           name=labels["fake"], hoverinfo="skip",
                           marker=dict(color=COLORS["q"], size=5, opacity=0.8, line=dict(width=0))))
    if "gradients" in layers:
        n = min(len(fake), MAX_ARROWS)
        gx, gy, tips, angles = arrows(fake[:n], gradients[:n], ARROW_FRACTION * (x1 - x0))
        traces.append(dict(type="scatter", x=gx, y=gy, mode="lines", name=labels["gradients"], legendgroup="grad",
                           hoverinfo="skip", line=dict(color=COLORS["bad"], width=1)))
        traces.append(dict(type="scatter", x=tips[:, 0], y=tips[:, 1], mode="markers", legendgroup="grad",
                           showlegend=False, hoverinfo="skip",
                           marker=dict(symbol="triangle-up", size=5, angle=angles, color=COLORS["bad"])))
    fig = base_figure(height, x_title="x₁", y_title="x₂", hovermode="closest", uirevision="gan_live_field",
                      margin=FIELD_MARGIN,
                      # both axes keep their range and shrink their domain to stay square, so the
                      # view is exactly the snapshot's bounds whichever way the column is shaped
                      xaxis=dict(range=[x0, x1], constrain="domain", showgrid=False, automargin=False),
                      yaxis=dict(range=[y0, y1], scaleanchor="x", scaleratio=1, constrain="domain",
                                 constraintoward="bottom", showgrid=False, automargin=False, title=dict(standoff=4)),
                      legend=FIELD_LEGEND)
    fig.add_traces(traces)
    return fig


def _panel_legend(layout: dict, panel: int) -> dict:
    """A one-row legend just above panel ``panel`` (1-based), at its left edge."""
    domain = layout["yaxis" if panel == 1 else f"yaxis{panel}"]["domain"]
    return dict(orientation="h", x=0.0, xanchor="left", y=domain[1], yanchor="bottom",
                font=dict(size=11), itemwidth=30, tracegroupgap=0, bgcolor="rgba(0,0,0,0)")


def curves_figure(losses: dict, evaluations: list[dict], floor: float, *, labels: dict, has_modes: bool,
                  n_modes: int | None = None, height: int = HEIGHT) -> go.Figure:
    """Stacked panels over training: D's and G's losses; sliced W2 with its floor; modes covered and % HQ.

    ``losses`` maps "d_loss"/"g_loss" to (n,) per-step values; ``evaluations`` are the
    trainer's periodic measurements (``step``, ``sliced_w2`` and, with modes, ``modes_covered``,
    ``high_quality`` as a fraction). All panels share the step axis; each panel's legend row above
    it names its curves (the modes panel's two axes take the colours of their curves).
    """
    rows = 3 if has_modes else 2
    layout = subplot_grid(rows, 1, x_title=labels["step"], gap=CURVES_GAP)
    for panel in range(1, rows + 1):
        layout["legend" if panel == 1 else f"legend{panel}"] = _panel_legend(layout, panel)
    steps = f32([e["step"] for e in evaluations])
    traces = []
    for name, color in (("d_loss", COLORS["p"]), ("g_loss", COLORS["q"])):
        x, y = bucket_means(losses.get(name, ()))
        traces.append(dict(type="scatter", x=x, y=y, mode="lines", name=labels[name], line=dict(color=color)))
    traces.append(dict(type="scatter", x=steps, y=f32([e["sliced_w2"] for e in evaluations]), mode="lines",
                       name=labels["sliced_w2"], xaxis="x2", yaxis="y2", legend="legend2",
                       line=dict(color=COLORS["accent"])))
    shapes = []
    if math.isfinite(floor):
        shapes.append(dict(type="line", xref="x2 domain", yref="y2", x0=0, x1=1, y0=floor, y1=floor,
                           line=dict(color=COLORS["muted"], dash="dot")))
        traces.append(dict(type="scatter", x=[None], y=[None], mode="lines", name=labels["floor"], xaxis="x2",
                           yaxis="y2", legend="legend2", line=dict(color=COLORS["muted"], dash="dot")))
    layout["yaxis2"]["rangemode"] = "tozero"
    if has_modes:
        traces.append(dict(type="scatter", x=steps, y=f32([e.get("modes_covered", np.nan) for e in evaluations]),
                           mode="lines", name=labels["modes_covered"], xaxis="x3", yaxis="y3", legend="legend3",
                           line=dict(color=COLORS["p"], shape="hv")))
        traces.append(dict(type="scatter", x=steps,
                           y=f32([100.0 * e.get("high_quality", np.nan) for e in evaluations]),
                           mode="lines", name=labels["high_quality"], xaxis="x3", yaxis="y4", legend="legend3",
                           line=dict(color=COLORS["q"], dash="dash")))
        layout["yaxis3"] |= dict(range=[0, (n_modes or 1) * 1.05], tickfont=dict(color=COLORS["p"]))
        layout["yaxis4"] = dict(overlaying="y3", side="right", range=[0, 105], showgrid=False, zeroline=False,
                                tickvals=[0, 50, 100], tickfont=dict(color=COLORS["q"]), anchor="x3")
    for name in [k for k in layout if k.startswith(("xaxis", "yaxis"))]:
        layout[name]["automargin"] = False
    fig = base_figure(height, hovermode="x unified", uirevision="gan_live_curves", shapes=shapes,
                      margin=CURVES_MARGIN, **layout)
    fig.add_traces(traces)
    return fig
