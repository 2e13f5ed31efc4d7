"""Latent-variable models and the VAE: the ELBO and its gap, exactly on a toy model.

Sections: a toy model z ~ N(0, 1), x | z ~ N(f(z), σ²I) where log p(x) and p(z|x) are computed
exactly, so the gap log p(x) − ELBO = KL(q(z|x) ‖ p(z|x)) is a number on screen; optimising q;
importance-weighted bounds approaching log p(x).
"""

import math

import numpy as np
import streamlit as st

from dashboard.ui import live_training as live
from dashboard.ui import vae_plots as plots
from dashboard.ui.i18n import current_language, labeler, t, translate
from dashboard.ui.plotting import format_value, surface_with_path
from engine import toy2d
from engine.vae import VAEConfig, VAETrainer
from engine.vae_toy import PRESETS, ToyLVM

TOY = ToyLVM()
Z_GRID = np.linspace(-3.5, 3.5, 701)
IWAE_KS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
IWAE_REPEATS = 100  # L_K draws per K: the error bars are their standard error
SERIES = ("curve", "sigma", "x", "density", "posterior", "q", "nats", "spread", "iwae", "log_px", "elbo",
          "reconstruction", "kl_prior", "gap", "mu", "log_s", "surface", "path", "end", "data", "reconstructions",
          "samples", "noisy_samples", "prior", "codes", "step", "kl")  # labels: vae.series.*


def series_labels(lang: str) -> dict:
    return {key: translate(lang, f"vae.series.{key}") for key in SERIES}


def use_preset() -> None:
    """Callback of the preset pills: move the x sliders to the chosen observation."""
    name = st.session_state.get("vae_preset")
    if name in PRESETS:
        st.session_state["vae_x1"], st.session_state["vae_x2"] = PRESETS[name]


def optimise_q() -> None:
    """Callback of "Optimise q": gradient ascent on the ELBO from the current q; keep the path."""
    x = (st.session_state["vae_x1"], st.session_state["vae_x2"])
    fit = TOY.fit_q(x, init_mu=st.session_state["vae_mu"], init_log_s=st.session_state["vae_log_s"])
    st.session_state["vae_mu"] = float(np.clip(fit.mu, -3.0, 3.0))
    st.session_state["vae_log_s"] = float(np.clip(math.log(fit.s), -3.0, 1.0))
    st.session_state["vae_path"] = (x, fit.path)


@st.cache_data(max_entries=64, show_spinner=False)
def toy_numbers(x: tuple, mu: float, log_s: float):
    s = math.exp(log_s)
    elbo = TOY.elbo(x, mu, s)
    return {"log_px": TOY.log_marginal(x), "elbo": elbo, "kl_post": TOY.posterior_kl(x, mu, s),
            "posterior": TOY.posterior(x, Z_GRID),
            "q": np.exp(-0.5 * ((Z_GRID - mu) / s) ** 2) / (s * math.sqrt(2 * math.pi))}


@st.cache_data(max_entries=16, show_spinner=False)
def toy_surface(x: tuple):
    mus, log_ss = np.linspace(-3.0, 3.0, 81), np.linspace(-3.0, 1.0, 61)
    surface = TOY.elbo_surface(x, mus, log_ss)
    best = TOY.log_marginal(x)
    return mus, log_ss, np.maximum(surface, best - 12.0)  # clip: spend the contours near the top


@st.cache_data(max_entries=32, show_spinner=False)
def toy_iwae(x: tuple, mu: float, log_s: float):
    return TOY.iwae_bounds(x, mu, math.exp(log_s), ks=IWAE_KS, repeats=IWAE_REPEATS, rng=0)


