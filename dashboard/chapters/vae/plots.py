"""Figures for the VAE page. Inputs are arrays from ``engine.vae.exact`` / ``engine.vae`` and
labels already translated by the page; nothing here computes an ELBO."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.shared.plotting import CLASS_COLORS, COLORS, base_figure, log_ticks, rgba


def data_space_figure(curve, x, sigma: float, *, labels: dict, height: int = 340) -> go.Figure:
    """The decoder's curve f(z) coloured by z, and the chosen observation x with a ±σ circle."""
    z, points = curve  # (n,), (n, 2)
    angle = np.linspace(0, 2 * np.pi, 60)
    fig = base_figure(height, x_title="x₁", y_title="x₂", hovermode="closest",
                      yaxis=dict(scaleanchor="x", scaleratio=1))
    fig.add_traces([
        dict(type="scatter", x=points[:, 0], y=points[:, 1], mode="markers", name=labels["curve"],
             marker=dict(color=z, colorscale="RdBu", size=5, colorbar=dict(title=dict(text="z"), thickness=10))),
        dict(type="scatter", x=x[0] + sigma * np.cos(angle), y=x[1] + sigma * np.sin(angle), mode="lines",
             name=labels["sigma"], line=dict(color=COLORS["muted"], dash="dot")),
        dict(type="scatter", x=[x[0]], y=[x[1]], mode="markers", name=labels["x"],
             marker=dict(color=COLORS["q"], size=14, symbol="x")),
    ])
    return fig


def posterior_figure(z, posterior, q, *, labels: dict, height: int = 340) -> go.Figure:
    """The true posterior p(z|x) against the Gaussian q(z|x): their mismatch is the ELBO gap."""
    fig = base_figure(height, x_title="z", y_title=labels["density"])
    fig.add_traces([
        dict(type="scatter", x=z, y=posterior, name=labels["posterior"], mode="lines",
             line=dict(color=COLORS["p"], width=2.5), fill="tozeroy", fillcolor=rgba(COLORS["p"], 0.15)),
        dict(type="scatter", x=z, y=q, name=labels["q"], mode="lines", line=dict(color=COLORS["q"], width=2.5,
                                                                                 dash="dash")),
    ])
    return fig


def iwae_figure(ks, mean, stderr, std, elbo: float, log_px: float, *, labels: dict, height: int = 320):
    """L_K against K (log axis) with its spread over repeats, between the ELBO and log p(x)."""
    fig = base_figure(height, x_title="K", y_title=labels["nats"], xaxis=dict(type="log", **log_ticks(ks)),
                      hovermode="closest",
                      shapes=[dict(type="line", xref="x domain", x0=0, x1=1, y0=v, y1=v, line=dict(color=c, dash=d))
                              for v, c, d in ((log_px, COLORS["p"], "dash"), (elbo, COLORS["q"], "dot"))])
    fig.add_traces([
        dict(type="scatter", x=np.r_[ks, ks[::-1]], y=np.r_[mean + std, (mean - std)[::-1]], fill="toself",
             fillcolor=rgba(COLORS["accent"], 0.15), line=dict(width=0), name=labels["spread"], hoverinfo="skip"),
        dict(type="scatter", x=ks, y=mean, mode="lines+markers", name=labels["iwae"],
             line=dict(color=COLORS["accent"], width=2.5), error_y=dict(type="data", array=stderr, visible=True)),
        dict(type="scatter", x=[ks[0], ks[-1]], y=[log_px, log_px], mode="lines", name=labels["log_px"],
             line=dict(color=COLORS["p"], dash="dash"), hoverinfo="skip"),
        dict(type="scatter", x=[ks[0], ks[-1]], y=[elbo, elbo], mode="lines", name=labels["elbo"],
             line=dict(color=COLORS["q"], dash="dot"), hoverinfo="skip"),
    ])
    return fig


def gap_bar_figure(log_px: float, elbo: float, reconstruction: float, kl_prior: float, *, labels: dict,
                   height: int = 300) -> go.Figure:
    """log p(x) split into ELBO + gap, and the ELBO split into reconstruction − KL(q‖prior)."""
    fig = base_figure(height, y_title=labels["nats"], showlegend=False, hovermode="closest")
    fig.add_traces([dict(
        type="waterfall", x=[labels["reconstruction"], labels["kl_prior"], labels["elbo"], labels["gap"],
                             labels["log_px"]],
        measure=["absolute", "relative", "total", "relative", "total"],
        y=[reconstruction, -kl_prior, elbo, log_px - elbo, log_px],
        text=[f"{reconstruction:.3f}", f"−{kl_prior:.3f}", f"{elbo:.3f}", f"+{log_px - elbo:.3f}", f"{log_px:.3f}"],
        textposition="outside", connector=dict(line=dict(color=COLORS["muted"], dash="dot")),
        increasing=dict(marker=dict(color=COLORS["bad"])), decreasing=dict(marker=dict(color=COLORS["q"])),
        totals=dict(marker=dict(color=COLORS["p"])),
    )])
    return fig


def _scatter(points, name: str, color: str, axis: str = "", size: int = 4, **extra) -> dict:
    marker = {"color": color, "size": size, "opacity": 0.6, **extra.pop("marker", {})}
    return dict(type="scatter", x=points[:, 0], y=points[:, 1], mode="markers", name=name, xaxis=f"x{axis}",
                yaxis=f"y{axis}", marker=marker, **extra)


LIVE_POINTS = 256  # markers per cloud in the live figures: each is an SVG element the browser restyles per frame


