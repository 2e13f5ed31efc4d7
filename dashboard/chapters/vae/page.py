"""Latent-variable models and the VAE: the ELBO and its gap.

Sections: a toy model z ~ N(0, 1), x | z ~ N(f(z), σ²I) where log p(x) and p(z|x) are computed
exactly, so the gap log p(x) − ELBO = KL(q(z|x) ‖ p(z|x)) is a number on screen, with "optimise
q" and importance-weighted bounds; a VAE trained live on 2D data with the exact gap during
training and β; the shipped MNIST VAEs and autoencoder (latent map, samples, interpolation, "is
an autoencoder generative?", ELBO vs IWAE on held-out digits).
"""

import hashlib
import math

import numpy as np
import streamlit as st

from dashboard.chapters.vae import plots
from dashboard.chapters.vae.claims import CLAIMS
from dashboard.shared import claims, drawn, links
from dashboard.shared import live_training as live
from dashboard.shared.charts import chart
from dashboard.shared.i18n import current_language, labeler, t, texts
from dashboard.shared.images import tile
from dashboard.shared.links import LINK
from dashboard.shared.mnist import heldout
from dashboard.shared.models import pretrained
from dashboard.shared.plotting import format_value, surface_with_path
from dashboard.shared.points_upload import DRAWN
from dashboard.shared.sections import part, section
from engine import toy2d
from engine.distributions import Normal
from engine.vae import VAEConfig, latent
from engine.vae.exact import PRESETS, ToyLVM
from engine.vae.live import VAETrainer
from engine.vae.mnist import TABLE_SAMPLES, iwae_table

TOY = ToyLVM()
Z_GRID = np.linspace(-3.5, 3.5, 701)
IWAE_KS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
IWAE_REPEATS = 100  # L_K draws per K: the error bars are their standard error
SERIES = ("curve", "sigma", "x", "density", "posterior", "q", "nats", "spread", "iwae", "log_px", "elbo",
          "reconstruction", "kl_prior", "gap", "mu", "log_s", "surface", "path", "end", "data", "reconstructions",
          "samples", "noisy_samples", "prior", "codes", "step", "batch_elbo", "batch_reconstruction", "batch_kl",
          "eval_log_px", "eval_elbo", "eval_gap")  # labels: vae.series.*


def series_labels(lang: str) -> dict:
    return texts(lang, "vae.series", SERIES)


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
            "q": Normal(mu, s).pdf(Z_GRID)}


@st.cache_data(max_entries=16, show_spinner=False)
def toy_surface(x: tuple):
    mus, log_ss = np.linspace(-3.0, 3.0, 81), np.linspace(-3.0, 1.0, 61)
    surface = TOY.elbo_surface(x, mus, log_ss)
    best = TOY.log_marginal(x)
    return mus, log_ss, np.maximum(surface, best - 12.0)  # clip: spend the contours near the top


@st.cache_data(max_entries=32, show_spinner=False)
def toy_iwae(x: tuple, mu: float, log_s: float):
    return TOY.iwae_bounds(x, mu, math.exp(log_s), ks=IWAE_KS, repeats=IWAE_REPEATS, rng=0)


