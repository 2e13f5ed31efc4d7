"""App-wide CSS, injected once per run by the router (``Home.py``) so every page gets it.

``st.html`` with nothing but a ``<style>`` tag goes to Streamlit's event container: it takes no
space on the page. Rules here fix how Streamlit draws things everywhere; a page's own layout CSS
stays with that page. ``tests/e2e/test_layout.py`` checks the effects in a real browser.
"""

from __future__ import annotations

import streamlit as st

from dashboard.shared.charts import projecting
from dashboard.shared.i18n import current_language

# Streamlit gives every display equation (st.latex, $$...$$) `overflow-x: auto; overflow-y: hidden`
# so a wide formula scrolls instead of spilling, and KaTeX makes that box exactly as tall as its
# font metrics. Ink that rounds a pixel past them was cut off: the bar of ᾱ in log SNR read as α,
# the tops of fractions lost a row. Padding inside the clipping box gives the ink room.
# Labels (st.metric, widgets) cut their text to one line with `overflow: hidden` and a line box just
# as tall as an inline formula: the same room, for a bar over a symbol in a label.
KATEX = """
.katex-display {padding: 0.2em 0;}
.stMarkdownEllipsis:has(.katex) {padding-block: 0.15em;}
"""

# Korean wraps between any two syllables by default ("최대 우도 추 / 정"); keep-all wraps only at
# spaces, as Korean is written. Streamlit sets `word-break: break-word` on paragraphs, hence
# !important; overflow-wrap keeps the one thing break-word did that we want: a token longer than
# its line (a path, a command) still breaks instead of overflowing.
KOREAN = """
[data-testid="stApp"], [data-testid="stApp"] * {word-break: keep-all !important;}
[data-testid="stApp"] :is(p, li, td, th) {overflow-wrap: anywhere;}
"""


# Columns: Streamlit shares a row's width out by ratio, however narrow that leaves each column, and
# stacks them only below a 640 px window. At 150% zoom on a 1280 px screen (853 px of CSS width,
# 300 of them sidebar) a row of six metrics truncated every label to "H…", buttons clipped their
# labels and equations beside a chart lost half their width. A minimum width lets a row wrap instead
# (the block is already `flex-wrap: wrap`); at 100% on 1280 px every column stays above it. A column
# holding a display equation needs more room: 22rem lets two such columns sit side by side at
# 1280 px (about 400 px each) and puts them one above the other at 150% (about 250 px each). In a
# column, display maths is drawn at 1.1em instead of KaTeX's 1.21em: the longest formulas beside a
# chart were 5-30 px wider than their 400 px column and scrolled behind an invisible scroll bar.
COLUMNS = """
@media (min-width: 641px) {
  [data-testid="stColumn"] {min-width: min(100%, 7.5rem);}
  [data-testid="stColumn"]:has(.katex-display) {min-width: min(100%, 22rem);}
}
[data-testid="stColumn"] .katex-display > .katex {font-size: 1.1em;}
"""

# Button and metric labels are one line cut with "…": in a narrow column "Nichol & Dhariwal: cosine,
# T = 1000" became "Nichol & Dhariwal: c…" and "H(p_data, p_θ)" became "H(p_data, …" (even at 100%,
# six metrics in a row). They may wrap instead. A segmented control scrolled its options sideways
# behind an invisible scroll bar ("Uniform" read "Jniform"); its options may wrap too.
LABELS = """
:is(button, [data-testid="stMetricLabel"]) :is(.stMarkdownEllipsis, .stMarkdownEllipsis p) {white-space: normal;}
[data-testid="stButtonGroup"] div:has(> button) {flex-wrap: wrap;}
"""


# Projector view: Streamlit sizes text, widgets and spacing in rem, so a larger root font scales the whole
# page; text goes from grey to black; the explanations fold away (headers, equations, figures, numbers and
# captions stay). Figures get their own larger type and thicker lines in ``dashboard.shared.charts``.
PROJECTOR = """
html {font-size: 20px;}
[data-testid="stMain"] {color: #000;}
[data-testid="stMain"] [data-testid="stCaptionContainer"] {color: #1a1a1a !important;}
[data-testid="stMain"] [data-testid="stMarkdown"]:not(:has(.katex-display)):not([data-testid="stCaptionContainer"] *) {
  display: none !important;}
"""


def css(lang: str, projector: bool = False) -> str:
    return KATEX + COLUMNS + LABELS + (KOREAN if lang == "ko" else "") + (PROJECTOR if projector else "")


def inject() -> None:
    """Add the style sheet for the session's language (and the projector view) to the current run (once,
    from the router)."""
    st.html(f"<style>{css(current_language(), projecting())}</style>")
