"""Diffusion page, section 5: repaint part of a held-out MNIST digit with the shipped U-Net (RePaint).

The student picks a held-out digit and a region (a preset half or centre square, or a rectangle
from two range sliders), sees the masked input, and asks for several completions: each reverse
step replaces the known region by the digit noised to the same level, so only the hole is
generated and it has to agree with what is kept. A classifier labels each completion.

Repainting runs T x U network calls, so it only runs on the button; the result is kept in
``st.session_state`` with the inputs that made it, and shown as stale (not recomputed) when a
widget changes. Missing checkpoint or data, or an empty rectangle, are messages, never crashes.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from dashboard.shared import links
from dashboard.shared.i18n import labeler, t
from dashboard.shared.images import tile
from dashboard.shared.links import LINK
from dashboard.shared.mnist import heldout
from dashboard.shared.models import mnist_status, pretrained
from dashboard.shared.sections import section
from engine.diffusion import inpainting
from engine.mnist.metrics import classify

KEY = "diffusion_inpaint"
RESULT = f"{KEY}_result"  # session_state: the last repaint, with the inputs that made it
COMPLETIONS = (1, 2, 4, 8)  # completions side by side; they run as one batch
DEFAULT_COMPLETIONS = 4  # enough to see a 7 become a 9 once in a while, still ~10-20 s on 2 CPU cores
RESAMPLES = (1, 2, 3, 5, 10)  # RePaint's U; Lugmayr et al. use 10, which costs 10x the time
MODES = ("preset", "rectangle")
DEFAULT_RECTANGLE = (7, 21)  # rows and columns of the starting rectangle: the centre square
ZOOM = 5  # each pixel drawn as ZOOM x ZOOM screen pixels (160 px digits): the browser would blur a small PNG


def random_digit(count: int) -> None:
    """Callback of "random digit": the k-th press shows default_rng(k)'s pick (reproducible, never the same twice)."""
    draws = int(st.session_state.get(f"{KEY}_draws", 0)) + 1
    st.session_state[f"{KEY}_draws"] = draws
    st.session_state[f"{KEY}_index"] = int(np.random.default_rng(draws).integers(count))


def show(image: np.ndarray, caption: str) -> None:
    """One digit (28, 28) in [0, 1], dark on light, as a crisp PNG (JPEG and browser scaling blur 28-pixel strokes)."""
    big = np.kron(tile(image[None], 1), np.ones((ZOOM, ZOOM), dtype=np.float32))  # nearest-neighbour zoom
    st.image(big, clamp=True, width="content", output_format="PNG", caption=caption)


def pick_digit(images: np.ndarray, labels: np.ndarray, first: int) -> int:
    st.session_state.setdefault(f"{KEY}_index", 0)
    index = st.number_input(t("diffusion_inpaint.digit.index", last=len(images) - 1), 0, len(images) - 1,
                            bind=LINK, key=f"{KEY}_index", help=t("diffusion_inpaint.digit.help", first=first))
    st.button(t("diffusion_inpaint.digit.random"), icon=":material/casino:", on_click=random_digit,
              args=(len(images),), key=f"{KEY}_random")
    st.caption(t("diffusion_inpaint.digit.caption", number=first + int(index), label=int(labels[int(index)])))
    return int(index)