@section
def toy_section() -> None:
    links.header("vae.toy")
    st.markdown(t("vae.toy.intro"))
    st.latex(t("vae.toy.model"))
    st.session_state.setdefault("vae_x1", PRESETS["bimodal"][0])
    st.session_state.setdefault("vae_x2", PRESETS["bimodal"][1])
    st.session_state.setdefault("vae_mu", 0.5)
    st.session_state.setdefault("vae_log_s", -0.5)
    st.pills(t("vae.toy.preset"), list(PRESETS), format_func=labeler("vae.toy.presets"), bind=LINK, key="vae_preset",
             on_change=use_preset)
    controls, data_col, latent_col = st.columns([1, 1.3, 1.3])
    with controls:
        x = (st.slider("x₁", -2.5, 2.5, step=0.05,
                       bind=LINK, key="vae_x1"), st.slider("x₂", -1.0, 5.0, step=0.05, bind=LINK, key="vae_x2"))
        mu = st.slider(t("vae.toy.mu"), -3.0, 3.0, step=0.01, bind=LINK, key="vae_mu")
        log_s = st.slider(t("vae.toy.log_s"), -3.0, 1.0, step=0.01, bind=LINK, key="vae_log_s")
        st.button(t("vae.toy.optimise"), icon=":material/trending_up:", on_click=optimise_q, type="primary",
                  help=t("vae.toy.optimise_help"), key="vae_optimise")
    numbers = toy_numbers(x, mu, log_s)
    labels = series_labels(current_language())
    z_curve = np.linspace(-2.3, 2.3, 200)
    with data_col:
        chart(plots.data_space_figure((z_curve, TOY.f(z_curve)), np.array(x), TOY.sigma, labels=labels),
                        key="vae_data_space")
    with latent_col:
        chart(plots.posterior_figure(Z_GRID, numbers["posterior"], numbers["q"], labels=labels),
                        key="vae_posterior")
    elbo = numbers["elbo"]
    gap = numbers["log_px"] - elbo.elbo
    entries = [("log_px", numbers["log_px"]), ("elbo", elbo.elbo), ("gap", gap), ("kl_post", numbers["kl_post"]),
               ("reconstruction", elbo.reconstruction), ("kl_prior", elbo.kl_prior)]
    columns = [column for row in range(2) for column in st.columns(3)]  # six boxes of three rows: numbers fit
    for column, (key, value) in zip(columns, entries):
        column.metric(t(f"vae.metrics.{key}"), format_value(value, 3), help=t(f"vae.metrics.{key}_help"), border=True)
    st.caption(t("vae.metrics.identity", gap=gap, kl=numbers["kl_post"], diff=abs(gap - numbers["kl_post"])))
    left, right = st.columns(2)
    with left:
        st.latex(t("vae.toy.identity"))
        st.latex(t("vae.toy.elbo"))
        chart(plots.gap_bar_figure(numbers["log_px"], elbo.elbo, elbo.reconstruction, elbo.kl_prior,
                                             labels=labels), key="vae_gap_bar")
    with right:
        mus, log_ss, surface = toy_surface(x)
        stored = st.session_state.get("vae_path")
        path = stored[1] if stored and stored[0] == x else np.array([[mu, log_s]])
        chart(surface_with_path(mus, log_ss, surface, path, x_title=labels["mu"], y_title=labels["log_s"],
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
        chart(plots.iwae_figure(bounds.ks, bounds.mean, bounds.stderr, bounds.std, bounds.elbo,
                                          bounds.log_marginal, labels=labels), key="vae_iwae")


LIVE_BETAS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
# Three charts of hundreds of points per tick keep a browser on a shared 2-core machine busy (~6-10
# frames/s); ticks every 0.6 s instead of 0.35 leave it time to answer a click (Pause took ~0.9 s).
LIVE_INTERVAL_S = 0.6
LIVE_LRS = (3e-4, 1e-3, 2e-3, 5e-3, 1e-2, 3e-2, 0.1, 1.0, 10.0)
LIVE_DATA = ("moons", "ring", "spiral", "eight_gaussians", "gaussian")
LIVE_FILE_KEYS = ("vae_live_data", "vae_live_latent", "vae_live_beta", "vae_live_lr")  # what a model file restores


@st.cache_data(max_entries=8, show_spinner=False)
def live_data(name: str):
    return toy2d.sample(name, 512, 0)


@section
def live_section() -> None:
    links.header("vae.live")
    st.markdown(t("vae.live.intro"))
    a, b, c, d = st.columns(4)
    mine = drawn.get(st.session_state)  # points drawn (or uploaded) on the compare page
    toy_label = labeler("controls.toy2d")
    name = a.selectbox(t("vae.live.data"), LIVE_DATA + ((DRAWN,) if mine is not None else ()), bind=LINK,
                       format_func=lambda n: t("points.drawn") if n == DRAWN else toy_label(n), key="vae_live_data")
    latent_dim = b.segmented_control(t("vae.live.latent"), (1, 2), default=1, bind=LINK, key="vae_live_latent",
                                     help=t("vae.live.latent_help")) or 1
    beta = c.select_slider("β", LIVE_BETAS, value=1.0, bind=LINK, key="vae_live_beta", help=t("vae.live.beta_help"))
    lr = d.select_slider(t("vae.live.lr"), LIVE_LRS, value=2e-3, bind=LINK, key="vae_live_lr")
    if name == DRAWN and mine is not None:
        data, identity = mine, (DRAWN, hashlib.sha1(mine.tobytes()).hexdigest(), latent_dim)
    else:
        data, identity = live_data(name if name != DRAWN else LIVE_DATA[0]), (name, latent_dim)
    # the data or the latent size start a new run; beta and lr change live
    config = VAEConfig(latent_dim=latent_dim, beta=beta, lr=lr)  # exact log p(x) every 25 steps, 128 points
    live.trainer_for("vae", identity, lambda: VAETrainer(config, data), speed="fast", interval_s=LIVE_INTERVAL_S,
                     live=lambda tr: (tr.set_beta(beta), tr.set_lr(lr)))
    st.latex(t("vae.live.objective"))
    colour = np.arctan2(data[:, 1], data[:, 0])  # colour by angle: neighbourhoods stay visible in latent space
    labels = series_labels(current_language())

    def draw(trainer) -> None:
        snap = trainer.snapshot()
        chart(plots.vae_panels_figure(snap, colour, labels=labels), key="vae_live_panels")
        left, right = st.columns(2)
        with left:
            chart(plots.latent_figure(snap.latents, colour, labels=labels), key="vae_live_latent_plot")
        with right:
            if trainer.history:
                curves = live.held("vae", "curves", (trainer, snap.step, trainer.history[-1], current_language()),
                                   lambda: plots.training_curves_figure(snap.history, labels=labels))
                chart(curves, key="vae_live_curves")
        if trainer.history:  # every number on the same fixed evaluation points, at the current parameters
            st.caption(t("vae.live.numbers", n=snap.eval_points, step=snap.step, elbo=snap.elbo,
                         reconstruction=snap.reconstruction, kl=snap.kl, gap=snap.gap, log_px=snap.log_px,
                         samples=VAETrainer.ELBO_SAMPLES))
            if snap.collapsed:
                st.info(t("vae.live.collapse", beta=trainer.beta, kl=snap.kl, spread=snap.reconstruction_spread),
                        icon=":material/info:")

    live.run("vae", draw, step_sizes=(10, 100), files=LIVE_FILE_KEYS)


@part
def decoded_at(model) -> None:
    """The digit the 2D VAE decodes at (z1, z2): a fragment inside the MNIST section, so the two sliders
    rerun one decoder call and one image, not the section's grids and reconstructions."""
    z1 = st.slider("z₁", -3.0, 3.0, 0.0, 0.1, bind=LINK, key="vae_z1")
    z2 = st.slider("z₂", -3.0, 3.0, 0.0, 0.1, bind=LINK, key="vae_z2")
    st.image(tile(latent.decode(model, [[z1, z2]]), 1), width=140, clamp=True,
             caption=t("vae.mnist.decoded", z1=z1, z2=z2))


@st.cache_data(max_entries=4, show_spinner=False)
def latent_views(_models: tuple, names: tuple, n_codes: int = 1000):
    """Codes of held-out digits for each model and decoded images (cached per set of models)."""
    digits = heldout()
    out = {}
    for name, (model, _) in zip(names, _models):
        out[name] = {"samples": latent.sample(model, 64, seed=0)}
        if model.config.latent_dim == 2:
            out[name]["grid"] = latent.decode(model, latent.grid(3.0, 15))
        if digits is not None:
            out[name]["codes"] = latent.encode(model, digits.images[:n_codes])
    return out


@st.cache_data(max_entries=2, show_spinner=False)
def mnist_bounds(_vae, first: int, count: int):
    return iwae_table(_vae, heldout().images[first:first + count], seed=0)


@section
def mnist_section() -> None:
    links.header("vae.mnist")
    st.markdown(t("vae.mnist.intro"))
    loaded = {name: pretrained(name) for name in ("vae2d", "vae", "ae")}
    if any(v is None for v in loaded.values()):
        return
    digits = heldout()
    if digits is None:
        st.warning(t("vae.mnist.no_data"), icon=":material/dataset:")
    names = tuple(loaded)
    views = latent_views(tuple(loaded.values()), names)
    labels = series_labels(current_language())
    map_tab, samples_tab, ae_tab, bound_tab = st.tabs(
        [t("vae.mnist.tab_map"), t("vae.mnist.tab_samples"), t("vae.mnist.tab_ae"), t("vae.mnist.tab_bounds")])
    with map_tab:
        left, right = st.columns(2)
        with left:
            st.image(tile(views["vae2d"]["grid"], 15), caption=t("vae.mnist.grid_caption"), clamp=True,
                     width="stretch")
        with right:
            if digits is not None:
                codes = views["vae2d"]["codes"]
                chart(plots.codes_figure(codes, digits.labels[:len(codes)], labels=labels), key="vae_codes")
            decoded_at(loaded["vae2d"][0])
    with samples_tab:
        model = loaded["vae"][0]
        if digits is not None:
            originals = digits.images[:10] / 255.0
            recon = latent.decode(model, latent.encode(model, digits.images[:10]))
            st.image(tile(np.concatenate([originals, recon]), 10), caption=t("vae.mnist.recon_caption"), clamp=True,
                     width="stretch")
            a, b = st.columns(2)
            first = a.number_input(t("vae.mnist.digit_a"), 0, len(digits.images) - 1, 3, bind=LINK, key="vae_interp_a")
            second = b.number_input(t("vae.mnist.digit_b"), 0, len(digits.images) - 1, 2, bind=LINK, key="vae_interp_b")
            path = latent.interpolate(model, digits.images[first], digits.images[second], steps=10)
            st.image(tile(path, 10), caption=t("vae.mnist.interp_caption"), clamp=True, width="stretch")
        st.image(tile(views["vae"]["samples"][:32], 16), caption=t("vae.mnist.samples_caption"), clamp=True,
                 width="stretch")
    with ae_tab:
        st.markdown(t("vae.mnist.ae_intro"))
        left, right = st.columns(2)
        with left:
            st.image(tile(views["ae"]["samples"][:32], 8), caption=t("vae.mnist.ae_samples"), clamp=True,
                     width="stretch")
            st.image(tile(views["vae2d"]["samples"][:32], 8), caption=t("vae.mnist.vae_samples"), clamp=True,
                     width="stretch")
        with right:
            if digits is not None:
                chart(plots.codes_figure(views["ae"]["codes"], digits.labels[:len(views["ae"]["codes"])],
                                                   labels=labels), key="ae_codes")
            rows = []
            for name in ("ae", "vae2d", "vae"):
                m = loaded[name][1]["metrics"]
                rows.append({t("vae.mnist.model"): t(f"vae.mnist.models.{name}"),
                             t("vae.mnist.entropy"): f"{m['samples_class_entropy']:.3f}",
                             t("vae.mnist.confidence"): f"{m['samples_mean_confidence']:.3f}",
                             t("vae.mnist.frechet"): f"{m['samples_frechet']:.1f}"})
            st.dataframe(rows, hide_index=True)
            st.caption(t("vae.mnist.ae_caption"))
    with bound_tab:
        st.latex(t("vae.mnist.bound_equation"))
        card = loaded["vae"][1]
        m, iwae = card["metrics"], card["evaluation"]["iwae"]
        st.markdown(t("vae.mnist.card_numbers", neg_elbo=m["heldout_neg_elbo"], n=iwae["n"], k=iwae["k"],
                      elbo=m["heldout_elbo_same_digits"], iwae=m["heldout_iwae_loglik"],
                      se=m["heldout_iwae_loglik_se"], gap=m["heldout_iwae_loglik"] - m["heldout_elbo_same_digits"]))
        if digits is not None:
            with st.spinner(t("vae.mnist.computing", samples=TABLE_SAMPLES)):
                bounds = mnist_bounds(loaded["vae"][0], 0, 8)
            st.image(tile(digits.images[:8] / 255.0, 8), clamp=True, width="stretch")
            table = {t("vae.mnist.digit"): list(range(8))}
            for j, k in enumerate(bounds.ks):
                table[f"L_{k}"] = [f"{m:.2f} ± {e:.2f}" for m, e in zip(bounds.mean[:, j], bounds.stderr[:, j])]
            st.dataframe(table, hide_index=True)
            st.caption(t("vae.mnist.bounds_caption", samples=TABLE_SAMPLES, k_max=bounds.ks[-1],
                         groups=bounds.groups[-1]))


st.title(t("vae.title"), anchor=False)
st.markdown(t("vae.intro"))
claims.lecture("vae", CLAIMS)
toy_section()
live_section()
mnist_section()
