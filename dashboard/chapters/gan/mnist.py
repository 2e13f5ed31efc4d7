"""GAN page, section 3: the shipped DCGAN on MNIST.

The training film (the fixed-noise grid, D(x) of real and generated digits, the classifier's
class histogram, at each saved step), latent interpolation, fresh samples on demand and the
model card. A missing checkpoint is an error box (``dashboard.shared.models.pretrained``) and the
section stops there; a missing or altered film file hides only the film.
"""

from __future__ import annotations

import math

import numpy as np
import streamlit as st
import torch

from dashboard.chapters.gan import mnist_plots as plots
from dashboard.shared import links
from dashboard.shared.charts import chart
from dashboard.shared.i18n import current_language, labeler, t, texts
from dashboard.shared.images import tile
from dashboard.shared.links import LINK
from dashboard.shared.mnist import class_figure, data_text
from dashboard.shared.models import pretrained
from dashboard.shared.sections import section
from engine import checkpoints
from engine.checkpoints import CheckpointError
from engine.gan import mnist as gan_mnist
from engine.gan.dcgan import INTERPOLATION_MODES
from engine.mnist.metrics import class_entropy

SERIES = ("real", "generated", "uniform", "percent", "d_value", "digit", "step", "loss", "loss_d", "loss_g",
          "equilibrium")  # labels: gan_mnist.series.*
N_FRESH = 32  # digits per "fresh samples" press
INTERP_STEPS = 10


def series_labels(lang: str) -> dict:
    return texts(lang, "gan_mnist.series", SERIES)


@st.cache_resource(show_spinner=False)
def _film(folder: str, file: str, sha256: str, rebuild: str) -> dict:
    """The film's arrays, hash-checked once per server (read-only: shared by every session)."""
    return gan_mnist.load_film({"film": {"file": file, "sha256": sha256}, "rebuild": rebuild}, folder)


def film_or_error(card: dict) -> dict | None:
    film = card.get("film") or {}
    try:
        return _film(str(checkpoints.ASSETS_DIR), str(film.get("file")), str(film.get("sha256")), card["rebuild"])
    except CheckpointError as error:
        st.error(t("common.models.checkpoint_error", name="dcgan", problem=error.problem, rebuild=error.rebuild),
                 icon=":material/error:")
        return None


@st.cache_data(max_entries=64, show_spinner=False)
def fresh_samples(_model, sha256: str, seed: int, n: int = N_FRESH) -> np.ndarray:
    """n generated digits (n, 28, 28) in [0, 1] from z drawn with ``seed`` (sha256 keys the weights)."""
    with torch.no_grad():
        return _model.sample(n, torch.Generator().manual_seed(seed)).reshape(n, 28, 28).cpu().numpy()


@st.cache_data(max_entries=64, show_spinner=False)
def interpolation(_model, sha256: str, seed_a: int, seed_b: int, mode: str) -> np.ndarray:
    """Images (INTERP_STEPS, 28, 28) from the latent of ``seed_a`` to that of ``seed_b``."""
    z0, z1 = (_model.latent(1, torch.Generator().manual_seed(s))[0] for s in (seed_a, seed_b))
    with torch.no_grad():
        return _model.interpolate(z0, z1, INTERP_STEPS, mode).reshape(-1, 28, 28).cpu().numpy()


def show(images: np.ndarray, cols: int, caption: str) -> None:
    """Digits (N, 28, 28) in [0, 1] as one tiled PNG (JPEG blurs 28-pixel strokes)."""
    st.image(tile(images, cols), clamp=True, width="stretch", output_format="PNG", caption=caption)


def new_seed() -> None:
    """Callback of "fresh samples": the next seed, so every press shows new digits (and is reproducible)."""
    st.session_state["gan_mnist_seed"] = int(st.session_state.get("gan_mnist_seed", 0)) + 1


