"""The lecture, one claim at a time: each page's numbered claims, each one click (and one link) away.

A ``Claim`` names a statement of the lecture and the state of the page's controls that shows it
(widget key -> value), plus the section where it shows. :func:`lecture` draws a page's claims at its
top, in an expander, each with

* a question to answer first ("predict, then reveal"): the student picks an answer, which is
  checked and explained; a demonstration sticks when the student committed to a guess before it;
* "Show it": the controls take the claim's values (through ``st.session_state``; the URL follows,
  since every control is bound to it) and the page scrolls to the section;
* the link that opens the same state in any browser (``?key=value...#section``).

The texts live in the catalog under ``claims.<page>.<name>``: ``title``, ``question``, ``options``
(``a``, ``b``, ``c``; the right one at ``Claim.answer``) and ``why``. The numbers a claim is about are checked
against the engine in ``tests/dashboard/test_claims.py`` with the claim's own state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

import streamlit as st

from dashboard.shared import links
from dashboard.shared.i18n import current_language, t, translate

SHOWN = "claims_shown"  # session_state: the anchor to scroll to after "Show it" (read once)
OPTIONS = ("a", "b", "c")
OPENED = "claims_opened"  # session_state: the (page, claim) a link applied already
CURRENT = "claims_current"  # session_state, per page: the index of the claim shown last
PREVIOUS_KEY, NEXT_KEY = "B", "N"


@dataclass(frozen=True)
class Claim:
    name: str  # catalog: claims.<page>.<name>.*
    state: Mapping = field(default_factory=dict)  # widget key -> the value that shows the claim
    section: str | None = None  # the catalog prefix of the section's header (its anchor), None: the page top
    answer: int = 0  # the index of the right option of the question
    then: Callable[[], None] | None = None  # after the values are set (a preset's restart), run by "Show it"

    def link(self, page: str, lang: str) -> str:
        """The relative link that opens the page in this claim's state (and at its section): ``?claim=<name>``.

        The claim's name rather than its values: a select's value in a link is its label in the page's
        language, and a preset's restart is not a value at all; the page applies the claim when it opens."""
        query = urlencode({"lang": lang, links.CLAIM: self.name})
        return f"/{page}?{query}" + (f"#{links.anchor(self.section)}" if self.section else "")


def show(claim: Claim) -> None:
    """"Show it": the controls take the claim's values (before they are drawn again, in the rerun)."""
    for key, value in claim.state.items():
        st.session_state[key] = value
    if claim.then is not None:
        claim.then()
    if claim.section:
        st.session_state[SHOWN] = (links.anchor(claim.section), t(f"{claim.section}.title"), str(time.monotonic()))


@st.fragment
def lecture(page: str, claims: list[Claim]) -> None:
    """The page's claims at its top: question, "Show it" and the link for each. A fragment: answering a
    question redraws only the claims; "Show it" reruns the page with the claim's values."""
    lang = current_language()
    opened_with(page, claims)
    shown = st.session_state.pop(SHOWN, None)
    if shown:  # scroll to the section the student just asked for (once per click)
        target, title, token = shown
        st.html(links.scroll_script({target: title}, target, token), unsafe_allow_javascript=True)
    with st.expander(t("claims.title", n=len(claims)), icon=":material/school:"):
        st.caption(t("claims.intro"))
        for number, claim in enumerate(claims, 1):
            _claim(page, number, claim, lang)
    stepping(page, claims)


def stepping(page: str, claims: list[Claim]) -> None:
    """Previous / next claim, for a lecture (keys ``B`` and ``N``): shows the claim before or after the last
    one shown on this page."""
    at = st.session_state.get(f"{CURRENT}_{page}", -1)
    back, forward, _ = st.columns([1, 1, 3])
    for column, step, label, icon, key in ((back, -1, "claims.previous", ":material/arrow_back:", PREVIOUS_KEY),
                                           (forward, 1, "claims.next", ":material/arrow_forward:", NEXT_KEY)):
        target = at + step
        if column.button(t(label), icon=icon, key=f"claims_{page}_{'next' if step > 0 else 'previous'}",
                         disabled=not 0 <= target < len(claims), shortcut=key, width="stretch"):
            st.session_state[f"{CURRENT}_{page}"] = target
            show(claims[target])
            st.rerun()


def opened_with(page: str, claims: list[Claim]) -> None:
    """A link's ``?claim=<name>``: the page takes that claim's state once per session (the link's
    ``#anchor`` scrolls to it); a name the page does not have gets a notice."""
    name = st.query_params.get(links.CLAIM)
    done = st.session_state.setdefault(OPENED, set())
    if not name or (page, name) in done:
        return
    done.add((page, name))
    claim = next((c for c in claims if c.name == name), None)
    if claim is None:
        st.toast(t("claims.unknown", name=name), icon=":material/link_off:")
        return
    show(claim)
    st.session_state.pop(SHOWN, None)  # the link's own #anchor scrolls


def _claim(page: str, number: int, claim: Claim, lang: str) -> None:
    prefix = f"claims.{page}.{claim.name}"
    st.markdown(f"**{number}. {t(f'{prefix}.title')}**")
    question, actions = st.columns([3, 1], vertical_alignment="bottom")
    with question:
        options = [translate(lang, f"{prefix}.{option}") for option in OPTIONS]
        picked = st.radio(t(f"{prefix}.question"), range(len(options)), format_func=options.__getitem__, index=None,
                          horizontal=True, bind=None, key=f"claims_{page}_{claim.name}")  # a guess, not page state
        if picked is not None:
            verdict = "claims.right" if picked == claim.answer else "claims.wrong"
            (st.success if picked == claim.answer else st.info)(
                f"{t(verdict, answer=options[claim.answer])} {t(f'{prefix}.why')}")
    with actions:
        if st.button(t("claims.show"), icon=":material/visibility:", key=f"claims_{page}_{claim.name}_show",
                     width="stretch"):
            st.session_state[f"{CURRENT}_{page}"] = number - 1
            show(claim)
            st.rerun()  # the whole page, with the claim's values
        st.markdown(f"[{t('claims.link')}]({claim.link(page, lang)})")
