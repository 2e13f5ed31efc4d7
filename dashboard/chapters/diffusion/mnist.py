"""Diffusion page, section 4: the shipped U-Net DDPM on MNIST.

Generate a grid of digits with DDPM (1000 steps) or DDIM (10-100 steps, eta), with its wall time and
the classifier's class histogram; scrub through the kept steps with x_t and x̂_0 side by side; every
term of one reverse step on one digit; the model card's DDPM-vs-DDIM table and training record.

A missing or corrupt checkpoint is an error box (``dashboard.shared.models.pretrained``) and the section
stops there; a missing classifier hides only the class histogram; missing MNIST data only the
held-out source of the one-step view. A generation is stored in ``st.session_state`` with all its
frames, so scrubbing and the one-step view never re-run the sampler.
"""

from __future__ import annotations

import math
import time

import numpy as np
import streamlit as st
import torch

from dashboard.chapters.diffusion import mnist_plots as plots
from dashboard.chapters.diffusion.mnist_card import card_part, sampler_label, samplers_part
from dashboard.shared import links
from dashboard.shared.charts import chart
from dashboard.shared.i18n import current_language, labeler, t, texts
from dashboard.shared.images import tile
from dashboard.shared.links import LINK
from dashboard.shared.mnist import class_figure, heldout
from dashboard.shared.models import pretrained
from dashboard.shared.sections import part, section
from engine import diffusion as dm
from engine.diffusion.mnist import DDIM_STEPS, to_network
from engine.mnist import metrics

SAMPLERS = ("ddim", "ddpm")
GRID_SIZES = (4, 9, 16, 25, 36)
DEFAULT = {"sampler": "ddim", "n": 16, "steps": 50, "eta": 0.0, "seed": 0}  # < 3 s on 2 cores (issue 7)
DDPM_KEEP_EVERY = 20  # DDPM keeps x_t and x̂_0 every 20 of its 1000 steps: 51 frames to scrub
RESULT = "diffusion_mnist_result"  # session_state: the last generation with its frames
MAX_SHARED = 24  # generations kept for every session (a 16-digit DDIM-50 run with frames is about 1.3 MB)
SERIES = ("step", "rms", "x_t", "x0_hat", "calls", "frechet", "floor", "model", "train_step", "loss", "digit",
          "percent", "generated", "uniform")  # labels: diffusion_mnist.series.*


def series_labels(lang: str) -> dict:
    return texts(lang, "diffusion_mnist.series", SERIES)


def as_bytes(images: torch.Tensor) -> np.ndarray:
    """[0, 1] images (n, 1, 28, 28) -> uint8 (n, 28, 28): 16x less session memory, enough for display."""
    return (images.reshape(-1, 28, 28).numpy() * 255.0).round().astype(np.uint8)


def generate(model, sampler: str, n: int, steps: int, eta: float, seed: int, progress=None) -> dict:
    """One generation with its frames and wall time (the sampling only), as plain arrays."""
    start = time.perf_counter()
    if sampler == "ddpm":
        keep = lambda s: s % DDPM_KEEP_EVERY == 0 or s == model.schedule.T  # noqa: E731
        images, frames = model.sample_ddpm(n, seed, keep=keep, progress=progress)
        calls = model.schedule.T
    else:
        images, frames = model.sample_ddim_frames(n, steps, eta, seed, progress)
        calls = steps
    seconds = time.perf_counter() - start
    order = sorted(frames, reverse=True)  # T ... 0: noise to digits
    return {"sampler": sampler, "n": n, "steps": steps, "eta": eta, "seed": seed, "calls": calls,
            "seconds": seconds, "images": images.reshape(n, 28, 28).numpy().astype(np.float32),
            "frame_steps": order, "x_t": np.stack([as_bytes(frames[s][0]) for s in order]),
            "x0_hat": np.stack([as_bytes(frames[s][1]) for s in order])}


