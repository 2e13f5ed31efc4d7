"""Translations: every string a user sees comes from ``dashboard/locales/<lang>/*.toml``.

Each TOML file is one namespace named after the file, so ``locales/en/home.toml`` with

    [map]
    title = "The course at a glance"

is looked up as ``t("home.map.title")``. Placeholders use ``str.format`` syntax
(``"{threads} threads"``) and must be the same in every language; ``tests/dashboard/
test_i18n.py`` fails if a key or placeholder is missing in any language, or if the code
asks for a key that no catalog has.

The language of the current browser session lives in ``st.session_state["lang"]`` and is
mirrored into the URL (``?lang=ko``) by the sidebar, so a shared link opens in the same language.
"""

from __future__ import annotations

import functools
import logging
import tomllib
from pathlib import Path

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
LANGUAGES = {"en": "English", "ko": "한국어"}
DEFAULT_LANGUAGE = "en"
SESSION_KEY = "lang"

log = logging.getLogger(__name__)


def _flatten(table: dict, prefix: str) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}.{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name))
        elif isinstance(value, str):
            flat[name] = value
        else:
            raise TypeError(f"{name}: catalog values must be strings, got {type(value).__name__}")
    return flat


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """All strings of one language as a flat ``{"page.section.key": text}`` dict."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {sorted(LANGUAGES)}")
    strings: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / lang).glob("*.toml")):
        with path.open("rb") as handle:
            strings.update(_flatten(tomllib.load(handle), path.stem))
    return strings


def translate(lang: str, key: str, **values) -> str:
    """The text for ``key`` in ``lang``, formatted with ``values``.

    A missing key never crashes a page: it logs and falls back to English, then to the key
    itself (the i18n test keeps that from shipping).
    """
    text = catalog(lang).get(key)
    if text is None:
        log.warning("missing translation %r for %r", key, lang)
        text = catalog(DEFAULT_LANGUAGE).get(key, key)
    return text.format(**values) if values else text


def current_language() -> str:
    import streamlit as st

    lang = st.session_state.get(SESSION_KEY, DEFAULT_LANGUAGE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, **values) -> str:
    """``translate`` in the language of the current browser session."""
    return translate(current_language(), key, **values)


def labeler(prefix: str):
    """A ``format_func`` for option widgets: option ``v`` -> the text of ``<prefix>.<v>``.

    The language is fixed when the widget is drawn, so the function gives the same labels
    wherever it is called later (AppTest calls it outside the script run).
    """
    lang = current_language()
    return lambda value: translate(lang, f"{prefix}.{value}")


def texts(lang: str, prefix: str, names) -> dict[str, str]:
    """``{name: text of <prefix>.<name>}`` in ``lang``: the legend and axis labels a figure builder takes."""
    return {name: translate(lang, f"{prefix}.{name}") for name in names}
