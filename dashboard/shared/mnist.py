"""What the MNIST sections share: the held-out digits (one accessor, one contract), which images
trained a shipped model, and the class histogram of generated digits.

:func:`heldout` is the only way a page gets real digits. The arrays are loaded once per server
process and shared read-only by every session; while MNIST is missing it returns None, and it looks
again on the next call, so data copied in while the server runs are found without a restart
(:func:`dashboard.shared.models.mnist_status` says what is missing and how to get it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from dashboard.shared.i18n import t
from dashboard.shared.plotting import COLORS, base_figure, rgba

CLASSES = np.arange(10)


@dataclass(frozen=True)
class HeldOut:
    images: np.ndarray  # (N, 28, 28) uint8, read-only
    labels: np.ndarray  # (N,) int, read-only
    first: int  # index of images[0] in its split (8000 on the course machines: test images 8000-9999)


def heldout() -> HeldOut | None:
    """The held-out digits every shipped model is judged on, or None while MNIST is missing."""
    from engine.data.mnist import MNISTError

    try:
        return _heldout()
    except MNISTError:  # not cached: the next call looks again
        return None


@st.cache_resource(show_spinner=False)
def _heldout() -> HeldOut:
    from engine.data.mnist import training_data

    data = training_data()
    images, labels = data.heldout_images.numpy(), data.heldout_labels.numpy()
    images.setflags(write=False)
    labels.setflags(write=False)
    return HeldOut(images, labels, int(data.card["heldout_range"][0]))


def data_text(data: dict) -> str:
    """Which images trained a model and which were held out (a card's "data"), in the page's language."""
    (a, b), (c, d) = data["train_range"], data["heldout_range"]
    return t("home.models.data", train_split=data["train_split"], a=a, b=b - 1, heldout_split=data["heldout_split"],
             c=c, d=d - 1)


def class_figure(fractions, *, labels: dict, height: int = 300) -> go.Figure:
    """The classifier's share of generated digits in each class, against the uniform 10%."""
    fractions = np.asarray(fractions, dtype=float)
    fig = base_figure(height, x_title=labels["digit"], y_title=labels["percent"], hovermode="closest",
                      xaxis=dict(tickmode="array", tickvals=CLASSES.tolist()),
                      yaxis=dict(range=[0, max(30.0, 105 * float(fractions.max(initial=0)))]))
    fig.add_trace(go.Bar(x=CLASSES, y=100.0 * fractions, name=labels["generated"],
                         marker=dict(color=rgba(COLORS["q"], 0.7), line=dict(color=COLORS["q"], width=1))))
    fig.add_trace(go.Scatter(x=[-0.5, 9.5], y=[10.0, 10.0], mode="lines", name=labels["uniform"],
                             line=dict(color=COLORS["p"], dash="dash"), hoverinfo="skip"))
    return fig
