"""Shared fixtures: the thread policy, hypothesis profiles and an AppTest factory for the dashboard."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from engine.device import configure_threads

# CI runs the same hypothesis examples every time (a red CI must be reproducible); local runs
# keep exploring new examples.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]

# The tests run under the dashboard's process-wide thread policy, set once here as the server sets
# it once at start-up (engine.device): one torch thread. Nothing may change it per call.

configure_threads()

HOME_SCRIPT = ROOT / "dashboard" / "Home.py"
APP_TIMEOUT_S = 60  # the first run imports torch; AppTest's own default (3 s) is far too short


def page_script(page: str | None) -> str | None:
    """A page given as a chapter key ("divergences") or a path relative to dashboard/ ("chapters/x/page.py")."""
    if page is None or page.endswith(".py"):
        return page
    from dashboard.shared.course import CHAPTERS, HOME_VIEW

    if page == "home":
        return HOME_VIEW
    for chapter in CHAPTERS:
        if chapter.key == page:
            if chapter.view is None:
                raise ValueError(f"chapter {page!r} has no page yet")
            return chapter.view
    raise ValueError(f"unknown page {page!r}")


@pytest.fixture
def app_test():
    """Factory: ``app_test(page=None, lang="en", run=True)`` -> an AppTest of dashboard/Home.py.

    The language is seeded through ``session_state`` before the first run (the sidebar only reads
    ``?lang=`` when the session has no language yet). A page is selected with ``switch_page`` after
    one run of the home page, which registers the pages.
    """
    from streamlit.testing.v1 import AppTest

    def make(page: str | None = None, lang: str = "en", run: bool = True) -> AppTest:
        at = AppTest.from_file(str(HOME_SCRIPT), default_timeout=APP_TIMEOUT_S)
        at.session_state["lang"] = lang
        script = page_script(page)
        if script is not None:
            # st.navigation registers each chapter's page.py under the chapter's url_path; AppTest
            # matches a page file to it only after one run has registered the pages (the home page).
            at.run()
            at.switch_page(script)
        return at.run() if run else at

    return make


@pytest.fixture
def page_app(app_test):
    """Factory: ``page_app(page, lang="en")`` -> an AppTest that has drawn ``page`` without an exception."""

    def make(page: str, lang: str = "en"):
        at = app_test(page, lang=lang)
        assert not at.exception, [e.value for e in at.exception]
        return at

    return make


@pytest.fixture
def fresh_caches():
    """Empty Streamlit caches before and after a test: a checkpoint or data folder a test swaps in
    must not be served from (or leak into) ``st.cache_resource`` / ``st.cache_data``."""
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()