def pick_mask() -> tuple[tuple[int, int, int, int], str] | None:
    """``(regenerated rectangle (top, bottom, left, right) half-open, its description)``, or None if empty."""
    mode = st.radio(t("diffusion_inpaint.mask.mode"), MODES, horizontal=True,
                    format_func=labeler("diffusion_inpaint.mask.modes"), bind=LINK, key=f"{KEY}_mode")
    if mode == "preset":
        preset = st.radio(t("diffusion_inpaint.mask.preset"), inpainting.MASK_PRESETS, horizontal=True,
                          format_func=labeler("diffusion_inpaint.mask.presets"), bind=LINK, key=f"{KEY}_preset")
        return inpainting.PRESET_BOUNDS[preset], t(f"diffusion_inpaint.mask.presets.{preset}")
    rows = st.slider(t("diffusion_inpaint.mask.rows"), 0, inpainting.SIZE, DEFAULT_RECTANGLE,

                     bind=LINK, key=f"{KEY}_rows")
    cols = st.slider(t("diffusion_inpaint.mask.cols"), 0, inpainting.SIZE, DEFAULT_RECTANGLE,
                     bind=LINK, key=f"{KEY}_cols")
    st.caption(t("diffusion_inpaint.mask.bounds"))
    if rows[1] <= rows[0] or cols[1] <= cols[0]:
        st.warning(t("diffusion_inpaint.mask.empty", top=rows[0], bottom=rows[1], left=cols[0], right=cols[1]),
                   icon=":material/crop_free:")
        return None
    bounds = (int(rows[0]), int(rows[1]), int(cols[0]), int(cols[1]))
    return bounds, t("diffusion_inpaint.mask.rectangle", top=rows[0], bottom=rows[1] - 1, left=cols[0],
                     right=cols[1] - 1)


@dataclass(frozen=True)
class Inputs:
    """What one repaint was made from: the checkpoint, the digit, the region and the sampler settings.
    A kept result whose inputs differ from the controls' is shown as stale."""

    checkpoint: str | None  # the model card's sha256
    index: int  # the held-out digit
    bounds: tuple[int, int, int, int]  # the regenerated rectangle
    n: int  # completions
    resample: int  # RePaint's U
    seed: int


def pick_settings(steps: int) -> tuple[int, int, int]:
    a, b, c = st.columns(3)
    n = a.select_slider(t("diffusion_inpaint.run.completions"), COMPLETIONS, DEFAULT_COMPLETIONS,
                        bind=LINK, key=f"{KEY}_completions")
    resample = b.select_slider(t("diffusion_inpaint.run.resample"), RESAMPLES, 1, bind=LINK, key=f"{KEY}_resample")
    seed = c.number_input(t("diffusion_inpaint.run.seed"), 0, 1_000_000, 0, bind=LINK, key=f"{KEY}_seed")
    st.caption(t("diffusion_inpaint.run.resample_caption", steps=steps, calls=steps * resample, resample=resample))
    return int(n), int(resample), int(seed)


def label_text(probs: np.ndarray | None, i: int) -> str:
    if probs is None:
        return ""
    return t("diffusion_inpaint.result.classified", label=int(probs[i].argmax()), confidence=100 * probs[i].max())


def run(model, classifier, image: np.ndarray, label: int, known: torch.Tensor, inputs: Inputs) -> dict:
    """Repaint with a progress bar; the result (arrays, labels, seconds) to keep in session_state."""
    n, resample, seed = inputs.n, inputs.resample, inputs.seed
    steps = model.schedule.T
    text = t("diffusion_inpaint.run.progress", n=n, steps=steps, resample=resample)
    bar, shown = st.progress(0.0, text=text), [-1]

    def progress(done: int) -> None:  # called once per step t; redraw at most 100 times
        percent = 100 * done // steps
        if percent != shown[0]:
            shown[0] = percent
            bar.progress(done / steps, text=f"{text} {done}/{steps}")

    start = time.perf_counter()
    completions = inpainting.repaint(model, image, known, n, seed=seed, resample=resample, progress=progress)
    seconds = time.perf_counter() - start
    bar.empty()
    completions = completions[:, 0].numpy()  # (n, 28, 28) in [0, 1]
    probs = None
    if classifier is not None:
        _, probs = classify(classifier, np.concatenate([image[None] / np.float32(255), completions]))
    return {"inputs": inputs, "original": image, "label": label, "known": known[0, 0].numpy(),
            "completions": completions, "probs": probs, "seconds": seconds, "steps": steps}


