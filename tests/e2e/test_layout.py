"""What students see: every page at 1280x720 and at 150% zoom (853x480 CSS px at device scale 1.5,
which is what a 1280x720 screen shows at 150%), in both languages, in a real headless Chromium.

Nothing may run off the side, no button label, metric or option row may be cut, no formula may
lose a pixel row to the box that clips it (the bar of ᾱ once vanished), and no display equation may be wider
than its column: it would scroll sideways behind an invisible scroll bar, and a student reads half a formula.
A long formula is broken into lines (``aligned`` / ``gathered``) with its remarks in the text beside it.
Screenshots land in test-output/screenshots/<page>-<lang>-<100|150>.png.
"""

from __future__ import annotations

import pytest

from dashboard.shared.i18n import LANGUAGES, translate
from tests.e2e.test_browser import PAGES, SCREENSHOTS, assert_no_errors, full_page_screenshot, wait_for_heading

pytestmark = pytest.mark.e2e

VIEWS = {  # name: (viewport in CSS px, device scale factor)
    "100": ({"width": 1280, "height": 720}, 1),
    "150": ({"width": 853, "height": 480}, 1.5),
}
# Known, reported to the pages' owners: metric values wider than their column (long numbers such as
# "-0.14030305" in a 161 px column). Remove an entry once its page is fixed.
CUT_PENDING: dict[tuple[str, str], str] = {}  # (page, zoom) -> known cut text still to fix
KATEX_ROOM_EM = 0.1  # KaTeX ink was measured up to 0.06 em outside its own box (1.2 px at 19.4 px)

LAYOUT = r"""(roomEm) => {
    const visible = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
    const name = el => (el.getAttribute('data-testid') || el.className || el.tagName).toString().slice(0, 60);
    const main = document.querySelector('[data-testid="stMain"]');
    const de = document.documentElement;
    const overflow = {page: [de.scrollWidth, de.clientWidth], main: [main.scrollWidth, main.clientWidth]};

    const buttons = [];
    for (const button of document.querySelectorAll('button')) {
        if (!visible(button)) continue;
        for (const el of [button, ...button.querySelectorAll('[data-testid="stMarkdownContainer"], p')]) {
            if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
                buttons.push({label: button.innerText.trim().slice(0, 80), scrollWidth: el.scrollWidth,
                              clientWidth: el.clientWidth});
                break;
            }
        }
    }

    // Every formula against every ancestor that clips it, up to the scrolling page container.
    const katex = [];
    for (const k of document.querySelectorAll('.katex')) {
        const box = (k.querySelector('.katex-html') || k).getBoundingClientRect();
        if (box.width === 0 || box.height === 0) continue;
        const room = roomEm * parseFloat(getComputedStyle(k).fontSize);
        for (let a = k.parentElement; a && a !== main; a = a.parentElement) {
            const style = getComputedStyle(a), clip = a.getBoundingClientRect();
            const report = (side, gap) => katex.push({formula: k.textContent.slice(0, 60), clipper: name(a), side,
                                                      gap: +gap.toFixed(2), room: +room.toFixed(2)});
            // Vertically, ink rounds past KaTeX's box (accents, fraction bars), so it needs room;
            // a horizontally scrolling box loses nothing here (a display equation wider than its box is `wide`).
            const vertical = Math.min(box.top - clip.top, clip.bottom - box.bottom);
            if (style.overflowY !== 'visible' && vertical < room) report('top/bottom', vertical);
            const horizontal = Math.min(box.left - clip.left, clip.right - box.right);
            const clipsX = style.overflowX === 'hidden' || style.overflowX === 'clip';
            if (clipsX && horizontal < 0) report('left/right', horizontal);
        }
    }

    // Text Streamlit cuts with "…" (metric labels and values) and option rows scrolled sideways
    // (segmented controls): the student cannot read what is cut.
    const cut = [];
    for (const el of document.querySelectorAll('[data-testid="stMain"] .stMarkdownEllipsis')) {
        // innerText is empty for text the student cannot see (a closed expander's body, mid-animation)
        if (el.clientWidth > 1 && visible(el) && el.innerText.trim() && el.scrollWidth > el.clientWidth + 1)
            cut.push({text: el.innerText.trim().slice(0, 60), scrollWidth: el.scrollWidth,
                      clientWidth: el.clientWidth});
    }
    const optionRows = '[data-testid="stMain"] [data-testid="stButtonGroup"] div:has(> button)';
    for (const row of document.querySelectorAll(optionRows)) {
        if (visible(row) && row.scrollWidth > row.clientWidth + 1)
            cut.push({text: row.innerText.replace(/\s+/g, ' ').trim().slice(0, 60), scrollWidth: row.scrollWidth,
                      clientWidth: row.clientWidth});
    }

    const wide = Array.from(document.querySelectorAll('.katex-display')).filter(visible)
        .filter(d => d.scrollWidth > d.clientWidth + 3)
        .map(d => ({formula: d.textContent.slice(0, 60), width: d.scrollWidth, room: d.clientWidth}));
    return {overflow, buttons, katex, cut, wide};
}"""

