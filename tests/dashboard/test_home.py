"""The home page and the shared sidebar, run server-side with AppTest."""

from __future__ import annotations

import re

import pytest

from dashboard.shared.course import CHAPTERS, built_chapters
from dashboard.shared.i18n import LANGUAGES, catalog, translate


def chapter_cards(at):
    """The bordered card of every chapter, found by its numbered subheader ("2. Divergences")."""
    cards = []
    for block in at.main.children.values():
        headers = [h.value for h in block.get("subheader")] if hasattr(block, "get") else []
        if len(headers) == 1 and re.match(r"\d+\. ", headers[0]):
            cards.append(block)
    return cards


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_home_renders_without_exception(app_test, lang):
    at = app_test(lang=lang)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == translate(lang, "home.title")


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_a_card_per_chapter_with_status(app_test, lang):
    at = app_test(lang=lang)
    cards = chapter_cards(at)
    assert len(cards) == len(CHAPTERS) == 6
    soon = translate(lang, "home.coming_soon")
    for number, (chapter, card) in enumerate(zip(CHAPTERS, cards), start=1):
        title = translate(lang, f"home.chapters.{chapter.key}.title")
        assert card.get("subheader")[0].value == f"{number}. {title}"
        badges = [m.value for m in card.get("markdown") if "-badge[" in m.value]
        links = card.get("page_link")
        if chapter.view is None:
            assert any(soon in badge for badge in badges), f"{chapter.key}: no 'coming soon' badge"
            assert not links, f"{chapter.key} is not built but links to a page"
        else:  # no badge: an "Open" badge beside "Open this chapter" said the same thing twice
            assert not badges, f"{chapter.key}: {badges}"
            assert [link.proto.page for link in links] == [chapter.key]
            assert links[0].proto.label == translate(lang, "home.open")


def test_korean_home_is_korean(app_test):
    at = app_test(lang="ko")
    assert at.title[0].value == catalog("ko")["home.title"]
    assert re.search(r"[\uac00-\ud7a3]", at.title[0].value)
    assert at.sidebar.radio(key="lang").value == "ko"
    assert at.query_params["lang"] == "ko"


def test_radio_switches_language_and_url(app_test):
    at = app_test(lang="en")
    assert at.title[0].value == translate("en", "home.title")
    at.sidebar.radio(key="lang").set_value("ko").run()
    assert at.title[0].value == translate("ko", "home.title")
    assert at.session_state["lang"] == "ko"


@pytest.mark.parametrize("chapter", built_chapters(), ids=lambda c: c.key)
def test_language_survives_page_switch(app_test, chapter):
    at = app_test(lang="ko")
    at.switch_page(chapter.view).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["lang"] == "ko"
    assert at.sidebar.radio(key="lang").value == "ko"
    assert at.query_params["lang"] == "ko"
    assert translate("ko", "common.sidebar.device_heading") in [c.value for c in at.sidebar.caption]


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_sidebar_shows_device(app_test, lang):
    from engine import device

    at = app_test(lang=lang)
    info = device.describe()
    template = catalog(lang)[f"common.sidebar.device_{info.kind}"]
    # The thread count is whatever the server capped it to; the rest of the line is fixed.
    pattern = re.escape(template).replace(r"\{threads\}", r"\d+").replace(r"\{name\}", ".+")
    lines = [m.value for m in at.sidebar.markdown]
    assert any(re.fullmatch(pattern, line) for line in lines), (pattern, lines)
    assert translate(lang, "common.sidebar.device_heading") in [c.value for c in at.sidebar.caption]


def test_course_map_draws_every_chapter_as_built():
    from dashboard.chapters.home.page import course_map_html

    drawn = course_map_html()
    assert drawn.count('class="step ready"') == len(built_chapters())
    assert drawn.count('class="step soon"') == len(CHAPTERS) - len(built_chapters())


def home_line(at, name: str) -> str:
    lines = [box.value for box in at.success if box.value.startswith(f"**{name}**")]
    assert len(lines) == 1, [box.value for box in at.success]
    return lines[0]


@pytest.mark.usefixtures("fresh_caches")
def test_home_quotes_the_dcgan_numbers_the_gan_page_shows(app_test, page_app):
    """One protocol for the DCGAN's Fréchet distance everywhere: 1000 samples against 1000 held-out
    digits, with its real-vs-real floor at that size (the card's `samples_frechet_vs_half`)."""
    from engine import checkpoints

    metrics = checkpoints.read_card(checkpoints.ASSETS_DIR / "dcgan")["metrics"]
    home = home_line(app_test(lang="en"), "dcgan")
    gan = {m.label: m.value for m in page_app("gan").metric}
    for home_key, gan_key, card_key in (("samples_frechet_vs_half", "frechet", "samples_frechet_vs_half"),
                                        ("frechet_floor_same_size", "floor", "frechet_floor_same_size")):
        shown = gan[translate("en", f"gan_mnist.card.{gan_key}")]
        assert shown == f"{metrics[card_key]:.1f}"
        assert f"{translate('en', f'home.models.metric.{home_key}')} {shown}," in home, (shown, home)
    # the all-2000-digits protocol (a different number) is not what the home page quotes
    assert f"{metrics['samples_frechet']:.1f}" not in home


def test_style_sheet_keeps_korean_words_whole_only_in_korean():
    """The router's app-wide CSS (dashboard/shared/style.py); tests/e2e/test_layout.py checks its effect."""
    from dashboard.shared.style import css

    assert "keep-all" in css("ko") and "keep-all" not in css("en")
    assert all(".katex-display" in css(lang) for lang in LANGUAGES)
