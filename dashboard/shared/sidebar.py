"""The sidebar every page shares: language switch (mirrored into ``?lang=``), the keyboard's keys, compute device."""

from __future__ import annotations

import streamlit as st

from dashboard.shared.charts import PROJECTOR
from dashboard.shared.claims import NEXT_KEY, PREVIOUS_KEY
from dashboard.shared.i18n import DEFAULT_LANGUAGE, LANGUAGES, SESSION_KEY, t
from dashboard.shared.links import LINK
from dashboard.shared.live_training import PLAY_KEY, STEP_KEYS


def language_switch() -> str:
    """The language radio, mirrored into ``?lang=`` so a shared link opens in the same language.

    Drawn by the router before the pages are listed, so their titles are already translated.
    The URL is read on a session's first run only (unknown values such as ``?lang=fr`` fall back
    to English) and rewritten on every run, because a page switch replaces the query string.
    """
    if SESSION_KEY not in st.session_state:
        requested = st.query_params.get(SESSION_KEY)
        st.session_state[SESSION_KEY] = requested if requested in LANGUAGES else DEFAULT_LANGUAGE
    lang = st.sidebar.radio(
        "Language / 언어", options=list(LANGUAGES), format_func=LANGUAGES.get, key=SESSION_KEY, horizontal=True
    )
    if st.query_params.get(SESSION_KEY) != lang:  # rewriting the same value would drop a link's #anchor
        st.query_params[SESSION_KEY] = lang
    return lang


@st.cache_resource(show_spinner=False)
def _device_summary():
    """Pick the device and cap torch threads once per server process (see engine.device)."""
    from engine import device

    try:
        device.configure_threads()
        return device.describe(), None
    except (ValueError, RuntimeError) as error:  # a bad GENMODELS_DEVICE, a broken driver
        return None, str(error)


def device_panel() -> None:
    """Which device torch computes on, so an instructor sees whether the GPU is in use."""
    info, error = _device_summary()
    with st.sidebar:
        st.caption(t("common.sidebar.device_heading"))
        if error is not None:
            st.warning(t("common.sidebar.device_error", reason=error))
        elif info.kind == "cuda":
            st.markdown(t("common.sidebar.device_cuda", name=info.name))
        elif info.kind == "mps":
            st.markdown(t("common.sidebar.device_mps"))
        else:
            st.markdown(t("common.sidebar.device_cpu", threads=info.threads))
        st.caption(t("common.sidebar.footer"))


def keyboard_help() -> None:
    """The keys of the live panels, in a popover (the buttons show them too)."""
    with st.sidebar.popover(t("common.keyboard.title"), icon=":material/keyboard:", width="stretch"):
        rows = [(PLAY_KEY, t("common.keyboard.play"))]
        rows += [(key, t("common.keyboard.step", n=i + 1)) for i, key in enumerate(STEP_KEYS)]
        rows += [(NEXT_KEY, t("common.keyboard.next")), (PREVIOUS_KEY, t("common.keyboard.previous"))]
        st.markdown("\n".join([f"| {t('common.keyboard.key')} | {t('common.keyboard.does')} |", "| --- | --- |"]
                              + [f"| `{key}` | {text} |" for key, text in rows]))
        st.caption(t("common.keyboard.note"))


def projector_toggle() -> None:
    """The projector view for a lecture hall (``?projector=true`` in a link): see charts and style."""
    st.sidebar.toggle(t("common.projector.toggle"), key=PROJECTOR, bind=LINK, help=t("common.projector.help"))
