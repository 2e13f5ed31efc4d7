"""A classroom on one server: two browser sessions play the live GAN while settings change under them.

The bug this guards against took the whole class down: a widget change starts a new script run
while the session's previous run is still inside a training tick, two threads stepped one torch
trainer at once, and the server died (segfault, ``malloc(): unsorted double linked list
corrupted``). Here two real sessions play the live 2D GAN, and 24 live-setting edits (learning
rates, loss, D steps, batch) land on them, alternating, while both play. After every edit the
server must still answer; at the end both sessions must still be training, with no error box.
"""

from __future__ import annotations

import re

import pytest

from dashboard.shared.i18n import translate
from tests.e2e.test_browser import LOAD_TIMEOUT_MS, SCREENSHOTS, assert_no_errors, wait_for_heading

pytestmark = pytest.mark.e2e

KEY = "gan_live"
STEP = re.compile(r"step ([\d,]+)")
SLIDERS = ("g_lr", "d_lr", "d_steps", "batch")  # select sliders: keyboard arrows move them one option
LOSSES = ("wgan_gp", "least_squares", "hinge", "minimax", "non_saturating")
EDITS = 16  # every slider several times and four loss changes, alternating between the two sessions


def step_of(page) -> int:
    """The step count in the live view's status caption ("Training… step 1,234 (…)")."""
    caption = page.locator(f".st-key-{KEY}_view [data-testid='stCaptionContainer']").first.inner_text()
    match = STEP.search(caption)
    assert match, caption
    return int(match.group(1).replace(",", ""))


def open_playing(context, url: str):
    page = context.new_page()
    page.set_default_timeout(LOAD_TIMEOUT_MS)
    page.goto(f"{url}/gan?lang=en", wait_until="domcontentloaded")
    wait_for_heading(page, translate("en", "gan.title"))
    page.locator(f".st-key-{KEY}_play button").click()
    page.locator(f".st-key-{KEY}_pause button").wait_for(state="visible")
    return page


def edit(page, number: int) -> str:
    """One live-setting change, as a student makes it: arrow keys on a slider, or a new loss."""
    if number % 4 == 3:
        loss = LOSSES[(number // 4) % len(LOSSES)]
        box = page.locator(f".st-key-{KEY}_loss input")
        box.click()
        box.fill(translate("en", f"gan_live.losses.{loss}"))
        box.press("Enter")
        return f"loss={loss}"
    name = SLIDERS[number % len(SLIDERS)]
    slider = page.locator(f".st-key-{KEY}_{name} input[type=range]")
    slider.focus()
    for _ in range(1 + number % 2):  # one or two presses: a new run may start while the last still ticks
        slider.press("ArrowLeft" if (number // 4) % 2 else "ArrowRight")
    return f"{name}={slider.get_attribute('aria-valuetext')}"


def test_two_sessions_edit_live_gan_settings_while_both_play(browser, streamlit_app):
    if translate("en", "gan.title") == "gan.title":  # the heading key moved: fail loudly, not on a timeout
        pytest.fail("no catalog entry gan.title")
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(2)]
    try:
        pages = [open_playing(context, streamlit_app.url) for context in contexts]
        started = [None, None]
        for page_number, page in enumerate(pages):
            page.get_by_text(STEP).first.wait_for(state="visible")
            started[page_number] = step_of(page)
        done = []
        for number in range(EDITS):
            page = pages[number % 2]
            done.append(edit(page, number))
            page.wait_for_timeout(350)  # about one tick: the next edit lands while this one's run trains
            assert streamlit_app.alive(), f"the server died after edit {number + 1}: {done}"
        for page in pages:
            page.wait_for_timeout(1000)
            assert page.locator(f".st-key-{KEY}_pause button").is_visible(), "a session stopped playing"
            before = step_of(page)
            page.wait_for_timeout(2500)
            after = step_of(page)
            assert after > before, f"a session stopped training: step {before} -> {after} after {done}"
            assert_no_errors(page)
        assert all(step_of(page) > start for page, start in zip(pages, started))
        pages[0].screenshot(path=str(SCREENSHOTS / "gan-live-stress-en.png"))
        assert streamlit_app.alive()
    finally:
        for context in contexts:
            context.close()
