"""Links restore a page: change a page's controls, open its address in a fresh browser, find them all again.

Every widget is bound to the URL (``dashboard.shared.links``). For every page this test moves the
first enabled slider under every section header (with the keyboard, as a student would) and picks
the second option of every radio group, then opens the address bar's URL in a new browser context
(no cookies, no session) and compares every control's value and every metric on the page.
"""

from __future__ import annotations

import pytest

from dashboard.shared.i18n import translate
from dashboard.shared.links import anchor
from tests.e2e.test_browser import PAGES, assert_no_errors, wait_for_heading, wait_until_idle

pytestmark = pytest.mark.e2e

# Every keyed control in the main area: {key: what it shows and holds}.
CONTROLS = """() => {
  const out = {};
  for (const holder of document.querySelectorAll('[data-testid="stMain"] [class*="st-key-"]')) {
    const widget = holder.querySelector('[data-testid="stSlider"], [data-testid="stRadio"], '
      + '[data-testid="stSelectbox"], [data-testid="stCheckbox"], [data-testid="stNumberInput"], '
      + '[data-testid="stButtonGroup"]');
    if (!widget || widget.closest('[class*="st-key-"]') !== holder) continue;
    const key = Array.from(holder.classList).find(c => c.startsWith('st-key-')).slice(7);
    const inputs = Array.from(widget.querySelectorAll('input')).map(i => i.type === 'radio' || i.type === 'checkbox'
      ? String(i.checked) : i.value);
    const pressed = Array.from(widget.querySelectorAll('[aria-checked="true"], [aria-pressed="true"]'))
      .map(b => b.innerText);
    const shown = Array.from(widget.querySelectorAll('[data-testid="stSliderThumbValue"]')).map(v => v.innerText);
    // A slider's input holds an index (a select slider's options may change); compare the value it shows.
    out[key] = JSON.stringify([shown.length ? shown : inputs, pressed,
                               widget.querySelector('[data-baseweb="select"]')?.innerText ?? '']);
  }
  return out;
}"""

METRICS = """() => Array.from(document.querySelectorAll('[data-testid="stMain"] [data-testid="stMetric"]'))
  .map(m => m.innerText.replace(/\\s+/g, ' '))"""

# Per section (h2), the key of the first enabled slider under it; and every horizontal or vertical radio group.
TARGETS = """() => {
  const headers = Array.from(document.querySelectorAll('[data-testid="stMain"] h2'));
  const sliders = {}, radios = [];
  for (const s of document.querySelectorAll('[data-testid="stMain"] [data-testid="stSlider"]')) {
    const holder = s.closest('[class*="st-key-"]');
    const thumb = s.querySelector('input[type="range"]');
    if (!holder || !thumb || thumb.disabled || s.offsetParent === null) continue;
    let header = '';
    for (const h of headers) if (h.compareDocumentPosition(s) & Node.DOCUMENT_POSITION_FOLLOWING) header = h.id;
    if (!(header in sliders))
      sliders[header] = Array.from(holder.classList).find(c => c.startsWith('st-key-')).slice(7);
  }
  for (const r of document.querySelectorAll('[data-testid="stMain"] [data-testid="stRadio"]')) {
    const holder = r.closest('[class*="st-key-"]');
    const options = r.querySelectorAll('input[type="radio"]');
    const key = holder ? Array.from(holder.classList).find(c => c.startsWith('st-key-')).slice(7) : '';
    // shown, enabled, and page state (a claim's guess is the student's own: not in the link)
    if (holder && options.length > 1 && !options[1].disabled && r.offsetParent !== null && !key.startsWith('claims_'))
      radios.push(key);
  }
  return {sliders: Object.values(sliders), radios};
}"""

SKIPPED_RADIOS = {"diffusion_mnist_source"}  # held-out digits need ../shared/data/mnist, which a CI clone has


# Whether the section header with this text is near the top of the window.
SECTION_IN_VIEW = """(title) => {
  const h = Array.from(document.querySelectorAll('[data-testid="stMain"] h2')).find(h => h.innerText.trim() === title);
  const top = h ? h.getBoundingClientRect().top : -1;
  return top >= 0 && top < 300;
}"""


def wait_for_section_in_view(page, prefix: str) -> None:
    """Until the section ``{prefix}.title`` has been scrolled to the top of the window."""
    page.wait_for_function(SECTION_IN_VIEW, arg=translate("en", f"{prefix}.title"), timeout=15_000)


def wait_for_slider(page, key: str, shown: str) -> None:
    """Until the slider ``key`` shows ``shown``: "Show it" reruns the claims first and the page after them, so
    the app can be idle for a moment between the two runs."""
    page.wait_for_function("([key, shown]) => document.querySelector("
                           "`.st-key-${key} [data-testid='stSliderThumbValue']`)?.innerText === shown",
                           arg=[key, shown], timeout=30_000)
    wait_until_idle(page)