def results_part(result: dict, inputs: Inputs | None, first: int) -> None:
    if result["inputs"] != inputs:
        st.info(t("diffusion_inpaint.result.stale"), icon=":material/history:")
    index, bounds = result["inputs"].index, result["inputs"].bounds
    probs = result["probs"]
    completions, n = result["completions"], len(result["completions"])
    columns = st.columns(2 + n)
    with columns[0]:
        show(result["original"] / np.float32(255), t("diffusion_inpaint.result.original", number=first + index,
                                                        label=result["label"]) + label_text(probs, 0))
    with columns[1]:
        show(inpainting.masked_preview(result["original"], result["known"]),
             t("diffusion_inpaint.result.masked", pixels=inpainting.regenerated_pixels(result["known"]),
               top=bounds[0], bottom=bounds[1] - 1, left=bounds[2], right=bounds[3] - 1))
    for i, column in enumerate(columns[2:]):
        with column:
            show(completions[i], t("diffusion_inpaint.result.completion", i=i + 1) + label_text(probs, i + 1))
    if probs is not None:
        counts = Counter(int(k) for k in probs[1:].argmax(1))
        tally = ", ".join(f"{k} × {c}" for k, c in sorted(counts.items(), key=lambda kc: (-kc[1], kc[0])))
        st.markdown(t("diffusion_inpaint.result.tally", n=n, tally=tally, label=result["label"]))
    resample, seed = result["inputs"].resample, result["inputs"].seed
    st.caption(t("diffusion_inpaint.result.time", seconds=result["seconds"], n=n, steps=result["steps"],
                 resample=resample, calls=result["steps"] * resample, seed=seed))


def smoke_note(card: dict) -> None:
    """A checkpoint trained for fewer steps than its config asks (the smoke run) paints noise: say so."""
    done = (card.get("training") or {}).get("steps")
    planned = (card.get("config") or {}).get("train_steps")
    if isinstance(done, int) and isinstance(planned, int) and done < planned:
        st.info(t("diffusion_inpaint.smoke", steps=done, planned=planned), icon=":material/science:")


@section
def section() -> None:
    links.header("diffusion_inpaint")
    st.markdown(t("diffusion_inpaint.intro"))
    st.latex(t("diffusion_inpaint.step"))
    st.markdown(t("diffusion_inpaint.jump_intro"))
    st.latex(t("diffusion_inpaint.jump"))
    st.markdown(t("diffusion_inpaint.explain"))
    loaded = pretrained("ddpm")
    if loaded is None:
        return
    model, card = loaded
    smoke_note(card)
    data = heldout()
    if data is None:
        st.warning(t("diffusion_inpaint.no_data", problem=mnist_status()[1]), icon=":material/database:")
        return
    images, labels, first = data.images, data.labels, data.first
    digit_col, mask_col, preview_col = st.columns([1, 1.4, 1])
    with digit_col:
        index = pick_digit(images, labels, first)
    with mask_col:
        mask = pick_mask()
    image = images[index]
    if mask is None:
        known = None
    else:
        bounds, description = mask
        known = inpainting.rectangle_mask(*bounds)
        with preview_col:
            show(inpainting.masked_preview(image, known),
                 t("diffusion_inpaint.mask.preview", region=description, pixels=inpainting.regenerated_pixels(known),
                   percent=100 * inpainting.regenerated_pixels(known) / image.size))
    n, resample, seed = pick_settings(model.schedule.T)
    pressed = st.button(t("diffusion_inpaint.run.button"), type="primary", icon=":material/brush:",
                        key=f"{KEY}_run", disabled=known is None)
    if known is not None:
        inputs = Inputs(card.get("sha256"), index, tuple(bounds), n, resample, seed)
        if pressed:
            classifier = pretrained("classifier")
            st.session_state[RESULT] = run(model, classifier[0] if classifier else None, np.asarray(image),
                                           int(labels[index]), known, inputs)
    else:
        inputs = None
    result = st.session_state.get(RESULT)
    if result is not None:
        results_part(result, inputs, first)
    st.markdown(t("diffusion_inpaint.lesson"))
