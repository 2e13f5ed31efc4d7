"""A live section's "Model file": download the trained model as safetensors, resume training from one.

The file (``engine.trainer_files``) holds the trainer's whole state, the points it trained on and the
section's control values. Resuming from it is three steps, because the controls decide which trainer
the section builds:

1. the uploader's callback (before the script) reads the file, puts the saved control values back into
   the widgets' state (an uploaded data set back into the data picker's store) and keeps the file as
   pending for the section's key;
2. the page reruns, the section builds its trainer from those controls (``live_training.trainer_for``);
3. ``trainer_for`` hands the new trainer to :func:`apply_pending`, which loads the state into it, paused,
   or keeps the translated reason it cannot (another model, other points, another network).

The download is made when it is clicked (Streamlit's deferred download), from the trainer as it is then.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence

import numpy as np
import streamlit as st

from dashboard.shared import drawn
from dashboard.shared.i18n import t
from engine.trainer_files import SavedTrainer, TrainerFileError, read, restore, to_bytes

PENDING = "model_files_pending"  # session_state: {section key: SavedTrainer} waiting for its trainer
NOTES = "model_files_notes"  # session_state: {section key: (kind, text)} shown once in the section's popover
CSV = "csv"  # the data pickers' choice for uploaded points (dashboard.shared.points_upload)
DRAWN = "drawn"  # ... and for the compare page's drawing (dashboard.shared.drawn)
MAX_MB = 16  # the largest file the uploader takes (server.maxUploadSize in .streamlit/config.toml)


def saved_settings(state: MutableMapping, keys: Sequence[str]) -> dict:
    """The section's control values that are set, as JSON (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k in keys if (v := state.get(k)) is not None}


def file_bytes(slot, section: str, settings: dict) -> bytes:
    with slot.lock:  # never serialise a model while a tick steps it
        return to_bytes(slot.trainer, extra={"section": section, "settings": settings,
                                             "step": slot.trainer.step_count})


def uploaded(key: str, keys: Sequence[str], state: MutableMapping | None = None, blob: bytes | None = None) -> None:
    """The uploader's callback: read the file, put its controls back, and leave it for the trainer."""
    state = st.session_state if state is None else state
    if blob is None:
        upload = state.get(f"{key}_file")
        if upload is None:  # the file was removed from the uploader
            return
        blob = upload.getvalue()
    try:
        saved = read(blob)
        if saved.extra.get("section") != key:
            raise TrainerFileError("other_section", "", section=str(saved.extra.get("section")))
    except TrainerFileError as error:
        note(state, key, "error", message(error))
        return
    settings = saved.extra.get("settings", {})
    for name in keys:
        if name in settings:
            value = settings[name]
            state[name] = tuple(value) if isinstance(value, list) else value
    if settings.get(f"{key}_data") == CSV:  # uploaded points: the file brings them back to the data picker
        identity = (CSV, "file")
        state[f"{key}_csv_points"] = (identity, np.asarray(saved.data))
        state[f"{key}_data_in_use"] = identity
    elif settings.get(f"{key}_data") == DRAWN:  # a drawing: it becomes this session's drawing again
        drawn.store(state, saved.data)
    state[PENDING] = {**state.get(PENDING, {}), key: saved}
    note(state, key, None)


def apply_pending(key: str, slot, state: MutableMapping) -> None:
    """Load a pending file into the section's (new) trainer, paused; keep the outcome to show."""
    pending = dict(state.get(PENDING, {}))
    saved: SavedTrainer | None = pending.pop(key, None)
    if saved is None:
        return
    state[PENDING] = pending
    slot.playing = False
    with slot.lock:
        try:
            restore(slot.trainer, saved)
        except TrainerFileError as error:
            note(state, key, "error", message(error))
            return
        slot.last_metrics = []
    note(state, key, "success", t("training.file.resumed", steps=saved.step_count))


def note(state: MutableMapping, key: str, kind: str | None, text: str = "") -> None:
    """Keep (or, with ``kind=None``, drop) the outcome the section's popover shows."""
    notes = {k: v for k, v in state.get(NOTES, {}).items() if k != key}
    state[NOTES] = notes if kind is None else {**notes, key: (kind, text)}


def message(error: TrainerFileError) -> str:
    return t(f"training.file.errors.{error.code}", **error.detail)


def panel(key: str, slot, keys: Sequence[str]) -> None:
    """The popover: what the file holds, its download, the uploader that resumes, and the last outcome."""
    state = st.session_state
    with st.popover(t("training.file.title"), icon=":material/save:", width="content"):
        st.caption(t("training.file.help"))
        settings = saved_settings(state, keys)
        st.download_button(t("training.file.download"), data=lambda: file_bytes(slot, key, settings),
                           file_name=f"{key}.safetensors", mime="application/octet-stream", on_click="ignore",
                           icon=":material/download:", key=f"{key}_file_download", width="stretch")
        st.file_uploader(t("training.file.resume"), type=["safetensors"], key=f"{key}_file",
                         on_change=uploaded, args=(key, tuple(keys)), help=t("training.file.resume_help"),
                         max_upload_size=MAX_MB)
        note = state.get(NOTES, {}).get(key)
        if note is not None:
            kind, text = note
            (st.success if kind == "success" else st.error)(text, icon=":material/info:")
    if key in state.get(PENDING, {}):  # the controls changed: the page builds the file's trainer
        st.rerun(scope="app")