def open_page(page, url: str, heading: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    wait_for_heading(page, heading)


@pytest.mark.parametrize("name, path, heading_key", PAGES[1:], ids=[p[0] for p in PAGES[1:]])
def test_a_link_restores_every_control_and_number(browser, streamlit_server, name, path, heading_key):
    heading = translate("en", heading_key)
    first = browser.new_context(viewport={"width": 1400, "height": 900})
    page = first.new_page()
    page.set_default_timeout(60_000)
    open_page(page, f"{streamlit_server}/{path}?lang=en", heading)
    targets = page.evaluate(TARGETS)
    assert targets["sliders"], f"no slider found on {name}"
    for key in targets["sliders"]:
        thumb = page.locator(f".st-key-{key} input[type='range']").first
        thumb.scroll_into_view_if_needed()
        thumb.focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        wait_until_idle(page)
    for key in targets["radios"]:
        if key in SKIPPED_RADIOS or page.locator(f".st-key-{key}").count() == 0:
            continue
        option = page.locator(f".st-key-{key} label").nth(1)
        option.scroll_into_view_if_needed()
        option.click()
        wait_until_idle(page)
    assert_no_errors(page)
    link, controls, metrics = page.url, page.evaluate(CONTROLS), page.evaluate(METRICS)
    first.close()
    assert "?" in link and len(link.split("?", 1)[1].split("&")) > 2, f"the URL holds no state: {link}"

    fresh = browser.new_context(viewport={"width": 1400, "height": 900})  # no cookies, no session
    page = fresh.new_page()
    page.set_default_timeout(60_000)
    try:
        open_page(page, link, heading)
        restored = page.evaluate(CONTROLS)
        differing = {key: (value, restored.get(key)) for key, value in controls.items() if restored.get(key) != value}
        assert not differing, f"{name}: controls not restored from {link}: {differing}"
        assert page.evaluate(METRICS) == metrics, f"{name}: numbers differ after opening {link}"
    finally:
        fresh.close()


def test_a_bad_link_falls_back_to_defaults_with_a_notice(page, streamlit_server):
    """Text in a number, a value out of range and an unknown name: defaults, a notice, no error."""
    heading = translate("en", "diffusion.title")
    open_page(page, f"{streamlit_server}/diffusion?lang=en", heading)
    defaults = page.evaluate(CONTROLS)
    open_page(page, f"{streamlit_server}/diffusion?lang=en&diffusion_forward_t=abc&diffusion_mnist_steps=7"
                    f"&no_such_setting=1", heading)
    toast = page.locator('[data-testid="stToast"]')
    toast.first.wait_for(state="visible")
    text = toast.first.inner_text()
    assert "no_such_setting" in text and "diffusion_forward_t" in text and "diffusion_mnist_steps" in text, text
    assert page.evaluate(CONTROLS) == defaults
    assert_no_errors(page)


def test_a_link_opens_the_page_at_a_section_and_can_hide_controls_and_prose(page, streamlit_server):
    heading = translate("en", "diffusion.title")
    section = anchor("diffusion_inpaint")
    open_page(page, f"{streamlit_server}/diffusion?lang=en&hide=prose,diffusion_forward_t#{section}", heading)
    wait_for_section_in_view(page, "diffusion_inpaint")  # scrolled there once drawn (charts above push it)
    assert page.locator(".st-key-diffusion_forward_t").is_hidden()
    prose = page.locator('[data-testid="stMain"] [data-testid="stMarkdown"]:not(:has(.katex-display))')
    assert prose.count() > 5 and all(not p.is_visible() for p in prose.all()[:10])


def test_a_claim_is_shown_with_one_click_and_opened_from_its_link(page, streamlit_server):
    heading = translate("en", "divergences.title")
    open_page(page, f"{streamlit_server}/divergences?lang=en", heading)
    page.locator('[data-testid="stExpander"] summary').first.click()
    page.locator(".st-key-claims_divergences_modes_show button").click()
    wait_for_slider(page, "modes_separation", "6.00")  # the claim's click reruns the claim, then the page
    wait_for_section_in_view(page, "divergences.modes")  # "Show it" scrolled to the section
    # The claim's link, in a fresh page: the disjoint supports, JS = log 2 on the metric.
    open_page(page, f"{streamlit_server}/divergences?lang=en&claim=disjoint", heading)
    js = next(m for m in page.evaluate(METRICS) if m.startswith("JS(P, Q)"))
    assert "0.693" in js, js
    assert_no_errors(page)


def test_the_keyboard_steps_through_the_claims(page, streamlit_server):
    """N shows the next claim, B the previous one (the divergences page: disjoint supports, then the modes)."""
    heading = translate("en", "divergences.title")
    open_page(page, f"{streamlit_server}/divergences?lang=en", heading)
    page.locator('[data-testid="stMain"] h1').first.click()  # the page has the focus, not a field
    page.keyboard.press("n")
    wait_until_idle(page)
    page.wait_for_function("() => Array.from(document.querySelectorAll('[data-testid=\"stMetric\"]'))"
                           ".some(m => m.innerText.startsWith('JS(P, Q)') && m.innerText.includes('0.693'))")
    page.keyboard.press("n")
    wait_for_slider(page, "modes_separation", "6.00")
    page.keyboard.press("b")
    wait_until_idle(page)
    assert page.locator(".st-key-claims_divergences_previous button").is_disabled()  # back at the first claim
    assert_no_errors(page)
