"""Diffusion page, section 1: the forward process q(x_t | x_0) and the noise schedules.

A t slider samples x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps in closed form
(``engine.diffusion.q_sample``) for a 2D point cloud and a held-out MNIST digit, with the same eps
for every t, so scrubbing t slides each point along an arc from its data point to its noise (the two
weights' squares sum to 1: x_t = cos(theta) x_0 + sin(theta) eps, not a straight line).
Beside them: how far q(x_t) still is from N(0, I) (per-dimension KL bounds against t), and
alpha_bar_t and log SNR(t) of the linear and cosine schedules. A warning, with the numbers and x_T
on screen, appears when the chosen schedule and T leave x_T visibly non-Gaussian (tiny-diffusion's
linear schedule with T = 50 keeps 78% of the signal).

Everything is cached on primitive keys (data set, schedule, T, seed, t, language), so a rerun of the
section costs the widgets and at most one cheap closed-form sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from dashboard.chapters.diffusion import forward_plots as plots
from dashboard.shared import links
from dashboard.shared.charts import chart
from dashboard.shared.i18n import current_language, labeler, t, texts
from dashboard.shared.images import tile
from dashboard.shared.links import LINK
from dashboard.shared.mnist import HeldOut, heldout
from dashboard.shared.sections import section
from engine import diffusion as dm
from engine import toy2d

KEY = "diffusion_forward_"  # widget-key prefix of this section
DATASETS = ("swiss_roll", "moons", "ring", "spiral")  # the sets the live section trains on
N_POINTS = 1500  # points in the cloud: enough to see the shape, cheap to redraw as SVG on every slider move
N_MOMENTS = 200_000  # points behind E[x0^2], mean and covariance: each moment is good to ~0.5%
DATA_SEED = 0  # the data points are fixed; the noise seed is the user's
T_MIN, T_MAX, T_DEFAULT = 10, 1000, 1000  # 1000 is Ho et al.'s T, where the linear schedule is defined
T_FRACTION_DEFAULT = 0.25  # the starting t: the swiss roll half dissolved (alpha_bar ~ 0.5 with linear, T = 1000)
ROW_FRACTIONS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)  # the digit's film strip, as fractions of T
# Warning criterion: x_T still holds more than 1% of x_0, i.e. sqrt(alpha_bar_T) > 0.01. Ho et al.'s
# setting (linear, T = 1000) leaves 0.64% and the cosine schedule 0.005%, so every published setting passes
# and anything that leaves more signal than the reference DDPM is flagged. Below 1% the prior mismatch
# KL(q(x_T) || N(0, I)) <= ~alpha_bar_T E[x0^2] / 2 is under 5e-5 nats per dimension (0.04 nats over a
# whole 784-pixel digit); tiny-diffusion's T = 50 without rescaling keeps 78% of the signal, 0.46 nats
# per dimension, and its samples show it.
SIGNAL_LEFT_MAX = 0.01
PRESETS = {  # name -> (schedule, T, rescale, t as a fraction of T)
    "ho": ("linear", 1000, True, T_FRACTION_DEFAULT),
    "cosine": ("cosine", 1000, True, T_FRACTION_DEFAULT),
    "tiny": ("linear", 50, False, 1.0),  # t = T: the failure is what x_T looks like
}
SERIES = ("prior", "x0", "xt", "t", "kl_axis", "upper_2d", "lower_2d", "upper_mnist", "alpha_bar", "log_snr", "u",
          "linear", "cosine", "chosen_suffix")  # labels: diffusion_forward.series.*


def series_labels(lang: str) -> dict:
    return texts(lang, "diffusion_forward.series", SERIES)


@st.cache_resource(max_entries=16, show_spinner=False)
def schedule(kind: str, steps: int, rescale: bool) -> dm.Schedule:
    """Read-only schedule shared by every session (``rescale`` only matters for linear)."""
    return dm.Schedule(dm.ScheduleConfig(kind, steps, rescale or kind != "linear"))


@st.cache_data(max_entries=16, show_spinner=False)
def cloud(name: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """x_0 (N_POINTS, 2) of the toy set and the noise eps (N_POINTS, 2) drawn with ``seed``."""
    noise = torch.randn((N_POINTS, 2), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return toy2d.sample(name, N_POINTS, DATA_SEED), noise.numpy()


@st.cache_data(max_entries=8, show_spinner=False)
def moments(name: str) -> dict:
    """E[x0^2] per dimension (averaged over both), mean (2,) and covariance (2, 2) of a toy set."""
    x = toy2d.sample(name, N_MOMENTS, DATA_SEED + 1)
    return {"second": float(np.mean(x**2)), "mean": x.mean(axis=0), "cov": np.cov(x, rowvar=False)}


def forward(sched: dm.Schedule, x0: np.ndarray, noise: np.ndarray, steps) -> np.ndarray:
    """q_sample at steps ``steps`` (one per row of x0) with the given noise; numpy in and out."""
    t_tensor = torch.as_tensor(np.broadcast_to(steps, (len(x0),)).copy(), dtype=torch.long)
    return dm.q_sample(sched, torch.as_tensor(x0), t_tensor, torch.as_tensor(noise)).numpy()


def mnist_digits() -> tuple[np.ndarray, np.ndarray, float] | None:
    """Held-out digits (N, 1, 28, 28) scaled to [-1, 1] as the U-Net sees them, labels (N,) and E[x0^2] per
    pixel; None without data (checked on every run, not cached, so data copied in while the server runs are found)."""
    data = heldout()
    return None if data is None else _mnist_digits(data)


@st.cache_resource(max_entries=1, show_spinner=False, hash_funcs={HeldOut: id})
def _mnist_digits(data: HeldOut) -> tuple[np.ndarray, np.ndarray, float]:
    from engine.diffusion.mnist import to_network

    images = to_network(torch.tensor(data.images)).double().numpy()  # a copy: the shared array is read-only
    return images, data.labels, float(np.mean(images**2))


@st.cache_data(max_entries=16, show_spinner=False)
def kl_curves(name: str, kind: str, steps: int, rescale: bool, mnist_second: float | None) -> dict:
    """Per-dimension KL curves (T + 1,) for the 2D set (upper and lower bound) and MNIST pixels (upper)."""
    alpha_bar, m = schedule(kind, steps, rescale).alpha_bar, moments(name)
    curves = {"upper_2d": dm.gaussian_kl_to_standard(alpha_bar, m["second"]),
              "lower_2d": dm.moment_matched_kl_to_standard(alpha_bar, m["mean"], m["cov"])}
    if mnist_second is not None:
        curves["upper_mnist"] = dm.gaussian_kl_to_standard(alpha_bar, mnist_second)
    return curves


@st.cache_resource(max_entries=8, show_spinner=False)
def schedule_view(steps: int, rescale: bool, kind: str, step: int, lang: str):
    arrays = {}
    for k in dm.SCHEDULES:
        s = schedule(k, steps, rescale)
        arrays[k] = (np.arange(steps + 1) / steps, s.alpha_bar, s.log_snr)
    return plots.schedule_figure(arrays, kind, step / steps, labels=series_labels(lang))


def apply_preset(name: str) -> None:
    """Callback of a preset button: set the controls (and t, as the preset's fraction of T)."""
    kind, steps, rescale, fraction = PRESETS[name]
    st.session_state.update({KEY + "schedule": kind, KEY + "T": steps, KEY + "rescale": rescale,
                             KEY + "t": round(fraction * steps), KEY + "last_T": steps})


def keep_t_fraction() -> None:
    """Callback of the T input: keep t at the same fraction of the chain when T changes."""
    new, old = st.session_state.get(KEY + "T"), st.session_state.get(KEY + "last_T", T_DEFAULT)
    if isinstance(new, int) and T_MIN <= new <= T_MAX and old:
        st.session_state[KEY + "t"] = round(st.session_state.get(KEY + "t", 0) * new / old)
        st.session_state[KEY + "last_T"] = new


@dataclass(frozen=True)
class Settings:
    """What the section's controls say: the schedule (``kind``, ``steps`` = T, ``rescale``), the 2D data
    set (``name``) and the noise seed. T is not validated here (a number widget can hold anything)."""

    kind: str
    steps: int
    rescale: bool
    name: str
    seed: int


def controls() -> Settings:
    """The presets and the schedule and data controls."""
    st.session_state.setdefault(KEY + "T", T_DEFAULT)  # defaults through the state, not ``value=``: the presets
    st.session_state.setdefault(KEY + "rescale", True)  # write the state, and Streamlit warns when both are set
    st.caption(t("diffusion_forward.presets.caption"))
    for column, name in zip(st.columns(len(PRESETS)), PRESETS):
        column.button(t(f"diffusion_forward.presets.{name}"), key=KEY + f"preset_{name}", on_click=apply_preset,
                      args=(name,), width="stretch", type="primary" if name == "tiny" else "secondary")
    kind_col, steps_col, rescale_col = st.columns([2, 1, 2], vertical_alignment="bottom")
    kind = kind_col.radio(t("diffusion_forward.controls.schedule"), dm.SCHEDULES, horizontal=True,
                          format_func=labeler("diffusion_forward.schedules"), bind=LINK, key=KEY + "schedule")
    steps = steps_col.number_input(t("diffusion_forward.controls.T", low=T_MIN, high=T_MAX), step=10,
                                   bind=LINK, key=KEY + "T", on_change=keep_t_fraction,
                                   help=t("diffusion_forward.controls.T_help", low=T_MIN, high=T_MAX))
    rescale = rescale_col.toggle(t("diffusion_forward.controls.rescale"), bind=LINK, key=KEY + "rescale",
                                 disabled=kind != "linear", help=t("diffusion_forward.controls.rescale_help"))
    data_col, seed_col = st.columns([2, 1])
    name = data_col.selectbox(t("diffusion_forward.controls.data"), DATASETS, bind=LINK, key=KEY + "data",
                              format_func=labeler("diffusion_forward.data"))
    seed = seed_col.number_input(t("diffusion_forward.controls.seed"), 0, 1_000_000, 0, bind=LINK, key=KEY + "seed")
    return Settings(kind, steps, bool(rescale), name, int(seed))


def step_slider(steps: int) -> int:
    key = KEY + "t"
    if key not in st.session_state:
        st.session_state[key] = round(T_FRACTION_DEFAULT * steps)
    if not 0 <= st.session_state[key] <= steps:  # a stale t from a longer chain
        st.session_state[key] = min(max(int(st.session_state[key]), 0), steps)
    st.session_state.setdefault(KEY + "last_T", steps)
    return st.slider(t("diffusion_forward.controls.t", T=steps), 0, steps, bind=LINK, key=key)


def percent(fraction: float) -> str:
    """3 significant digits, so the cosine schedule's 0.0049% at t = T does not print as 0.00%."""
    return f"{100 * fraction:.3g}%"


def step_metrics(sched: dm.Schedule, step: int, kl_2d: float) -> None:
    a = float(sched.alpha_bar[step])
    entries = (("alpha_bar", f"{a:.4g}"), ("signal", percent(math.sqrt(a))), ("noise", f"{math.sqrt(1 - a):.4f}"),
               ("kl", "∞" if math.isinf(kl_2d) else f"{kl_2d:.3g}"))
    columns = [column for _ in range(2) for column in st.columns(2)]  # 2 x 2: labels fit at 150% zoom
    for column, (key, shown) in zip(columns, entries):
        column.metric(t(f"diffusion_forward.metrics.{key}"), shown,
                      help=t(f"diffusion_forward.metrics.{key}_help"), border=True)


def show_digits(images: np.ndarray, cols: int, caption: str) -> None:
    """Network-scale images (N, 1, 28, 28) as one PNG; pixels outside [-1, 1] are clipped for display."""
    st.image(tile(np.clip((images + 1.0) / 2.0, 0.0, 1.0), cols), clamp=True, width="stretch", output_format="PNG",
             caption=caption)


def digit_part(sched: dm.Schedule, step: int, seed: int) -> None:
    digits = mnist_digits()
    if digits is None:
        st.warning(t("diffusion_forward.mnist.missing"), icon=":material/dataset:")
        return
    images, labels, _ = digits
    index = int(st.number_input(t("diffusion_forward.mnist.index", n=len(images) - 1), 0, len(images) - 1, 0,
                                bind=LINK, key=KEY + "digit"))
    x0 = images[index:index + 1]
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).numpy()
    show_digits(np.concatenate([x0, forward(sched, x0, noise, step)]), 2,
                t("diffusion_forward.mnist.pair_caption", label=int(labels[index]), t=step))
    row = sorted({round(f * sched.T) for f in ROW_FRACTIONS})
    strip = forward(sched, np.repeat(x0, len(row), axis=0), np.repeat(noise, len(row), axis=0), np.array(row))
    show_digits(strip, len(row), t("diffusion_forward.mnist.row_caption", steps=", ".join(map(str, row))))


