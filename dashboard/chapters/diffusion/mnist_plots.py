"""Figures for the MNIST DDPM section: the terms of one reverse step as images, how x̂_0 settles
during sampling, the samplers of the model card, and the training loss.

Inputs are plain arrays and labels already translated by the section; nothing here runs a model.
The filled-in update equations are LaTeX built from numbers (notation, not prose: no translation).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.shared.plotting import COLORS, base_figure, log_ticks, rgba, vertical_line

# Digits in the network's [-1, 1] scale drawn dark on light like ``images.tile`` (Greys: high = black);
# signed terms (noise) blue below 0 and red above, white at 0, on a symmetric range given in the title.
IMAGE_SCALE = "Greys"
SIGNED_SCALE = "RdBu_r"
IMAGE_RANGE = (-1.0, 1.0)
CALLS_RANGE = (5.0, 2000.0)  # x axis of the sampler figure: DDIM-10 ... DDPM-1000 with room for labels


def signed_range(values) -> float:
    """Half-width of a symmetric colour range for ``values`` (never 0, so a zero image still draws)."""
    return max(float(np.abs(np.asarray(values)).max(initial=0.0)), 1e-6)


def step_figure(panels: list[tuple[str, np.ndarray, bool]], *, cols: int = 3, height: int = 430) -> go.Figure:
    """Panels (title, image (28, 28), signed) in a grid; each panel has its own colour axis.

    Image panels share the fixed range [-1, 1] (values outside are saturated, not rescaled), signed
    panels use +-max|value| of that panel, so the small sigma_t z is visible next to eps.
    """
    rows = -(-len(panels) // cols)
    gap_x, gap_y = 0.04, 0.12
    width, tall = (1 - gap_x * (cols - 1)) / cols, (1 - gap_y * rows) / rows
    layout: dict = {"annotations": [], "height": height, "margin": dict(l=5, r=5, t=25, b=5),
                    "plot_bgcolor": "white", "showlegend": False}
    fig = go.Figure()
    for k, (title, image, signed) in enumerate(panels, start=1):
        r, c = divmod(k - 1, cols)
        suffix = "" if k == 1 else str(k)
        x0 = c * (width + gap_x)
        y1 = 1 - r * (tall + gap_y)
        layout[f"xaxis{suffix}"] = dict(domain=[x0, x0 + width], anchor=f"y{suffix}", visible=False,
                                        constrain="domain")
        layout[f"yaxis{suffix}"] = dict(domain=[y1 - tall, y1], anchor=f"x{suffix}", visible=False,
                                        autorange="reversed", scaleanchor=f"x{suffix}", constrain="domain")
        bound = signed_range(image) if signed else None
        low, high = (-bound, bound) if signed else IMAGE_RANGE
        layout[f"coloraxis{suffix}"] = dict(colorscale=SIGNED_SCALE if signed else IMAGE_SCALE, cmin=low, cmax=high,
                                            showscale=False)
        layout["annotations"].append(dict(text=title, x=x0 + width / 2, y=y1, xref="paper", yref="paper",
                                          xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=13)))
        fig.add_trace(go.Heatmap(z=np.asarray(image, dtype=np.float32), xaxis=f"x{suffix}", yaxis=f"y{suffix}",
                                 coloraxis=f"coloraxis{suffix}", name=title,
                                 hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>"))
    fig.update_layout(layout)
    return fig


def settling_figure(steps, rms_x0, rms_xt, current: int, *, labels: dict, height: int = 260) -> go.Figure:
    """Root-mean-square distance of x̂_0 (and of x_t) to the final digits at each kept step.

    x̂_0 is the network's guess of the end result: it is close long before x_t is, which is the
    picture in numbers (a blurry average early, the digit itself late). Steps run T -> 0, left to right.
    """
    fig = base_figure(height, x_title=labels["step"], y_title=labels["rms"],
                      xaxis=dict(autorange="reversed"), shapes=[vertical_line(current, dash="dot")])
    fig.add_traces([
        go.Scatter(x=steps, y=rms_xt, mode="lines+markers", name=labels["x_t"], marker=dict(size=4),
                   line=dict(color=COLORS["muted"], width=2)),
        go.Scatter(x=steps, y=rms_x0, mode="lines+markers", name=labels["x0_hat"], marker=dict(size=4),
                   line=dict(color=COLORS["q"], width=2)),
    ])
    return fig


CALLS_TICKS = [10, 20, 50, 100, 200, 500, 1000]  # a log axis's default minor labels (2 3 4 ... 9) clutter it
HEADROOM = 1.6  # the Fréchet axis reaches this factor above the highest point: its label ("DDIM-10") sits above it
FOOTROOM = 1.25  # ... and this factor below the lowest value (the floor line), so the floor is not on the edge


def frechet_range(rows: list[dict], floor: float | None) -> tuple[float, float] | None:
    """(low, high) of the sampler figure's log y axis: every distance and the floor, with room for labels."""
    values = [float(r["frechet"]) for r in rows] + ([float(floor)] if floor is not None else [])
    values = [v for v in values if np.isfinite(v) and v > 0]
    return (min(values) / FOOTROOM, max(values) * HEADROOM) if values else None


