"""Every page in both languages in a real headless Chromium: no error boxes, a title, a screenshot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dashboard.shared.course import built_chapters
from dashboard.shared.i18n import LANGUAGES, catalog, translate

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
LOAD_TIMEOUT_MS = 90_000  # the first run of a page imports torch and scipy
SETTLE_MS = 750  # charts and LaTeX finish drawing after the script run ends
MAX_SCREENSHOT_HEIGHT = 12_000


def title_key(chapter_key: str) -> str:
    """A page's heading: ``<chapter>.title`` from its own catalog file, else its navigation title."""
    own = f"{chapter_key}.title"
    return own if own in catalog("en") else f"home.chapters.{chapter_key}.title"


# (name, URL path, catalog key of the heading the page must show)
PAGES = [("home", "", "home.title")] + [(c.key, c.key, title_key(c.key)) for c in built_chapters()]

SCRIPT_IDLE = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app !== null
        && app.getAttribute('data-test-script-state') === 'notRunning'
        && document.querySelector('[data-testid="stStatusWidget"]') === null;
}"""

# Streamlit first draws grey skeletons and fills them in; a resize re-lays charts out again.
DRAWN = """() => document.querySelectorAll('[data-testid="stSkeleton"]').length === 0
    && Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
            .every(chart => chart.querySelector('.main-svg') !== null)"""

CONTENT_HEIGHT = """() => Math.max(
    document.documentElement.scrollHeight,
    ...Array.from(document.querySelectorAll(
        '[data-testid="stMain"], [data-testid="stAppViewContainer"], [data-testid="stMainBlockContainer"]'
    )).map(el => el.scrollHeight)
)"""


def wait_until_idle(page) -> None:
    """Wait for the app to mount and for its script run to finish (twice, around a short settle)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=LOAD_TIMEOUT_MS)
    page.wait_for_function(SCRIPT_IDLE, timeout=LOAD_TIMEOUT_MS)
    page.wait_for_timeout(SETTLE_MS)
    page.wait_for_function(SCRIPT_IDLE, timeout=LOAD_TIMEOUT_MS)
    page.wait_for_function(DRAWN, timeout=LOAD_TIMEOUT_MS)


def assert_no_errors(page) -> None:
    for testid in ("stException", "stAlertContentError"):
        boxes = page.locator(f'[data-testid="{testid}"]')
        texts = [text[:500] for text in boxes.all_inner_texts()]
        assert not texts, f"{testid} on {page.url}: {texts}"


def main_heading(page, text: str):
    return page.locator('[data-testid="stMain"] h1').filter(has_text=text).first


def wait_for_heading(page, text: str) -> None:
    """Wait until the page shows ``text`` as its title, or fail at once on an error box."""
    failure = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    main_heading(page, text).or_(failure).first.wait_for(state="visible", timeout=LOAD_TIMEOUT_MS)
    wait_until_idle(page)
    assert_no_errors(page)
    assert main_heading(page, text).is_visible(), f"no heading {text!r} on {page.url}"