def toy_section() -> None:
    st.header(t("vae.toy.title"), anchor=False)
    st.markdown(t("vae.toy.intro"))
    st.latex(t("vae.toy.model"))
    st.session_state.setdefault("vae_x1", PRESETS["bimodal"][0])
    st.session_state.setdefault("vae_x2", PRESETS["bimodal"][1])
    st.session_state.setdefault("vae_mu", 0.5)
    st.session_state.setdefault("vae_log_s", -0.5)
    st.pills(t("vae.toy.preset"), list(PRESETS), format_func=labeler("vae.toy.presets"), key="vae_preset",
             on_change=use_preset)
    controls, data_col, latent_col = st.columns([1, 1.3, 1.3])
    with controls:
        x = (st.slider("x₁", -2.5, 2.5, step=0.05, key="vae_x1"), st.slider("x₂", -1.0, 5.0, step=0.05, key="vae_x2"))
        mu = st.slider(t("vae.toy.mu"), -3.0, 3.0, step=0.01, key="vae_mu")
        log_s = st.slider(t("vae.toy.log_s"), -3.0, 1.0, step=0.01, key="vae_log_s")
        st.button(t("vae.toy.optimise"), icon=":material/trending_up:", on_click=optimise_q, type="primary",
                  help=t("vae.toy.optimise_help"))
    numbers = toy_numbers(x, mu, log_s)
    labels = series_labels(current_language())
    z_curve = np.linspace(-2.3, 2.3, 200)
    with data_col:
        st.plotly_chart(plots.data_space_figure((z_curve, TOY.f(z_curve)), np.array(x), TOY.sigma, labels=labels),
                        key="vae_data_space")
    with latent_col:
        st.plotly_chart(plots.posterior_figure(Z_GRID, numbers["posterior"], numbers["q"], labels=labels),
                        key="vae_posterior")
    elbo = numbers["elbo"]
    gap = numbers["log_px"] - elbo.elbo
    entries = [("log_px", numbers["log_px"]), ("elbo", elbo.elbo), ("gap", gap), ("kl_post", numbers["kl_post"]),
               ("reconstruction", elbo.reconstruction), ("kl_prior", elbo.kl_prior)]
    for column, (key, value) in zip(st.columns(6), entries):
        column.metric(t(f"vae.metrics.{key}"), format_value(value, 3), help=t(f"vae.metrics.{key}_help"), border=True)
    st.caption(t("vae.metrics.identity", gap=gap, kl=numbers["kl_post"], diff=abs(gap - numbers["kl_post"])))
    left, right = st.columns(2)
    with left:
        st.latex(t("vae.toy.identity"))
        st.latex(t("vae.toy.elbo"))
        st.plotly_chart(plots.gap_bar_figure(numbers["log_px"], elbo.elbo, elbo.reconstruction, elbo.kl_prior,
                                             labels=labels), key="vae_gap_bar")
    with right:
        mus, log_ss, surface = toy_surface(x)
        stored = st.session_state.get("vae_path")
        path = stored[1] if stored and stored[0] == x else np.array([[mu, log_s]])
        st.plotly_chart(surface_with_path(mus, log_ss, surface, path, x_title=labels["mu"], y_title=labels["log_s"],
                                          z_title=labels["surface"], path_name=labels["path"], end_name=labels["end"],
                                          colorscale="Viridis"), key="vae_surface")
        st.caption(t("vae.toy.surface_caption"))
    st.subheader(t("vae.iwae.title"), anchor=False)
    st.latex(t("vae.iwae.equation"))
    left, right = st.columns([1, 2])
    with left:
        st.markdown(t("vae.iwae.body"))
    with right:
        bounds = toy_iwae(x, mu, log_s)
        st.plotly_chart(plots.iwae_figure(bounds.ks, bounds.mean, bounds.stderr, bounds.std, bounds.elbo,
                                          bounds.log_marginal, labels=labels), key="vae_iwae")


LIVE_BETAS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
LIVE_LRS = (3e-4, 1e-3, 2e-3, 5e-3, 1e-2, 3e-2, 0.1, 1.0, 10.0)
LIVE_DATA = ("moons", "ring", "spiral", "eight_gaussians", "gaussian")


@st.cache_data(max_entries=8, show_spinner=False)
def live_data(name: str):
    return toy2d.sample(name, 512, 0)


def live_section() -> None:
    st.header(t("vae.live.title"), anchor=False)
    st.markdown(t("vae.live.intro"))
    a, b, c, d = st.columns(4)
    name = a.selectbox(t("vae.live.data"), LIVE_DATA, format_func=labeler("controls.toy2d"), key="vae_live_data")
    latent_dim = b.segmented_control(t("vae.live.latent"), (1, 2), default=1, key="vae_live_latent",
                                     help=t("vae.live.latent_help")) or 1
    beta = c.select_slider("β", LIVE_BETAS, value=1.0, key="vae_live_beta", help=t("vae.live.beta_help"))
    lr = d.select_slider(t("vae.live.lr"), LIVE_LRS, value=2e-3, key="vae_live_lr")
    data = live_data(name)
    identity = (name, latent_dim)  # data or latent size start a new run; beta and lr change live
    # 1D latents get the exact log p(x) every 25 steps; the 2D grid costs ~1 s, so less often there.
    config = VAEConfig(latent_dim=latent_dim, beta=beta, lr=lr, eval_every=25 if latent_dim == 1 else 200,
                       eval_points=256 if latent_dim == 1 else 96)
    trainer = live.trainer_for("vae", identity, lambda: VAETrainer(config, data))
    trainer.set_beta(beta)
    trainer.set_lr(lr)
    st.latex(t("vae.live.objective"))
    live.controls("vae", step_sizes=(10, 100))
    colour = np.arctan2(data[:, 1], data[:, 0])  # colour by angle: neighbourhoods stay visible in latent space
    labels = series_labels(current_language())

    def draw(trainer) -> None:
        snap = trainer.snapshot()
        st.plotly_chart(plots.vae_panels_figure(snap, colour, labels=labels), key="vae_live_panels")
        left, right = st.columns(2)
        with left:
            st.plotly_chart(plots.latent_figure(snap.latents, colour, labels=labels), key="vae_live_latent_plot")
        with right:
            if trainer.history:
                st.plotly_chart(plots.training_curves_figure(snap.history, labels=labels), key="vae_live_curves")
        if trainer.history:
            last = trainer.history[-1]
            st.caption(t("vae.live.numbers", elbo=last["elbo"], kl=last["kl"], log_px=snap.log_px, gap=snap.gap))
            if last["kl"] < 0.05 and trainer.beta >= 2.0 and trainer.step_count >= 300:
                st.info(t("vae.live.collapse", beta=trainer.beta), icon=":material/info:")

    live.run("vae", draw)


st.title(t("vae.title"), anchor=False)
st.markdown(t("vae.intro"))
toy_section()
live_section()
