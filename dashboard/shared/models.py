"""Shipped checkpoints and the MNIST data, as the pages use them.

Pretrained models are loaded once per server process (``st.cache_resource``), in eval mode
with gradients off, and shared read-only by every session; a page that trains one copies it.
A missing or corrupted checkpoint never crashes a page: it becomes an error box that names
the problem and the command that rebuilds the file.
"""

from __future__ import annotations

import streamlit as st

from dashboard.shared.i18n import t
from engine import models
from engine.checkpoints import CheckpointError, load_pretrained

# Shipped models and the card metrics the home page quotes for each: one table, engine.models.
HEADLINE = {name: model.headline for name, model in models.SHIPPED.items()}
SHIPPED = tuple(HEADLINE)


def metric_text(key: str, value: float) -> str:
    """A card metric as the chapter pages print it: Fréchet distances to one decimal, the rest to 4 digits."""
    return f"{value:.1f}" if "frechet" in key else f"{value:.4g}"


@st.cache_resource(show_spinner=False)
def _pretrained(name: str):
    return load_pretrained(name)  # an exception is not cached: the next run tries again


def pretrained(name: str):
    """``(model, card)`` of a shipped model, or ``None`` after drawing an error with the fix."""
    try:
        return _pretrained(name)
    except CheckpointError as error:
        st.error(t("common.models.checkpoint_error", name=name, problem=error.problem, rebuild=error.rebuild),
                 icon=":material/error:")
        return None


@st.cache_data(ttl=60, show_spinner=False)  # re-checked every minute: a student may download meanwhile
def mnist_status() -> tuple[dict | None, str | None]:
    """(the training split's card, None) or (None, the loader's message saying what to do)."""
    from engine.data.mnist import MNISTError, training_data

    try:
        return training_data().card, None
    except MNISTError as error:
        return None, str(error)
