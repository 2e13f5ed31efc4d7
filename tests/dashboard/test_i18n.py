"""The translation catalog: same keys and placeholders in every language, and nothing missing."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from dashboard.shared import i18n
from dashboard.shared.course import CHAPTERS

DASHBOARD = Path(i18n.__file__).resolve().parents[1]
HANGUL = re.compile(r"[\uac00-\ud7a3]")


# A str.format field such as "{threads}", but not LaTeX groups such as "p_{data}", "\\text{x}", "}{b}".
PLACEHOLDER = re.compile(r"(?<![\\_^A-Za-z}])\{([A-Za-z_]\w*)\}")


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def literal_keys() -> dict[str, list[str]]:
    """Every ``t("literal.key")`` call in dashboard/**/*.py -> where it is used."""
    found: dict[str, list[str]] = {}
    for path in sorted(DASHBOARD.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            first = node.args[0]
            if name == "t" and isinstance(first, ast.Constant) and isinstance(first.value, str):
                where = f"{path.relative_to(DASHBOARD)}:{node.lineno}"
                found.setdefault(first.value, []).append(where)
    return found


def dynamic_keys() -> set[str]:
    """Keys the pages build from the chapter list (home cards, course map, navigation titles)."""
    keys = {f"home.chapters.{c.key}.{part}" for c in CHAPTERS for part in ("title", "blurb", "equation")}
    keys |= {f"home.map.edge_{c.key}" for c in CHAPTERS[:-1]}  # an arrow leaves every chapter but the last
    return keys


def prose_words(text: str) -> list[str]:
    """English words a translator should have translated (LaTeX, code, icons and placeholders removed)."""
    text = re.sub(r"\$[^$]*\$|`[^`]*`|:material/[a-z_]+:|\{[^{}]*\}|\\[A-Za-z]+", " ", text)
    return [w for w in re.findall(r"[A-Za-z]{4,}", text) if not w.isupper()]


def test_languages_have_identical_keys():
    english = set(i18n.catalog("en"))
    assert english, "the English catalog is empty"
    for lang in i18n.LANGUAGES:
        keys = set(i18n.catalog(lang))
        assert not english - keys, f"{lang} lacks {sorted(english - keys)}"
        assert not keys - english, f"{lang} has keys English lacks: {sorted(keys - english)}"


def test_placeholders_match_across_languages():
    english = i18n.catalog("en")
    mismatched = [
        (lang, key, sorted(placeholders(english[key])), sorted(placeholders(text)))
        for lang in i18n.LANGUAGES
        for key, text in i18n.catalog(lang).items()
        if key in english and placeholders(text) != placeholders(english[key])
    ]
    assert not mismatched, f"(lang, key, English placeholders, its placeholders): {mismatched}"


def test_no_empty_strings():
    empty = [(lang, key) for lang in i18n.LANGUAGES for key, text in i18n.catalog(lang).items() if not text.strip()]
    assert not empty, f"empty translations: {empty}"


def test_every_key_used_in_code_exists():
    english = i18n.catalog("en")
    used = literal_keys()
    assert used, "found no t('...') calls; did the scan break?"
    missing = {key: where for key, where in used.items() if key not in english}
    assert not missing, f"keys used in dashboard/ but not in the catalog: {missing}"


def test_chapter_keys_exist():
    missing = sorted(dynamic_keys() - set(i18n.catalog("en")))
    assert not missing, f"chapter keys missing from the catalog: {missing}"


def test_korean_is_actually_korean():
    english, korean = i18n.catalog("en"), i18n.catalog("ko")
    prose = [key for key, text in english.items() if prose_words(text)]
    assert len(prose) >= 10, f"too few prose keys to judge: {prose}"
    untranslated = sorted(key for key in prose if not HANGUL.search(korean[key]))
    # A few proper names ("GAN") may stay Latin; an English copy of the catalog may not.
    assert len(untranslated) <= 0.2 * len(prose), f"Korean strings without Hangul: {untranslated}"
    copied = sorted(key for key in prose if korean[key] == english[key])
    assert len(copied) <= 0.2 * len(prose), f"Korean strings identical to English: {copied}"


# One Korean word per concept across the course: a student who meets "간극" on the VAE page must
# not meet "갭" for the same gap elsewhere. term -> the word to use instead.
KOREAN_GLOSSARY = {"갭": "간극", "격차": "간극", "모드 찾기": "모드 추구", "모드 탐색": "모드 추구",
                   "sliced": "슬라이스", "조각별": "슬라이스"}
GLOSSARY_PENDING: set[str] = set()  # catalogs whose rewording is in progress elsewhere


def test_korean_uses_one_word_per_concept():
    korean = i18n.catalog("ko")
    off = sorted((key, term, better) for key, text in korean.items() if key.split(".")[0] not in GLOSSARY_PENDING
                 for term, better in KOREAN_GLOSSARY.items() if term in text.lower())
    assert not off, f"(key, word, use instead): {off}"


def test_translate_falls_back_without_raising(monkeypatch, caplog):
    fake = {"en": {"a.only_en": "Hello {name}", "a.both": "Both"}, "ko": {"a.both": "둘 다"}}
    monkeypatch.setattr(i18n, "catalog", lambda lang: fake[lang])
    assert i18n.translate("ko", "a.both") == "둘 다"
    assert i18n.translate("ko", "a.only_en", name="Ada") == "Hello Ada"
    assert i18n.translate("ko", "no.such.key") == "no.such.key"
    assert i18n.translate("en", "no.such.key") == "no.such.key"
    assert "no.such.key" in caplog.text


def test_translate_formats_real_placeholders():
    text = i18n.translate("ko", "common.sidebar.device_cpu", threads=3)
    assert "3" in text and "{threads}" not in text


def test_unknown_language_is_rejected():
    with pytest.raises(ValueError, match="unknown language"):
        i18n.catalog("fr")
