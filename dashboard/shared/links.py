"""Links that restore a page: every control's value lives in the URL, and a link opens that state.

Every widget of every page is created with ``bind=LINK`` (Streamlit's own query-parameter binding,
``bind="query-params"``): moving it writes ``?<its key>=<value>`` into the address bar, a link
seeds the widget from the URL on load, a value equal to the default is left out of the URL, and a
value the widget cannot take (text in a number, a step out of range, an option that does not exist)
is dropped and the default used. The widget keys are the parameter names (``?gan_live_g_lr=0.001``):
they are stable, say which section they belong to, and are the names the tests use. Streamlit's
binding is used rather than our own sync because it runs in the browser as well as on the server
(the address bar follows a slider inside a fragment without a rerun of the page) and already handles
defaults, ranges, options and repeated parameters.

What this module adds:

* ``notice_ignored``: which parameters of the link the page could not use (``ignored``), so the
  student gets a short notice instead of a silent change;
* the page-level parameters that are not widgets (``lang``, ``hide``) and a live trainer's step
  count (``?<key>_at=N``, see ``live_links``);
* ``page_view``: a link can hide chosen controls (by key) or the prose (``?hide=prose,gan_live_g_lr``),
  TensorFlow Playground's ``_hide`` idea for handing out a trimmed view, and open the page at a section
  (``#anchor``; ``header`` gives every section a stable one);
* ``share_panel``: the sidebar's "Link to this view", with the settings also as a JSON file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import urlencode, urlparse

import streamlit as st

from dashboard.shared.i18n import t
from dashboard.shared.live_links import LINK_STEPS, SLOT_PREFIX, link_parameters, link_steps

LINK = "query-params"  # the ``bind=`` of every widget
CLAIM = "claim"  # ?claim=<name>: open the page in one of its claims' state (dashboard.shared.claims)
PAGE_PARAMS = frozenset({"lang", "hide", CLAIM})  # parameters of the page itself, not of a widget
PROSE = "prose"  # ``?hide=prose`` hides the explanations (markdown paragraphs), keeping figures and equations
TITLES = "links_titles"  # session_state: {anchor: header text} of the page's sections, filled as they are drawn


def same(value, text: str) -> bool:
    """Whether a widget's value is what the URL's text says (numbers compared as numbers)."""
    if isinstance(value, bool):
        return text.strip().lower() in (("true", "1") if value else ("false", "0"))
    if isinstance(value, int | float):
        try:
            return float(text) == float(value)
        except ValueError:
            return False
    if isinstance(value, list | tuple):  # a range: repeated parameters, only the last one is in ``text``
        return any(same(v, text) for v in value)
    return str(value) == text


def ignored(initial: Mapping[str, str], now: Mapping[str, str], state: Mapping) -> tuple[list[str], list[str]]:
    """The link's parameters the page did not use: (unknown names, names whose value was invalid).

    ``initial`` is the query string the run started with, ``now`` the one after it (Streamlit has
    dropped invalid values of bound widgets by then), ``state`` the session state (widget keys).
    A bound parameter that is gone is fine when the widget now holds that very value (it was the
    default); otherwise its value was refused.
    """
    unknown, invalid = [], []
    for name, value in initial.items():
        if name in PAGE_PARAMS:
            continue
        trainer = name.removesuffix(LINK_STEPS)
        if trainer != name and f"{SLOT_PREFIX}{trainer}" in state:  # a live trainer's step count
            if not link_steps(trainer, initial):
                invalid.append(name)
            continue
        if name not in state:
            unknown.append(name)
        elif name not in now and not same(state[name], value):
            invalid.append(name)
    return unknown, invalid


def hidden(query: Mapping[str, str]) -> set[str]:
    """The names in ``?hide=a,b`` (empty when absent)."""
    return {part.strip() for part in query.get("hide", "").split(",") if part.strip()}


def hide_css(names: set[str]) -> str:
    """CSS that hides these widgets (by key) and, for ``prose``, the explanations of the main area."""
    rules = [f".st-key-{name}" for name in sorted(names - {PROSE}) if name.replace("_", "").isalnum()]
    if PROSE in names:
        rules.append('[data-testid="stMain"] [data-testid="stMarkdown"]:not(:has(.katex-display))')
    return "".join(f"{rule} {{display: none !important;}}" for rule in rules)


# ---------------------------------------------------------------- what the router draws
def notice_ignored(initial: Mapping[str, str]) -> None:
    """After the page ran: a short notice (once per link) naming the link's parameters it could not use."""
    unknown, invalid = ignored(initial, st.query_params.to_dict(), st.session_state)
    seen = st.session_state.setdefault("links_noticed", set())
    fresh = tuple(sorted(unknown + invalid))
    if not fresh or fresh in seen:
        return
    seen.add(fresh)
    parts = ([t("links.unknown", names=", ".join(unknown))] if unknown else []) + \
            ([t("links.invalid", names=", ".join(invalid))] if invalid else [])
    st.toast(" ".join(parts), icon=":material/link_off:")


