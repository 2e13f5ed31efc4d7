"""Server-side rerun time per page section: what a student waits for after moving a widget.

Uses Streamlit's AppTest (no browser, no network). Every page's ``st.header`` calls split it into
sections ("0. (top)" is everything above the first header). For each section the benchmark picks
one enabled widget (the first of: slider, select_slider, number_input, selectbox, radio, toggle,
checkbox; ``--all-widgets``: every enabled one), skipping disabled widgets, buttons and button
groups, and times ``--repeats`` reruns of the whole script, each after changing that widget:

* toggle: alternates between two values (after one untimed round trip), what caches make of a
  student going back and forth;
* fresh: a value never set before in this process on every rerun (every cache keyed on it misses):
  the real cost of new numbers. Only where the widget has unused values left (not two-valued
  widgets); ``n`` says how many reruns a row is based on, and a language measured later finds fewer
  unused values of a select_slider, selectbox or radio (caches are shared by the languages).

Columns: p50 / p95 of the rerun wall time; "own p50" is the median time the script spent inside
the section itself (from its header to the next header, or to its last element for the last
section), measured from when each element reaches the message queue: roughly what a rerun of that
section alone (an ``st.fragment``) costs. AppTest reruns the whole script after every change, even
for a widget inside a fragment, so "p50" is the full-page rerun and "own p50" the section's share.
The home page times the sidebar's language switch. A widget that disappears or becomes disabled
after a change ends its row early (noted below the table); a page exception is reported and
makes the exit status 1. The browser adds its drawing time on top of all of this.

    python -m benchmarks.bench_pages [--repeats 15] [--pages gan vae] [--langs en ko] [--all-widgets]
    python -m benchmarks.bench_pages --quick      # CI: 2 repeats, English only, no untimed round trip

Set ``MNIST_DIR`` (e.g. ../shared/data/mnist) so the MNIST sections draw what students see.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from streamlit.runtime.forward_msg_queue import ForwardMsgQueue
from streamlit.testing.v1 import AppTest

from benchmarks.apptest_widgets import (
    HEADER_TAG,
    KINDS,
    MAIN,
    Section,
    WidgetRef,
    apply,
    candidates,
    current,
    enabled,
    find,
    page_sections,
    toggle_partner,
    walk,
)
from dashboard.shared.course import built_chapters
from dashboard.shared.i18n import LANGUAGES

ROOT = Path(__file__).resolve().parents[1]
HOME_SCRIPT = ROOT / "dashboard" / "Home.py"
TIMEOUT_S = 120


# ---- timing -------------------------------------------------------------------------------


class SectionClock:
    """When each main-area header and element reaches the message queue during one rerun."""

    def __init__(self) -> None:
        self.headers: list[float] = []
        self.last = 0.0
        ForwardMsgQueue.on_before_enqueue_msg(self._note)

    def _note(self, msg) -> None:
        if not msg.HasField("delta") or not msg.metadata.delta_path or msg.metadata.delta_path[0] != MAIN:
            return
        now = time.perf_counter()
        self.last = now
        element = msg.delta.new_element if msg.delta.HasField("new_element") else None
        if element is not None and element.HasField("heading") and element.heading.tag == HEADER_TAG:
            self.headers.append(now)

    def start(self) -> None:
        self.headers, self.last = [], 0.0

    def own(self, start: float, section: int) -> float | None:
        """Seconds spent in section ``section`` (0: before the first header) of the run begun at ``start``."""
        bounds = [start, *self.headers, self.last]
        return bounds[section + 1] - bounds[section] if section + 1 < len(bounds) else None


CLOCK: SectionClock | None = None


@dataclass
class Row:
    page: str
    lang: str
    section: Section
    widget: WidgetRef | None
    mode: str = "-"
    times: list[float] = field(default_factory=list)  # ms
    own: list[float] = field(default_factory=list)  # ms
    note: str = ""
    error: bool = False


def new_app(script: str | None, lang: str) -> AppTest:
    """A session in ``lang`` that has not drawn ``script`` yet (None: home)."""
    at = AppTest.from_file(str(HOME_SCRIPT), default_timeout=TIMEOUT_S)
    at.session_state["lang"] = lang
    if script is not None:
        # st.navigation names pages by url_path ("gan"), not by file ("chapters/gan/page.py"): AppTest can map
        # a file to its page only after a run has registered them.
        at.run()
        at.switch_page(script)
    return at


def page_exception(at: AppTest) -> str | None:
    return "; ".join(str(e.value).splitlines()[0] for e in at.exception) if at.exception else None


def rerun(at: AppTest, row: Row, area: str, timed: bool) -> bool:
    """One rerun after a change; False (and a note on ``row``) when the page raised or timed out."""
    CLOCK.start()
    start = time.perf_counter()
    try:
        at.run()
    except Exception as error:  # AppTest raises RuntimeError on a timeout
        row.note, row.error = f"rerun failed: {error}", True
        return False
    elapsed = time.perf_counter() - start
    if (problem := page_exception(at)) is not None:
        row.note, row.error = f"page exception: {problem}", True
        return False
    if timed:
        row.times.append(1e3 * elapsed)
        headers = sum(element.type == "header" for element in walk(at.main))
        own = CLOCK.own(start, row.section.index) if area == "main" and headers == len(CLOCK.headers) else None
        if own is not None:
            row.own.append(1e3 * own)
    return True


def measure(at: AppTest, row: Row, area: str, repeats: int, seen: set, warmup: int = 2) -> None:
    """Fill ``row`` with ``repeats`` timed reruns, each after one change of ``row.widget``."""
    block = at.main if area == "main" else at.sidebar
    element = find(block, row.widget)
    if element is None or not enabled(element):
        row.note = "widget gone or disabled before the first change"
        return
    start = current(element)
    seen.add(start)
    if row.mode == "toggle":
        partner = toggle_partner(element, start)
        if partner is None:
            row.note = "no second value"
            return
        values = ([partner, start] * (repeats + warmup))[: warmup + repeats]  # untimed round trips first
        seen.add(partner)
    else:
        values, warmup = candidates(element, start, repeats, seen), 0
        seen.update(values)
        two_valued = element.type in ("toggle", "checkbox") or len(getattr(element, "options", ())) == 2
        if not two_valued and len(values) < repeats:  # (a two-valued widget has no fresh row: toggle says it all)
            row.note = f"only {len(values)} value(s) never set before, for {repeats} reruns"
    for i, value in enumerate(values):
        element = find(at.main if area == "main" else at.sidebar, row.widget)
        if element is None or not enabled(element):
            row.note = f"widget gone or disabled after {i} changes"
            return
        apply(element, value)
        if not rerun(at, row, area, timed=i >= warmup):
            return


def bench_page(page: str, script: str | None, lang: str, repeats: int, all_widgets: bool,
               seen: dict, warmup: int = 2) -> list[Row]:
    at = new_app(script, lang)
    at.run()  # warm-up: imports, caches, first draw
    if (problem := page_exception(at)) is not None:
        return [Row(page, lang, Section(0, "(page)"), None, note=f"page exception: {problem}", error=True)]
    plan: list[tuple[str, Section, WidgetRef | None]] = []
    for section in page_sections(at.main):
        chosen = section.widgets if all_widgets else sorted(section.widgets, key=lambda w: KINDS.index(w.kind))[:1]
        plan += [("main", section, widget) for widget in chosen] or [("main", section, None)]
    if script is None:  # home: the sidebar's language switch reruns everything
        plan.append(("sidebar", Section(-1, "(sidebar)"), WidgetRef("radio", "lang", "", 0)))
    rows = []
    for area, section, widget in plan:
        if widget is None:
            if section.index > 0:  # a section with nothing to change (the top of a page: not listed)
                rows.append(Row(page, lang, section, None))
            continue
        element = find(at.main if area == "main" else at.sidebar, widget)
        start = None if element is None else current(element)
        for mode in ("toggle", "fresh"):
            row = Row(page, lang, section, widget, mode)
            measure(at, row, area, repeats, seen.setdefault((page, widget.ident), set()), warmup)
            if row.times or row.note:
                rows.append(row)
            if row.error:
                return rows
        # Back to the default, so the next widget is measured on the page a student first sees.
        element = find(at.main if area == "main" else at.sidebar, widget)
        if element is not None and enabled(element) and current(element) != start:
            apply(element, start)
            restore = Row(page, lang, section, widget, "reset")
            if not rerun(at, restore, area, timed=False):
                return [*rows, restore]
    return rows


# ---- the table ----------------------------------------------------------------------------


def width(text: str) -> int:
    """Terminal columns ``text`` takes (Korean characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def clip(text: str, limit: int) -> str:
    while width(text) > limit:
        text = text[:-2] + "…"
    return text


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(100 * q) - 1]