def _every(points, most: int = LIVE_POINTS):
    """Every k-th row so at most ``most`` remain (the same rows for points and their colours)."""
    return points[:: max(1, -(-len(points) // most))]


def vae_panels_figure(snap, colour, *, labels: dict, height: int = 330) -> go.Figure:
    """Three panels on the same axes: the data, their reconstructions, and samples from the prior
    (each cloud thinned to ``LIVE_POINTS``: 2,000 restyled markers per frame held the browser to ~2 frames/s)."""
    from dashboard.shared.plotting import subplot_grid

    layout = subplot_grid(1, 3, titles=[labels["data"], labels["reconstructions"], labels["samples"]])
    for k in ("", "2", "3"):
        layout[f"yaxis{k}"].update(scaleanchor=f"x{k}", scaleratio=1)
    layout.update(height=height, margin=dict(l=10, r=10, t=30, b=10), showlegend=False, hovermode="closest")
    colour = _every(colour)
    traces = [
        _scatter(_every(snap.data), labels["data"], COLORS["p"], marker=dict(color=colour, colorscale="Turbo")),
        _scatter(_every(snap.reconstructions), labels["reconstructions"], COLORS["q"], "2",
                 marker=dict(color=colour, colorscale="Turbo")),
        _scatter(_every(snap.noisy_samples), labels["noisy_samples"], COLORS["muted"], "3", size=3),
        _scatter(_every(snap.samples), labels["samples"], COLORS["q"], "3", size=4),
    ]
    return go.Figure(data=traces, layout=layout)


def latent_figure(latents, colour, *, labels: dict, height: int = 330) -> go.Figure:
    """Encoder means of the data in latent space (coloured as in data space) against the prior,
    thinned to ``LIVE_POINTS``."""
    latents, colour = _every(latents), _every(colour)
    if latents.shape[1] == 1:  # a 1D code: spread the points vertically only so they can be seen
        jitter = np.random.default_rng(0).uniform(-0.4, 0.4, len(latents))
        points = np.column_stack([latents[:, 0], jitter])
        fig = base_figure(height, x_title="z", hovermode="closest", yaxis=dict(showticklabels=False, range=[-1, 1]))
        grid = np.linspace(-4, 4, 200)
        fig.add_traces([dict(type="scatter", x=grid, y=0.9 * np.exp(-0.5 * grid**2) - 0.5, mode="lines",
                             name=labels["prior"], line=dict(color=COLORS["muted"], dash="dot"))])
    else:
        points = latents
        angle = np.linspace(0, 2 * np.pi, 100)
        fig = base_figure(height, x_title="z₁", y_title="z₂", hovermode="closest",
                          yaxis=dict(scaleanchor="x", scaleratio=1))
        fig.add_traces([dict(type="scatter", x=2 * np.cos(angle), y=2 * np.sin(angle), mode="lines",
                             name=labels["prior"], line=dict(color=COLORS["muted"], dash="dot"))])
    fig.add_traces([dict(type="scatter", x=points[:, 0], y=points[:, 1], mode="markers", name=labels["codes"],
                         marker=dict(color=colour, colorscale="Turbo", size=4, opacity=0.7))])
    return fig


def training_curves_figure(history, *, labels: dict, height: int = 330) -> go.Figure:
    """Per step: the one-sample ELBO, reconstruction and KL on that step's training batch (thin lines);
    where evaluated, on the fixed evaluation points: log p(x), the ELBO and the gap (markers)."""
    fig = base_figure(height, x_title=labels["step"], y_title=labels["nats"], hovermode="x unified")
    steps, exact = history["step"], history["exact_steps"]
    fig.add_traces([
        dict(type="scatter", x=steps, y=history["reconstruction"], name=labels["batch_reconstruction"],
             mode="lines", line=dict(color=COLORS["muted"], width=1.5)),
        dict(type="scatter", x=steps, y=history["elbo"], name=labels["batch_elbo"], mode="lines",
             line=dict(color=COLORS["q"], width=1.5)),
        dict(type="scatter", x=steps, y=history["kl"], name=labels["batch_kl"], mode="lines",
             line=dict(color=COLORS["accent"], width=1.5)),
        dict(type="scatter", x=exact, y=history["log_px"], name=labels["eval_log_px"], mode="lines+markers",
             line=dict(color=COLORS["p"], width=2.5)),
        dict(type="scatter", x=exact, y=history["eval_elbo"], name=labels["eval_elbo"], mode="markers",
             marker=dict(color=COLORS["q"], size=6, symbol="diamond")),
        dict(type="scatter", x=exact, y=history["gap"], name=labels["eval_gap"], mode="lines+markers",
             line=dict(color=COLORS["bad"], width=2, dash="dot")),
    ])
    return fig


def codes_figure(codes, classes, *, labels: dict, height: int = 380) -> go.Figure:
    """2D codes of held-out digits coloured by their class, over the prior's 1σ and 2σ circles."""
    angle = np.linspace(0, 2 * np.pi, 100)
    fig = base_figure(height, x_title="z₁", y_title="z₂", hovermode="closest",
                      yaxis=dict(scaleanchor="x", scaleratio=1),
                      legend=dict(orientation="v", yanchor="top", y=1.0, xanchor="left", x=1.02))
    traces = [dict(type="scatter", x=r * np.cos(angle), y=r * np.sin(angle), mode="lines", showlegend=r == 1,
                   name=labels["prior"], line=dict(color=COLORS["muted"], dash="dot")) for r in (1, 2)]
    for digit in range(10):
        mask = classes == digit
        traces.append(dict(type="scatter", x=codes[mask, 0], y=codes[mask, 1], mode="markers", name=str(digit),
                           marker=dict(size=4, opacity=0.7, color=CLASS_COLORS[digit])))
    fig.add_traces(traces)
    return fig