def film_part(film: dict, card: dict, labels: dict) -> None:
    st.subheader(t("gan_mnist.film.title"), anchor=False)
    st.markdown(t("gan_mnist.film.body"))
    steps = [int(s) for s in film["steps"]]
    step = st.select_slider(t("gan_mnist.film.frame"), options=steps, value=steps[-1], bind=LINK, key="gan_mnist_frame")
    i = steps.index(step)
    per_epoch = card["training"]["steps"] / max(card["training"]["epochs"], 1e-9)
    grid_col, d_col, class_col = st.columns([1, 1.1, 1.1])
    with grid_col:
        show(film["grid"][i] / 255.0, 8, t("gan_mnist.film.grid_caption", step=step, epoch=step / per_epoch))
    with d_col:
        chart(plots.d_histogram_figure(film["d_real"][i], film["d_fake"][i], labels=labels),
                        key="gan_mnist_d_hist")
        st.caption(t("gan_mnist.film.d_caption", real=float(film["d_real"][i].mean()),
                     fake=float(film["d_fake"][i].mean()), train=float(film["d_train"][i].mean())))
    with class_col:
        fractions = film["class_fractions"][i].astype(float)
        fractions = fractions / fractions.sum()
        chart(class_figure(fractions, labels=labels), key="gan_mnist_classes")
        st.caption(t("gan_mnist.film.class_caption", n=card["film"].get("class_digits", "?"),
                     entropy=class_entropy(fractions), max=math.log(10), confidence=float(film["mean_confidence"][i])))
    chart(plots.loss_figure(film["train_loss_d"], film["train_loss_g"], step, labels=labels),
                    key="gan_mnist_losses")
    st.caption(t("gan_mnist.film.loss_caption"))


def interpolation_part(model, card: dict) -> None:
    st.subheader(t("gan_mnist.interp.title"), anchor=False)
    st.markdown(t("gan_mnist.interp.body"))
    a, b, c = st.columns([1, 1, 2])
    seed_a = a.number_input(t("gan_mnist.interp.seed_a"), 0, 10_000, 1, bind=LINK, key="gan_mnist_seed_a")
    seed_b = b.number_input(t("gan_mnist.interp.seed_b"), 0, 10_000, 2, bind=LINK, key="gan_mnist_seed_b")
    mode = c.radio(t("gan_mnist.interp.mode"), INTERPOLATION_MODES, horizontal=True,
                   format_func=labeler("gan_mnist.interp.modes"), bind=LINK, key="gan_mnist_interp_mode")
    show(interpolation(model, card["sha256"], int(seed_a), int(seed_b), mode), INTERP_STEPS,
         t("gan_mnist.interp.caption", a=int(seed_a), b=int(seed_b)))


def samples_part(model, card: dict) -> None:
    st.subheader(t("gan_mnist.samples.title"), anchor=False)
    left, right = st.columns([1, 3], vertical_alignment="bottom")
    st.session_state.setdefault("gan_mnist_seed", 0)
    seed = left.number_input(t("gan_mnist.samples.seed"), 0, 1_000_000, bind=LINK, key="gan_mnist_seed")
    right.button(t("gan_mnist.samples.button"), icon=":material/casino:", on_click=new_seed, key="gan_mnist_fresh")
    show(fresh_samples(model, card["sha256"], int(seed)), 16, t("gan_mnist.samples.caption", n=N_FRESH, seed=int(seed)))


def card_part(card: dict) -> None:
    st.subheader(t("gan_mnist.card.title"), anchor=False)
    m, training, evaluation = card["metrics"], card["training"], card.get("evaluation", {})
    half = evaluation.get("n_heldout", 2000) // 2
    entries = [("frechet", f"{m['samples_frechet_vs_half']:.1f}", t("gan_mnist.card.frechet_help", half=half)),
               ("floor", f"{m['frechet_floor_same_size']:.1f}", t("gan_mnist.card.floor_help", half=half)),
               ("entropy", f"{m['samples_class_entropy']:.2f} / {math.log(10):.2f}", t("gan_mnist.card.entropy_help")),
               ("confidence", f"{m['samples_mean_confidence']:.3f}", t("gan_mnist.card.confidence_help"))]
    columns = [column for _ in range(2) for column in st.columns(2)]  # 2 x 2: the numbers fit at 150% zoom
    for column, (key, value, help_text) in zip(columns, entries):
        column.metric(t(f"gan_mnist.card.{key}"), value, help=help_text, border=True)
    st.markdown(t("gan_mnist.card.body", n=evaluation.get("n_samples", 0), frechet_all=m["samples_frechet"],
                  n_heldout=evaluation.get("n_heldout", 0), steps=training["steps"], epochs=training["epochs"],
                  seconds=training["wall_time_s"], device=card["device"]["kind"], threads=training["threads"],
                  data=data_text(card["data"]), parameters=card["parameters"]))
    st.caption(t("gan_mnist.card.rebuild"))
    st.code(card["rebuild"], language="bash")


@section
def section() -> None:
    links.header("gan_mnist")
    st.markdown(t("gan_mnist.intro"))
    st.latex(t("gan_mnist.objective"))
    loaded = pretrained("dcgan")
    if loaded is None:
        return
    model, card = loaded
    labels = series_labels(current_language())
    film = film_or_error(card)
    if film is not None:
        film_part(film, card, labels)
    interpolation_part(model, card)
    samples_part(model, card)
    card_part(card)
