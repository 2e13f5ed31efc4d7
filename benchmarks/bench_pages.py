"""Server-side rerun time of every page: what a student waits for after moving a widget.

Uses Streamlit's AppTest (no browser, no network): one warm-up run, then ``--repeats`` reruns,
each after changing one widget (home: the language radio; a chapter: the first slider in the
main area). Chapters are measured twice: "toggle" alternates between two values (what caches
make of a student going back and forth), "fresh" moves to a value never seen before on every
rerun (every cache misses: the real cost of new numbers). The browser adds its drawing time.

    python -m benchmarks.bench_pages [--repeats 15]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard.ui.course import built_chapters
from dashboard.ui.i18n import LANGUAGES

ROOT = Path(__file__).resolve().parents[1]



HOME_SCRIPT = ROOT / "dashboard" / "Home.py"
GOAL_P50_MS = 100.0
TIMEOUT_S = 120


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def other_value(slider):
    """A second valid value for ``slider``: one step up, or one step down at the top end."""
    step, top, bottom = slider.step, slider.max, slider.min
    value = slider.value
    if isinstance(value, tuple):  # a range slider: move the upper end
        low, high = value
        return (low, high + step) if high + step <= top else (low, high - step) if high - step >= low else value
    return value + step if value + step <= top else value - step if value - step >= bottom else value


def home_changer(at: AppTest):
    values = list(LANGUAGES)[:2]

    def change(i: int) -> None:
        at.sidebar.radio(key="lang").set_value(values[(i + 1) % 2])

    return "language radio", change


def fresh_values(slider, count: int) -> list:
    """``count`` distinct valid values of a (single-value) slider, none equal to its current one."""
    step, low, high, start = slider.step, slider.min, slider.max, slider.value
    values = [start + k * step for k in range(1, count + 1) if start + k * step <= high]
    values += [start - k * step for k in range(1, count + 1) if start - k * step >= low]
    return values[:count]


def chapter_changer(at: AppTest, mode: str, repeats: int):
    sliders = at.main.get("slider")
    if not sliders:
        return "(no slider: plain rerun)", lambda i: None
    first = sliders[0]
    values = fresh_values(first, repeats) if mode == "fresh" else [other_value(first), first.value]

    def change(i: int) -> None:
        at.main.get("slider")[0].set_value(values[i % len(values)])

    return f"slider {first.label!r} ({mode})", change


def bench(page: str, script: str | None, repeats: int, mode: str = "toggle") -> dict:
    at = AppTest.from_file(str(HOME_SCRIPT), default_timeout=TIMEOUT_S)
    at.session_state["lang"] = "en"
    if script is not None:
        at.switch_page(script)
    at.run()  # warm-up: imports, caches, first draw
    if at.exception:
        raise RuntimeError(f"{page}: {[e.value for e in at.exception]}")
    widget, change = home_changer(at) if script is None else chapter_changer(at, mode, repeats)
    times = []
    for i in range(repeats):
        change(i)
        start = time.perf_counter()
        at.run()
        times.append((time.perf_counter() - start) * 1000)
        if at.exception:
            raise RuntimeError(f"{page} after changing {widget}: {[e.value for e in at.exception]}")
    return {"page": page, "widget": widget, "p50": statistics.median(times), "p90": percentile(times, 0.9),
            "max": max(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed reruns per page (default 15)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    # AppTest drives the script from this thread, which Streamlit reports on every widget access.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        lambda record: "missing ScriptRunContext" not in record.getMessage()
    )
    pages = [("home", None)] + [(chapter.key, chapter.view) for chapter in built_chapters()]
    rows = [bench(page, script, args.repeats, mode) for page, script in pages
            for mode in (("toggle",) if script is None else ("toggle", "fresh"))]

    header = ("page", "widget changed", "p50 ms", "p90 ms", "max ms", f"p50 < {GOAL_P50_MS:.0f} ms")
    table = [header] + [
        (r["page"], r["widget"], f"{r['p50']:.1f}", f"{r['p90']:.1f}", f"{r['max']:.1f}",
         "yes" if r["p50"] < GOAL_P50_MS else "NO")
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    print(f"AppTest reruns, {args.repeats} per page after one warm-up (server side only)")
    for n, row in enumerate(table):
        print("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    main()