def far_from_gaussian(sched: dm.Schedule, name: str, seed: int, mnist_second: float | None, step: int,
                      lang: str) -> None:
    """The warning with its numbers, and x_T drawn so that the leftover shape is visible (unless the
    slider is at T already: then the main plot below is that picture)."""
    a_T = float(sched.alpha_bar[-1])
    kl_2d = dm.gaussian_kl_to_standard(a_T, moments(name)["second"])
    reference = math.sqrt(schedule(*PRESETS["ho"][:3]).alpha_bar[-1])  # what Ho et al.'s setting leaves
    text = t("diffusion_forward.warning.body", T=sched.T, alpha_bar=a_T, signal=math.sqrt(a_T), limit=SIGNAL_LEFT_MAX,
             kl=kl_2d, reference=reference)
    if mnist_second is not None:
        kl_mnist = dm.gaussian_kl_to_standard(a_T, mnist_second)
        text += " " + t("diffusion_forward.warning.mnist", kl=kl_mnist, total=784 * kl_mnist)
    st.warning(text, icon=":material/warning:")
    if step == sched.T:
        st.markdown(t("diffusion_forward.warning.why"))
        return
    left, right = st.columns([3, 2], vertical_alignment="center")
    x0, noise = cloud(name, seed)
    chart(plots.cloud_figure(x0, forward(sched, x0, noise, sched.T), labels=series_labels(lang),
                                         height=320), key=KEY + "final_cloud", container=left)
    left.caption(t("diffusion_forward.warning.cloud_caption", T=sched.T))
    right.markdown(t("diffusion_forward.warning.why"))