def table(rows: list[Row], titles: dict) -> list[tuple[str, ...]]:
    out = [("page", "lang", "section", "widget", "type", "kind", "n", "p50 ms", "p95 ms", "own p50 ms")]
    for r in rows:
        title = titles.get((r.page, r.section.index), r.section.title)
        numbered = title if r.section.index < 0 or title.startswith(f"{r.section.index}.") else (
            f"{r.section.index}. {title}")
        section = clip(numbered, 40)
        numbers = (f"{statistics.median(r.times):.0f}", f"{percentile(r.times, 0.95):.0f}") if r.times else ("-", "-")
        own = f"{statistics.median(r.own):.0f}" if r.own else "-"
        widget = clip(r.widget.name, 30) if r.widget else "(no widget)"
        out.append((r.page, r.lang, section, widget, r.widget.kind if r.widget else "-", r.mode, str(len(r.times)),
                    *numbers, own))
    return out


def print_table(cells: list[tuple[str, ...]]) -> None:
    widths = [max(width(row[i]) for row in cells) for i in range(len(cells[0]))]
    left = 6  # text columns; the rest are numbers
    for n, row in enumerate(cells):
        parts = [c + " " * (w - width(c)) if i < left else " " * (w - width(c)) + c
                 for i, (c, w) in enumerate(zip(row, widths))]
        print("  ".join(parts).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def page_scripts() -> dict[str, str | None]:
    """Every page: its name -> the script ``switch_page`` takes (None: home, the router's default)."""
    return {"home": None} | {chapter.key: chapter.view for chapter in built_chapters()}


def main(argv=None) -> int:
    global CLOCK
    scripts = page_scripts()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed reruns per widget and kind (default 15)")
    parser.add_argument("--pages", nargs="+", choices=list(scripts), default=list(scripts))
    parser.add_argument("--langs", nargs="+", choices=list(LANGUAGES), default=list(LANGUAGES))
    parser.add_argument("--all-widgets", action="store_true", help="every enabled widget, not one per section")
    parser.add_argument("--quick", action="store_true",
                        help="2 repeats, the first language only, no untimed round trip before toggling (CI)")
    args = parser.parse_args(argv)
    warmup = 2  # untimed reruns before a toggle row: one round trip, so its caches are warm
    if args.quick:
        args.repeats, args.langs, warmup = 2, args.langs[:1], 0
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    # AppTest drives the script from this thread, which Streamlit reports on every widget access.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        lambda record: "missing ScriptRunContext" not in record.getMessage()
    )
    CLOCK = SectionClock()
    seen: dict = {}
    rows: list[Row] = []
    began = time.perf_counter()
    for lang in args.langs:
        for page in args.pages:
            rows += bench_page(page, scripts[page], lang, args.repeats, args.all_widgets, seen, warmup)
    ForwardMsgQueue.on_before_enqueue_msg(None)

    # Sections are named in the first language measured (the same page in another language has the same order).
    titles = {}
    for r in rows:
        titles.setdefault((r.page, r.section.index), r.section.title)
    mnist = os.environ.get("MNIST_DIR") or "not set (MNIST sections may show a notice instead of their content)"
    print(f"AppTest reruns of the whole script after changing one widget, {args.repeats} per row "
          f"(server side only); {os.cpu_count()} CPU cores; MNIST_DIR: {mnist}")
    print_table(table(rows, titles))
    notes = [r for r in rows if r.note]
    if notes:
        print("\nnotes:")
        for r in notes:
            print(f"  {r.page} ({r.lang}) {r.widget.name if r.widget else ''} {r.mode}: {r.note}")
    print(f"\n{len(rows)} rows in {time.perf_counter() - began:.0f} s")
    return 1 if any(r.error for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