# Hangul words split over two lines: with `word-break: keep-all` Korean wraps only at spaces.
BROKEN_KOREAN_WORDS = """(selector) => {
    const broken = [];
    for (const el of document.querySelectorAll(selector)) {
        const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const match of node.textContent.matchAll(/[\\uac00-\\ud7a3]+/g)) {
                const range = document.createRange();
                range.setStart(node, match.index);
                range.setEnd(node, match.index + match[0].length);
                const tops = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0)
                                          .map(r => Math.round(r.top)));
                if (tops.size > 1) broken.push(match[0]);
            }
        }
    }
    return broken;
}"""

# The KL panel of the "move Q away" sweep (axes x/y) and its "KL = ∞" note, in page pixels.
KL_NOTE = """() => {
    const gd = document.querySelector('.st-key-sweep_figure .js-plotly-plot');
    if (!gd || !gd._fullLayout) return null;
    const svg = gd.querySelector('.main-svg').getBoundingClientRect();
    const panel = k => { const x = gd._fullLayout['xaxis' + k], y = gd._fullLayout['yaxis' + k];
        return {left: svg.left + x._offset, right: svg.left + x._offset + x._length,
                top: svg.top + y._offset, bottom: svg.top + y._offset + y._length}; };
    const note = Array.from(gd.querySelectorAll('.annotation')).find(a => a.textContent.includes('∞'));
    if (!note) return {note: null};
    const r = note.querySelector('.annotation-text-g').getBoundingClientRect();
    return {note: {left: r.left, right: r.right, top: r.top, bottom: r.bottom}, kl: panel(''), js: panel('2')};
}"""


@pytest.fixture
def view(browser):
    """Factory: ``view("150")`` -> a fresh page with that viewport and device scale."""
    contexts = []

    def make(name: str):
        viewport, scale = VIEWS[name]
        context = browser.new_context(viewport=viewport, device_scale_factor=scale)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        return page

    yield make
    for context in contexts:
        context.close()


def open_page(view, server: str, zoom: str, path: str, heading_key: str, lang: str):
    page = view(zoom)
    page.goto(f"{server}/{path}?lang={lang}", wait_until="domcontentloaded")
    wait_for_heading(page, translate(lang, heading_key))
    return page


@pytest.mark.parametrize("zoom", list(VIEWS))
@pytest.mark.parametrize("lang", list(LANGUAGES))
@pytest.mark.parametrize("name, path, heading_key", PAGES, ids=[p[0] for p in PAGES])
def test_page_reads_at_this_size(view, streamlit_server, server_log, name, path, heading_key, lang, zoom):
    """Every page in both languages at 100% and 150%: drawn without an error or a missing translation, and
    nothing scrolls sideways, is cut, or squeezes a formula."""
    logged_before = server_log.stat().st_size
    page = open_page(view, streamlit_server, zoom, path, heading_key, lang)
    found = page.evaluate(LAYOUT, KATEX_ROOM_EM)
    full_page_screenshot(page, SCREENSHOTS / f"{name}-{lang}-{zoom}.png")
    assert_no_errors(page)  # nothing broke while the charts finished drawing
    # Keys built at run time (f-strings) escape the static i18n test; the fallback logs them here.
    with server_log.open(encoding="utf-8", errors="replace") as log:
        log.seek(logged_before)
        problems = [line for line in log.read().splitlines() if "missing translation" in line or "Traceback" in line]
    assert not problems, f"the server logged while drawing {name} ({lang}, {zoom}%): {problems}"
    for where, (scroll_width, client_width) in found["overflow"].items():
        assert scroll_width <= client_width + 1, f"{name} ({lang}, {zoom}%): the {where} scrolls sideways"
    assert not found["buttons"], f"{name} ({lang}, {zoom}%): button labels cut: {found['buttons']}"
    assert not found["wide"], f"{name} ({lang}, {zoom}%): equations wider than their box, they scroll: {found['wide']}"
    if found["cut"] and (name, zoom) in CUT_PENDING:
        pytest.xfail(f"{name} ({lang}, {zoom}%): {CUT_PENDING[name, zoom]}: {found['cut']}")
    assert not found["cut"], f"{name} ({lang}, {zoom}%): text cut off: {found['cut']}"
    assert not found["katex"], f"{name} ({lang}, {zoom}%): formulas touching a clipping box: {found['katex']}"


@pytest.mark.parametrize("zoom", list(VIEWS))
def test_korean_wraps_between_words_on_the_home_page(view, streamlit_server, zoom):
    page = open_page(view, streamlit_server, zoom, "", "home.title", "ko")
    text = '.course-map, [data-testid="stMain"] [data-testid="stMarkdownContainer"]'
    broken = page.evaluate(BROKEN_KOREAN_WORDS, text)
    assert not broken, f"Korean words split over two lines at {zoom}%: {broken}"


@pytest.mark.parametrize("zoom", list(VIEWS))
@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_kl_infinity_note_stays_in_the_kl_panel(view, streamlit_server, zoom, lang):
    page = open_page(view, streamlit_server, zoom, "divergences", "divergences.title", lang)
    page.locator(".st-key-sweep_figure").scroll_into_view_if_needed()
    found = page.evaluate(KL_NOTE)
    assert found and found["note"], "the default sweep (two uniforms) should carry the KL = ∞ note"
    note, kl, js = found["note"], found["kl"], found["js"]
    assert kl["left"] - 1 <= note["left"] and note["right"] <= kl["right"] + 1, (note, kl)
    assert kl["top"] - 1 <= note["top"] and note["bottom"] <= kl["bottom"] + 1, (note, kl)
    assert note["right"] < js["left"], (note, js)