def scroll_script(titles: Mapping[str, str], target: str | None = None, token: str = "") -> str:
    """JavaScript that scrolls to the section ``target`` (default: the one the URL's ``#anchor`` names).

    ``titles`` maps anchors to the section headers' text on this page: the section is found by its header
    (see ``header`` for why headers carry no HTML anchor). The browser cannot scroll to ``#anchor`` itself
    before a Streamlit page is drawn; this scrolls there once the header exists, and again while the
    charts above it are still drawn (they push it down), until the student scrolls. Runs once per
    (target, token)."""
    wanted = "decodeURIComponent(window.location.hash.slice(1))" if target is None else json.dumps(target)
    return f"""<script>(() => {{
  const titles = {json.dumps(dict(titles), ensure_ascii=False)};
  const id = {wanted}, once = id + {json.dumps(token)};
  if (!id || !(id in titles) || window.genmodelsScrolledTo === once) return;
  window.genmodelsScrolledTo = once;
  let ticks = 0;
  const stop = () => clearInterval(timer);
  const timer = setInterval(() => {{
    const target = Array.from(document.querySelectorAll('[data-testid="stMain"] h2'))
      .find(h => h.innerText.trim() === titles[id]);
    const app = document.querySelector('[data-testid="stApp"]');
    if (target) target.scrollIntoView({{block: 'start'}});
    const idle = app && app.getAttribute('data-test-script-state') === 'notRunning';
    if (++ticks > 120 || (target && idle && ticks > 12)) stop();
  }}, 250);
  for (const event of ['wheel', 'touchstart', 'keydown']) window.addEventListener(event, stop, {{once: true}});
}})();</script>"""


def page_view() -> None:
    """Before the page: hidden controls or prose (``?hide=``); the section headers are collected from here."""
    css = hide_css(hidden(st.query_params))
    if css:
        st.html(f"<style>{css}</style>")
    st.session_state[TITLES] = {}


def after_page(initial: Mapping[str, str]) -> None:
    """After the page ran in full: a notice for what the link could not use, the scroll to its ``#anchor``."""
    notice_ignored(initial)
    st.sidebar.html(scroll_script(st.session_state.get(TITLES, {})), unsafe_allow_javascript=True)


def share_panel() -> None:
    """The sidebar's "Link to this view": a button that shows the page's address with every setting in it.

    A fragment, so pressing the button sends the browser's current address (which every widget keeps up
    to date, also those inside fragments) and shows it in a code box with Streamlit's copy button.
    """
    with st.sidebar.popover(t("links.share"), icon=":material/link:", width="stretch"):
        _share_body()


@st.fragment
def _share_body() -> None:
    st.caption(t("links.share_help"))
    if st.button(t("links.make"), icon=":material/link:", key="links_make"):
        here = st.context.url
        path = urlparse(here).path
        query = {**st.query_params.to_dict(), **link_parameters(st.session_state, path)}
        address = link(here, query)
        st.code(address, language=None, wrap_lines=True)
        sections = st.session_state.get(TITLES, {})
        if sections:
            st.caption(t("links.sections"))
            st.markdown("\n".join(f"- [{title}]({address}#{name})" for name, title in sections.items()))
        page = path.strip("/") or "home"
        st.download_button(t("links.json"), json.dumps({"page": page, "settings": query}, indent=2, ensure_ascii=False),
                           file_name=f"{page}-settings.json", mime="application/json", icon=":material/download:",
                           key="links_json")


def link(address: str, query: Mapping[str, str | list]) -> str:
    """The page's address with its query string (repeated parameters for a range)."""
    base = address.split("?", 1)[0].split("#", 1)[0]
    return f"{base}?{urlencode(query, doseq=True)}" if query else base


def anchor(prefix: str) -> str:
    """A section's stable anchor from its catalog prefix: ``diffusion_live.step`` -> ``diffusion-live-step``
    (the same in every language, so ``/diffusion#diffusion-live-step`` opens the page at that section)."""
    return prefix.replace(".", "-").replace("_", "-")


def header(prefix: str) -> None:
    """A section's header (``{prefix}.title`` in the catalog), reachable as ``#<anchor(prefix)>``.

    The header itself is drawn without an HTML anchor: with Streamlit's heading anchors (or a keyed
    container around the header) the live charts below were redrawn from blank at every tick (5% of
    frames blank, benchmarks/bench_live_frames.py); the scroll script finds the section by its text."""
    title = t(f"{prefix}.title")
    st.header(title, anchor=False)
    st.session_state.setdefault(TITLES, {})[anchor(prefix)] = title
