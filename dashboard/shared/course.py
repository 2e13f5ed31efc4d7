"""The course map: the chapters in story order, and which of them has a page yet.

``Home.py`` turns every chapter with a ``view`` into a navigation page; the home page shows
all of them as cards, the unfinished ones marked "coming soon" rather than hidden, so a student
sees where the story is going. Titles and blurbs live in the catalog under ``home.chapters.<key>.*``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chapter:
    key: str  # catalog namespace and URL path
    icon: str  # Streamlit material icon
    view: str | None  # page file relative to dashboard/, None while the page is not built


CHAPTERS: tuple[Chapter, ...] = (
    Chapter("likelihood", ":material/functions:", "chapters/likelihood/page.py"),
    Chapter("divergences", ":material/compare_arrows:", "chapters/divergences/page.py"),
    Chapter("vae", ":material/compress:", "chapters/vae/page.py"),
    Chapter("gan", ":material/sports_kabaddi:", "chapters/gan/page.py"),
    Chapter("diffusion", ":material/blur_on:", "chapters/diffusion/page.py"),
    Chapter("compare", ":material/view_column:", "chapters/compare/page.py"),
)
HOME_VIEW = "chapters/home/page.py"


def built_chapters() -> tuple[Chapter, ...]:
    return tuple(chapter for chapter in CHAPTERS if chapter.view is not None)