def sampler_figure(rows: list[dict], floor: float | None, *, labels: dict, height: int = 300) -> go.Figure:
    """Fréchet distance of each sampler of the model card against its network calls (log-log), floor dashed.

    rows: {"key" ("ddpm", "ddim10", ...), "name", "calls", "frechet"}; DDPM (1000 calls) is the rightmost
    point. The x range is fixed (5 to 2000 calls) so a card with one sampler still shows the floor as a line.
    """
    span = frechet_range(rows, floor)
    yaxis = dict(type="log", **log_ticks(span)) if span else dict(type="log")
    if span:
        yaxis["range"] = [float(np.log10(span[0])), float(np.log10(span[1]))]
    fig = base_figure(height, x_title=labels["calls"], y_title=labels["frechet"], hovermode="closest",
                      xaxis=dict(type="log", range=list(np.log10(CALLS_RANGE)), tickvals=CALLS_TICKS), yaxis=yaxis)
    short = ["DDPM" if r["key"] == "ddpm" else f"DDIM-{r['calls']}" for r in rows]
    fig.add_trace(go.Scatter(x=[r["calls"] for r in rows], y=[r["frechet"] for r in rows], mode="markers+text",
                             text=short, hovertext=[r["name"] for r in rows], textposition="top center",
                             cliponaxis=False,  # a label above the top point is drawn even past the axis
                             name=labels["model"], marker=dict(size=10, color=rgba(COLORS["q"], 0.8),
                                                               line=dict(color=COLORS["q"], width=1))))
    if floor is not None:
        fig.add_trace(go.Scatter(x=list(CALLS_RANGE), y=[floor, floor], mode="lines", name=labels["floor"],
                                 line=dict(color=COLORS["p"], dash="dash"), hoverinfo="skip"))
    return fig


def loss_figure(curve, *, labels: dict, height: int = 260) -> go.Figure:
    """The training loss of the model card: [[step, mean loss over the preceding window], ...]."""
    curve = np.asarray(curve, dtype=float).reshape(-1, 2)
    fig = base_figure(height, x_title=labels["train_step"], y_title=labels["loss"],
                      yaxis=dict(type="log", **log_ticks(curve[:, 1])))
    fig.add_trace(go.Scatter(x=curve[:, 0], y=curve[:, 1], mode="lines+markers", name=labels["loss"],
                             marker=dict(size=4), line=dict(color=COLORS["accent"], width=2)))
    return fig


def _n(value: float) -> str:
    return f"{value:.4f}"


def step_equations(t: int, a: float, b: float, c1: float, c2: float, sigma: float) -> list[str]:
    """The DDPM step of ``engine.diffusion.p_sample`` with its coefficients as numbers (LaTeX, one per line).

    a = sqrt(1 - abar_t), b = sqrt(abar_t), c1 / c2 the posterior-mean coefficients of x̂_0 and x_t. The
    symbols and the numbers go on lines of their own, so each fits a 521 px column (150% zoom) unscrolled.
    """
    return [
        rf"\begin{{aligned}} \hat x_0 &= \operatorname{{clip}}_{{[-1,1]}}\Big("
        rf"\frac{{x_{{{t}}} - \sqrt{{1-\bar\alpha_{{{t}}}}}\,\epsilon_\theta(x_{{{t}}}, {t})}}"
        rf"{{\sqrt{{\bar\alpha_{{{t}}}}}}}\Big) \\ &= \operatorname{{clip}}\Big("
        rf"\frac{{x_{{{t}}} - {a:.4f}\,\epsilon_\theta}}{{{b:.4f}}}\Big) \end{{aligned}}",
        rf"\begin{{aligned}} \tilde\mu_{{{t}}} &= \frac{{\sqrt{{\bar\alpha_{{{t - 1}}}}}\,\beta_{{{t}}}}}"
        rf"{{1-\bar\alpha_{{{t}}}}}\,\hat x_0"
        rf" + \frac{{\sqrt{{\alpha_{{{t}}}}}\,(1-\bar\alpha_{{{t - 1}}})}}{{1-\bar\alpha_{{{t}}}}}\,x_{{{t}}} \\"
        rf" &= {c1:.4f}\,\hat x_0 + {c2:.4f}\,x_{{{t}}} \end{{aligned}}",
        rf"x_{{{t - 1}}} = \tilde\mu_{{{t}}} + \sigma_{{{t}}} z = \tilde\mu_{{{t}}} + {sigma:.4f}\,z,"
        rf"\qquad z \sim \mathcal N(0, I)",
    ]


def pixel_equation(t: int, row: int, col: int, mean: float, sigma: float, z: float, x_prev: float) -> str:
    """The last line at one pixel, every number filled in."""
    return (rf"x_{{{t - 1}}}[{row},{col}] = {mean:.4f} + {sigma:.4f} \times ({z:.4f}) = {x_prev:.4f}")