def progress_callback(bar, total: int, text: str):
    """``progress(done)`` for the samplers: moves ``bar`` about 50 times in all (each move is a message)."""
    every = max(1, total // 50)

    def update(done: int) -> None:
        if done % every == 0 or done == total:
            bar.progress(min(done / total, 1.0), text=text)

    return update


def show(images: np.ndarray, cols: int, caption: str) -> None:
    """Digits (N, 28, 28) in [0, 1] as one tiled PNG (JPEG blurs 28-pixel strokes)."""
    st.image(tile(images, cols), clamp=True, width="stretch", output_format="PNG", caption=caption)


# ---------------------------------------------------------------- the grid
def settings(model) -> dict:
    left, middle, right = st.columns([1.2, 1, 1])
    sampler = left.radio(t("diffusion_mnist.generate.sampler"), SAMPLERS, horizontal=True,
                         format_func=labeler("diffusion_mnist.generate.samplers"),
                         bind=LINK, key="diffusion_mnist_sampler")
    steps, eta = DEFAULT["steps"], DEFAULT["eta"]
    if sampler == "ddim":
        options = [s for s in DDIM_STEPS if s <= model.schedule.T]
        steps = middle.select_slider(t("diffusion_mnist.generate.steps"), options,
                                     value=DEFAULT["steps"] if DEFAULT["steps"] in options else options[0],
                                     bind=LINK, key="diffusion_mnist_steps")
        eta = right.slider(t("diffusion_mnist.generate.eta"), 0.0, 1.0, DEFAULT["eta"], 0.1,
                           help=t("diffusion_mnist.generate.eta_help"), bind=LINK, key="diffusion_mnist_eta")
    else:
        middle.caption(t("diffusion_mnist.generate.ddpm_note", steps=model.schedule.T))
    left, middle, right = st.columns([1.2, 1, 1], vertical_alignment="bottom")
    n = left.select_slider(t("diffusion_mnist.generate.n"), GRID_SIZES, value=DEFAULT["n"],
                           bind=LINK, key="diffusion_mnist_n")
    seed = middle.number_input(t("diffusion_mnist.generate.seed"), 0, 1_000_000, DEFAULT["seed"],
                               bind=LINK, key="diffusion_mnist_seed")
    pressed = right.button(t("diffusion_mnist.generate.button"), icon=":material/play_arrow:", type="primary",
                           key="diffusion_mnist_generate")
    return {"sampler": sampler, "n": int(n), "steps": int(steps), "eta": float(eta), "seed": int(seed),
            "pressed": pressed}


def classify_grid(images: np.ndarray) -> dict | None:
    """The shipped classifier's labels of the grid (None after an error box if it is missing)."""
    loaded = pretrained("classifier")
    if loaded is None:
        return None
    _, probs = metrics.classify(loaded[0], images.reshape(-1, 1, 28, 28))
    fractions = metrics.class_histogram(probs.argmax(1))
    return {"fractions": fractions, "entropy": metrics.class_entropy(fractions),
            "covered": int((fractions > 0).sum()), "confidence": metrics.mean_confidence(probs)}


@st.cache_resource(show_spinner=False)
def shared_runs() -> dict:
    """Generations by (weights sha256, sampler, n, steps, eta, seed), shared read-only by every session.

    Sampling is deterministic given the seed, so a grid another visitor already made (the default
    one, above all) is reused instead of recomputed; the oldest entries go first beyond MAX_SHARED.
    """
    return {}


def run_or_reuse(model, card: dict, wanted: dict) -> dict:
    """The generation asked for: from ``shared_runs`` or sampled now under a progress bar."""
    if wanted["sampler"] == "ddpm":  # DDPM has no steps or eta to choose: one cache entry per seed and size
        wanted = {**wanted, "steps": model.schedule.T, "eta": 0.0}
    key = (card["sha256"], *(wanted[k] for k in ("sampler", "n", "steps", "eta", "seed")))
    runs = shared_runs()
    if key in runs:
        return {**runs[key], "reused": True}
    calls = model.schedule.T if wanted["sampler"] == "ddpm" else wanted["steps"]
    text = t("diffusion_mnist.generate.progress", n=wanted["n"], calls=calls)
    bar = st.progress(0.0, text=text)
    result = {**generate(model, **wanted, progress=progress_callback(bar, calls, text)), "sha256": card["sha256"]}
    bar.empty()
    runs[key] = result
    while len(runs) > MAX_SHARED:
        runs.pop(next(iter(runs)), None)  # None: another session may have dropped it first
    return {**result, "reused": False}


@part
def generate_part(model, card: dict, labels: dict) -> None:
    """The grid and its settings. A fragment of its own, so that moving a setting redraws only this; a new
    generation after a press reruns the page, for the scrubber and the one-step view to show it."""
    st.subheader(t("diffusion_mnist.generate.title"), anchor=False)
    st.markdown(t("diffusion_mnist.generate.body"))
    wanted = settings(model)
    result = st.session_state.get(RESULT)
    pressed = wanted.pop("pressed")
    if pressed or result is None or result.get("sha256") != card["sha256"]:
        result = run_or_reuse(model, card, wanted)
        result["classes"] = classify_grid(result["images"])  # per session: the classifier may come and go
        st.session_state[RESULT] = result
        if pressed:
            st.rerun()  # the parts below were drawn from the previous generation
    elif differs(result, wanted):
        st.caption(t("diffusion_mnist.generate.stale"))
    grid_col, class_col = st.columns([1, 1.1])
    name = sampler_label(result["sampler"], result["calls"])
    with grid_col:
        show(result["images"], math.ceil(math.sqrt(result["n"])),
             t(f"diffusion_mnist.generate.caption_{result['sampler']}", n=result["n"], sampler=name, eta=result["eta"],
               seed=result["seed"], seconds=result["seconds"], per_digit=1000 * result["seconds"] / result["n"])
             + (t("diffusion_mnist.generate.reused") if result["reused"] else ""))
    classes = result.get("classes")
    with class_col:
        if classes is not None:
            chart(class_figure(classes["fractions"], labels=labels), key="diffusion_mnist_classes")
            n = result["n"]
            st.caption(t("diffusion_mnist.generate.class_caption", n=n, covered=classes["covered"],
                         expected=10 * (1 - 0.9**n), entropy=classes["entropy"], max=math.log(10),
                         confidence=classes["confidence"], n_eval=card.get("evaluation", {}).get("n_samples", "?")))


def differs(result: dict, wanted: dict) -> bool:
    """Whether the widgets now ask for another grid than the one shown (DDPM ignores steps and eta)."""
    keys = ("sampler", "n", "seed") + (("steps", "eta") if wanted["sampler"] == "ddim" else ())
    return any(result[k] != wanted[k] for k in keys)


# ---------------------------------------------------------------- scrubbing
def rms_to_final(frames: np.ndarray) -> np.ndarray:
    """Root-mean-square pixel distance (in [0, 1] units) of each frame (F, n, 28, 28) to the last one."""
    x = frames.astype(np.float64) / 255.0
    return np.sqrt(((x - x[-1]) ** 2).mean(axis=(1, 2, 3)))


@part
def scrub_part(labels: dict) -> None:
    result = st.session_state[RESULT]
    st.subheader(t("diffusion_mnist.scrub.title"), anchor=False)
    st.markdown(t("diffusion_mnist.scrub.body"))
    steps = [int(s) for s in result["frame_steps"]]
    middle = min(steps, key=lambda s: abs(s - steps[0] // 2))
    if st.session_state.get("diffusion_mnist_frame") not in steps:  # a new generation keeps other steps
        st.session_state["diffusion_mnist_frame"] = middle
    step = st.select_slider(t("diffusion_mnist.scrub.frame"), options=steps, bind=LINK, key="diffusion_mnist_frame")
    i = steps.index(step)
    cols = math.ceil(math.sqrt(result["n"]))
    left, right = st.columns(2)
    with left:
        show(result["x_t"][i] / 255.0, cols, t("diffusion_mnist.scrub.xt_caption", t=step))
    with right:
        show(result["x0_hat"][i] / 255.0, cols, t("diffusion_mnist.scrub.x0_caption", t=step))
    chart(plots.settling_figure(steps, rms_to_final(result["x0_hat"]), rms_to_final(result["x_t"]), step,
                                          labels=labels), key="diffusion_mnist_settling")
    st.caption(t("diffusion_mnist.scrub.settling_caption", frames=len(steps)))


# ---------------------------------------------------------------- one reverse step
def noised(model, image01: np.ndarray, step: int, seed: int) -> torch.Tensor:
    """x_t ~ q(x_t | x_0) in the network's scale (1, 1, 28, 28) for one digit (28, 28) in [0, 1]."""
    x0 = to_network(torch.as_tensor(np.asarray(image01, dtype=np.float32)).reshape(1, 1, 28, 28))
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(int(seed)))
    return dm.q_sample(model.schedule, x0, torch.tensor([step]), noise)


def pick_digit(result: dict) -> tuple[np.ndarray, str]:
    left, middle = st.columns(2)
    held = heldout()
    held = None if held is None else held.images
    source = left.radio(t("diffusion_mnist.step.source"), ("grid", "heldout"), horizontal=True,
                        format_func=labeler("diffusion_mnist.step.sources"), bind=LINK, key="diffusion_mnist_source")
    if source == "heldout" and held is None:
        st.warning(t("diffusion_mnist.step.no_data"), icon=":material/dataset:")
        source = "grid"
    count = result["n"] if source == "grid" else len(held)
    index = int(middle.number_input(t("diffusion_mnist.step.index", last=count - 1), 0, count - 1, 0,
                                    bind=LINK, key=f"diffusion_mnist_index_{source}"))
    image = result["images"][index] if source == "grid" else held[index] / 255.0
    return image, t(f"diffusion_mnist.step.from_{source}", index=index)


@part
def step_part(model) -> None:
    result = st.session_state[RESULT]
    st.subheader(t("diffusion_mnist.step.title"), anchor=False)
    st.markdown(t("diffusion_mnist.step.body"))
    image, origin = pick_digit(result)
    left, right = st.columns([2, 1])
    T = model.schedule.T
    step = int(left.slider(t("diffusion_mnist.step.t"), 1, T, min(300, T),
                           bind=LINK, key="diffusion_mnist_t"))
    seed = int(right.number_input(t("diffusion_mnist.step.seed"), 0, 1_000_000, 0,
                                  bind=LINK, key="diffusion_mnist_step_seed"))
    s = model.reverse_step(noised(model, image, step, seed), step, seed + 1)  # z independent of x_t's noise
    term = {k: getattr(s, k)[0, 0].cpu().numpy() for k in ("x_t", "eps", "x0_hat", "mean", "z", "x_prev")}
    noise = s.sigma * term["z"]
    panels = [(t("diffusion_mnist.step.panel_xt", t=step), term["x_t"], False),
              (t("diffusion_mnist.step.panel_eps", r=plots.signed_range(term["eps"])), term["eps"], True),
              (t("diffusion_mnist.step.panel_x0"), term["x0_hat"], False),
              (t("diffusion_mnist.step.panel_mean", t=step), term["mean"], False),
              (t("diffusion_mnist.step.panel_noise", t=step, r=plots.signed_range(noise)), noise, True),
              (t("diffusion_mnist.step.panel_prev", t=step - 1), term["x_prev"], False)]
    chart(plots.step_figure(panels), key="diffusion_mnist_step")
    st.caption(t("diffusion_mnist.step.scale_caption", origin=origin, t=step, seed=seed))
    sch = model.schedule
    a, b = math.sqrt(1 - sch.alpha_bar[step]), math.sqrt(sch.alpha_bar[step])
    for line in plots.step_equations(step, a, b, float(sch.posterior_mean_coef1[step]),
                                     float(sch.posterior_mean_coef2[step]), s.sigma):
        st.latex(line)
    row, col = 14, 14  # the centre pixel: usually on the stroke
    st.latex(plots.pixel_equation(step, row, col, float(term["mean"][row, col]), s.sigma, float(term["z"][row, col]),
                                  float(term["x_prev"][row, col])))
    st.caption(t("diffusion_mnist.step.ho_form", inv_sqrt_alpha=1 / math.sqrt(sch.alphas[step]),
                 eps_coef=sch.betas[step] / a, clipped=100 * s.clipped, sigma=s.sigma))


@section
def section() -> None:
    links.header("diffusion_mnist")
    st.markdown(t("diffusion_mnist.intro"))
    loaded = pretrained("ddpm")
    if loaded is None:
        return
    model, card = loaded
    labels = series_labels(current_language())
    generate_part(model, card, labels)  # each part a fragment: its widgets redraw only that part
    scrub_part(labels)
    step_part(model)
    samplers_part(card, labels)
    card_part(card, labels)
