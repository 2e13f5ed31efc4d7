"""The home page and the shared sidebar, run server-side with AppTest."""

from __future__ import annotations

import re

import pytest

from dashboard.ui.course import CHAPTERS, built_chapters
from dashboard.ui.i18n import LANGUAGES, catalog, translate


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
def test_five_chapter_cards_with_status(app_test, lang):
    at = app_test(lang=lang)
    cards = chapter_cards(at)
    assert len(cards) == len(CHAPTERS) == 5
    soon, ready = translate(lang, "home.coming_soon"), translate(lang, "home.ready")
    for number, (chapter, card) in enumerate(zip(CHAPTERS, cards), start=1):
        title = translate(lang, f"home.chapters.{chapter.key}.title")
        assert card.get("subheader")[0].value == f"{number}. {title}"
        badges = " ".join(m.value for m in card.get("markdown"))
        links = card.get("page_link")
        if chapter.view is None:
            assert soon in badges, f"{chapter.key}: no 'coming soon' badge"
            assert not links, f"{chapter.key} is not built but links to a page"
        else:
            assert ready in badges and soon not in badges
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