def full_page_screenshot(page, path: Path) -> None:
    """Streamlit scrolls inside its own container, so grow the viewport to the content first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    viewport = page.viewport_size
    height = viewport["height"]
    for _ in range(3):  # charts re-lay out at the new size; stop once the height holds still
        wanted = max(viewport["height"], min(int(page.evaluate(CONTENT_HEIGHT)), MAX_SCREENSHOT_HEIGHT))
        if wanted == height:
            break
        height = wanted
        page.set_viewport_size({"width": viewport["width"], "height": height})
        page.wait_for_timeout(SETTLE_MS)
        page.wait_for_function(DRAWN, timeout=LOAD_TIMEOUT_MS)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(viewport)


def test_language_radio_and_sidebar_navigation(page, streamlit_server):
    page.goto(f"{streamlit_server}/?lang=en", wait_until="domcontentloaded")
    wait_for_heading(page, translate("en", "home.title"))

    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.locator('[data-testid="stRadio"]').get_by_text(LANGUAGES["ko"], exact=True).click()
    wait_for_heading(page, translate("ko", "home.title"))
    assert re.search(r"[?&]lang=ko\b", page.url), page.url

    # Through the sidebar link, not a typed URL: the language must come along.
    link = translate("ko", "home.chapters.divergences.title")
    sidebar.locator('[data-testid="stSidebarNav"] a').filter(has_text=link).first.click()
    page.wait_for_url(re.compile(r"/divergences\b"), timeout=LOAD_TIMEOUT_MS)
    wait_for_heading(page, translate("ko", title_key("divergences")))
    assert re.search(r"[?&]lang=ko\b", page.url), page.url
    assert sidebar.get_by_text(translate("ko", "common.sidebar.device_heading"), exact=True).is_visible()


def test_live_training_plays_and_pauses_in_the_browser(page, streamlit_server):
    """The play loop is a run_every fragment that only a browser drives (AppTest cannot tick it)."""
    page.goto(f"{streamlit_server}/likelihood?lang=en", wait_until="domcontentloaded")
    wait_for_heading(page, translate("en", "likelihood.title"))
    main = page.locator('[data-testid="stMain"]')
    main.get_by_role("button", name=translate("en", "training.play")).click()
    step = re.compile(r"Training… step (\d+)")
    playing = main.get_by_text(step).first
    playing.wait_for(state="visible", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_timeout(2500)  # several ticks
    first = int(step.search(playing.inner_text()).group(1))
    page.wait_for_timeout(1500)
    later = int(step.search(main.get_by_text(step).first.inner_text()).group(1))
    assert later > first > 0, (first, later)
    main.get_by_role("button", name=translate("en", "training.pause")).click()
    paused = main.get_by_text(re.compile(r"Paused at step (\d+)")).first
    paused.wait_for(state="visible", timeout=LOAD_TIMEOUT_MS)
    stopped_at = int(re.search(r"Paused at step (\d+)", paused.inner_text()).group(1))
    page.wait_for_timeout(1500)
    again_text = main.get_by_text(re.compile(r"Paused at step")).first.inner_text()
    again = int(re.search(r"Paused at step (\d+)", again_text).group(1))
    assert again == stopped_at >= later  # paused means paused
    assert_no_errors(page)
    full_page_screenshot(page, SCREENSHOTS / "likelihood-after-training-en.png")


def test_the_keyboard_plays_pauses_and_steps_the_live_panel(page, streamlit_server):
    """P plays and pauses, S takes the first step button's steps (here the likelihood page's "step x1")."""
    page.goto(f"{streamlit_server}/likelihood?lang=en", wait_until="domcontentloaded")
    wait_for_heading(page, translate("en", "likelihood.title"))
    main = page.locator('[data-testid="stMain"]')
    paused = re.compile(r"Paused at step (\d+)")

    def paused_at() -> int:
        return int(paused.search(main.get_by_text(paused).first.inner_text()).group(1))

    main.locator("h1").first.click()  # focus on the page, not on a field
    page.keyboard.press("s")
    page.wait_for_function("() => /Paused at step 1\\b/.test(document.body.innerText)", timeout=LOAD_TIMEOUT_MS)
    page.keyboard.press("p")
    main.get_by_text(re.compile(r"Training… step (\d+)")).first.wait_for(state="visible", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_timeout(1500)
    page.keyboard.press("p")
    main.get_by_text(paused).first.wait_for(state="visible", timeout=LOAD_TIMEOUT_MS)
    assert paused_at() > 1
    page.get_by_role("button", name=translate("en", "common.keyboard.title")).click()
    assert page.get_by_text(translate("en", "common.keyboard.play")).is_visible()
    assert_no_errors(page)


FILM_STATE = """() => {
    const gd = document.querySelector('.st-key-diffusion_live_film .js-plotly-plot');
    if (gd === null || !gd._fullLayout || !gd._fullLayout.sliders || !gd._fullLayout.sliders.length) return null;
    return {active: gd._fullLayout.sliders[0].active, frames: (gd._transitionData._frames || []).length,
            x: Array.from(gd._fullData[0].x || []).slice(0, 20)};
}"""


def test_reverse_process_animation_plays_in_the_browser(page, streamlit_server):
    """The diffusion page's reverse-process film is plotly frames: its play button moves the cloud
    and the frame slider in the browser, with no Streamlit rerun (the script stays idle)."""
    page.goto(f"{streamlit_server}/diffusion?lang=en", wait_until="domcontentloaded")
    wait_for_heading(page, translate("en", "diffusion.title"))
    chart = page.locator(".st-key-diffusion_live_film")
    chart.scroll_into_view_if_needed()
    page.wait_for_function(f"() => ({FILM_STATE})() !== null", timeout=LOAD_TIMEOUT_MS)
    before = page.evaluate(FILM_STATE)
    assert before["frames"] > 10 and before["active"] == 0, before
    chart.locator(".updatemenu-button").first.click()
    page.wait_for_function(f"() => ({FILM_STATE})().active >= 5", timeout=20_000)
    after = page.evaluate(FILM_STATE)
    assert before["x"] and after["x"] != before["x"]  # the particles moved
    assert page.evaluate(SCRIPT_IDLE)  # ... without asking the server for anything
    assert_no_errors(page)


# Every image on the page as (its caption, its URL): Streamlit names media by their content.
IMAGES = """() => Array.from(document.querySelectorAll('[data-testid="stImage"]'))
    .map(el => [el.innerText.trim(), el.querySelector('img')?.getAttribute('src') ?? ''])"""


def test_a_new_mnist_generation_reaches_the_scrubber(page, streamlit_server):
    """The MNIST grid's settings and the scrubber are fragments of their own: pressing Generate must
    still redraw the scrubber (and the one-step view) from the new digits, not the old ones."""
    page.goto(f"{streamlit_server}/diffusion?lang=en", wait_until="domcontentloaded")
    wait_for_heading(page, translate("en", "diffusion.title"))
    scrub = tuple(translate("en", f"diffusion_mnist.scrub.{key}", t="|").split("|")[0]
                  for key in ("xt_caption", "x0_caption"))  # the captions up to their step

    def scrub_images() -> dict:
        return {caption: src for caption, src in page.evaluate(IMAGES) if caption.startswith(scrub)}

    before = scrub_images()
    assert len(before) == 2 and all(before.values()), before
    seed = page.locator(".st-key-diffusion_mnist_seed input")
    seed.fill("7")
    seed.press("Enter")
    wait_until_idle(page)
    assert scrub_images() == before  # a setting alone changes nothing below the grid
    page.locator(".st-key-diffusion_mnist_generate button").click()
    page.wait_for_function(f"(before) => !({IMAGES})().some(([c, src]) => before.includes(src))",
                           arg=list(before.values()), timeout=LOAD_TIMEOUT_MS)
    wait_until_idle(page)
    after = scrub_images()
    assert after.keys() == before.keys()  # the same kept steps ...
    assert all(after[c] != before[c] for c in before), (before, after)  # ... of the new digits
    assert_no_errors(page)


def test_the_projector_view_enlarges_the_page_and_its_figures(browser, streamlit_server):
    """?projector=true on every page: a larger root font, the explanations folded, figures with larger type
    (against the same page without it, on the divergences page); screenshots of every page in it at
    1280x720 go to test-output/screenshots/projector-<page>.png."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.set_default_timeout(60_000)
    prose = page.locator('[data-testid="stMain"] [data-testid="stMarkdown"]:not(:has(.katex-display))')

    def look(path: str, heading_key: str, projector: bool) -> tuple[float, float, int]:
        page.goto(f"{streamlit_server}/{path}?lang=en{'&projector=true' if projector else ''}",
                  wait_until="domcontentloaded")
        wait_for_heading(page, translate("en", heading_key))
        root = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
        tick = page.evaluate("""() => {
            const t = document.querySelector('.js-plotly-plot .xtick text');
            return t ? parseFloat(t.style.fontSize || getComputedStyle(t).fontSize) : 0; }""")
        return root, tick, sum(p.is_visible() for p in prose.all()[:8])

    try:
        root, tick, shown = look("divergences", "divergences.title", projector=False)
        assert shown > 0 and tick > 0
        for name, path, heading_key in PAGES:
            big_root, big_tick, big_shown = look(path, heading_key, projector=True)
            page.screenshot(path=str(SCREENSHOTS / f"projector-{name}.png"))
            assert big_root > root and big_shown == 0, (name, big_root, big_shown)
            if name == "divergences":
                assert big_tick >= 1.4 * tick, (tick, big_tick)
    finally:
        context.close()