@section
def section() -> None:
    links.header("diffusion_forward")
    st.markdown(t("diffusion_forward.intro"))
    for equation in ("step", "marginal", "reparam"):
        st.latex(t(f"diffusion_forward.equations.{equation}"))
    chosen = controls()
    kind, steps, rescale, name, seed = chosen.kind, chosen.steps, chosen.rescale, chosen.name, chosen.seed
    if not isinstance(steps, int) or not T_MIN <= steps <= T_MAX:
        st.error(t("diffusion_forward.bad_T", low=T_MIN, high=T_MAX, value=steps), icon=":material/error:")
        return
    lang = current_language()
    labels = series_labels(lang)
    sched = schedule(kind, steps, rescale)
    digits = mnist_digits()
    mnist_second = digits[2] if digits is not None else None
    step = step_slider(steps)
    if math.sqrt(sched.alpha_bar[-1]) > SIGNAL_LEFT_MAX:
        far_from_gaussian(sched, name, seed, mnist_second, step, lang)
    curves = kl_curves(name, kind, steps, rescale, mnist_second)
    step_metrics(sched, step, float(curves["upper_2d"][step]))
    cloud_col, digit_col = st.columns([3, 2])
    with cloud_col:
        x0, noise = cloud(name, seed)
        chart(plots.cloud_figure(x0, forward(sched, x0, noise, step), labels=labels), key=KEY + "cloud")
        st.caption(t("diffusion_forward.cloud_caption", n=N_POINTS, t=step, seed=seed))
    with digit_col:
        digit_part(sched, step, seed)

    st.subheader(t("diffusion_forward.kl.title"), anchor=False)
    st.markdown(t("diffusion_forward.kl.body"))
    for equation in ("upper", "lower"):
        st.latex(t(f"diffusion_forward.kl.{equation}"))
    chart(plots.kl_figure(np.arange(steps + 1), curves, step, labels=labels), key=KEY + "kl")
    caption = t("diffusion_forward.kl.caption", second=moments(name)["second"], n=N_MOMENTS)
    if digits is not None:
        caption += " " + t("diffusion_forward.kl.caption_mnist", second=mnist_second, count=len(digits[0]))
    st.caption(caption)

    st.subheader(t("diffusion_forward.schedule_plot.title"), anchor=False)
    for equation in ("linear", "cosine", "log_snr"):
        st.latex(t(f"diffusion_forward.schedule_plot.{equation}"))
    chart(schedule_view(steps, rescale, kind, step, lang), key=KEY + "schedules")
    st.caption(t("diffusion_forward.schedule_plot.caption", T=steps,
                 linear=percent(math.sqrt(schedule("linear", steps, rescale).alpha_bar[-1])),
                 cosine=percent(math.sqrt(schedule("cosine", steps, rescale).alpha_bar[-1]))))
