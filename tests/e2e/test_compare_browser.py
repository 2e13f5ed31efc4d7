"""Drawing on the compare page in a real browser: strokes become points, the race trains on them, Undo
takes a stroke back, and the page's link brings the same drawing to a fresh browser."""

from __future__ import annotations

import math

import pytest

from dashboard.shared import drawn
from dashboard.shared.i18n import translate
from tests.e2e.conftest import OUTPUT
from tests.e2e.test_browser import assert_no_errors, wait_for_heading, wait_until_idle

pytestmark = pytest.mark.e2e



def stroke(page, box, y: float, steps: int = 30) -> None:
    """Drag across the canvas along a wave at height ``y`` (a share of its side)."""
    x0, y0, side = box["x"], box["y"], box["width"]
    page.mouse.move(x0 + 0.15 * side, y0 + y * side)
    page.mouse.down()
    for i in range(steps + 1):
        u = i / steps
        page.mouse.move(x0 + (0.15 + 0.7 * u) * side, y0 + (y - 0.1 * math.sin(math.pi * u)) * side)
    page.mouse.up()


def points_shown(page) -> int:
    """The canvas's own count of its points (the component lives in a shadow root: a locator reaches it)."""
    text = page.locator(".gm-count").inner_text()
    return int(text.split()[0]) if text.strip() else 0


def wait_for_count(page, done, timeout_s: float = 30.0) -> int:
    for _ in range(int(timeout_s * 4)):
        if done(n := points_shown(page)):
            return n
        page.wait_for_timeout(250)
    raise AssertionError(f"the canvas shows {points_shown(page)} points")


def test_drawn_points_train_the_race_and_travel_in_the_link(browser, streamlit_server):
    first = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = first.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{streamlit_server}/compare?lang=en&compare_source=Draw", wait_until="domcontentloaded")
    wait_for_heading(page, translate("en", "compare.title"))
    wait_until_idle(page)
    canvas = page.locator(".gm-canvas canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    stroke(page, box, 0.35)
    page.wait_for_function("() => location.search.includes('drawn=')", timeout=30_000)
    after_one = points_shown(page)
    stroke(page, box, 0.7)
    wait_for_count(page, lambda n: n > after_one)
    wait_until_idle(page)
    both = points_shown(page)
    assert both > after_one >= drawn.MIN_POINTS
    page.get_by_role("button", name=translate("en", "compare.draw.undo")).click()
    wait_for_count(page, lambda n: n == after_one)
    wait_until_idle(page)
    canvas.scroll_into_view_if_needed()  # pressing Undo (under the canvas) scrolled the page
    stroke(page, canvas.bounding_box(), 0.7)  # draw the second stroke again, then train on the drawing
    wait_for_count(page, lambda n: n > after_one)
    wait_until_idle(page)
    page.locator(".st-key-compare_step10 button").click()
    page.wait_for_function("() => document.body.innerText.includes('Paused at step 10')", timeout=120_000)
    wait_until_idle(page)
    assert_no_errors(page)
    page.screenshot(path=str(OUTPUT / "screenshots" / "compare-drawn.png"), full_page=True)
    link, shown = page.url, points_shown(page)
    first.close()

    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = fresh.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(link, wait_until="domcontentloaded")
        wait_for_heading(page, translate("en", "compare.title"))
        wait_until_idle(page)
        wait_for_count(page, lambda n: n == shown)
        assert_no_errors(page)
    finally:
        fresh.close()
