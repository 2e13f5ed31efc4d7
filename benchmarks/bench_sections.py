"""Server-side time of what one widget change reruns, for a slider of every section of every page.

Every page section is a fragment (``dashboard.shared.sections.section``): a widget inside it reruns
that section alone, or only the part of it that is a fragment of its own (``sections.part``). The
server runs with ``GENMODELS_TIMING=1``, so each run of a section prints its time; this script moves
the first enabled slider under each section header one step with the keyboard (as a student would)
in headless Chromium, waits until the app is idle, and reads which sections ran and how long each
took. A slider above every section (the likelihood page's data controls) reruns the whole page: then
every section runs, and the table says so.

The same steps are then measured with ``GENMODELS_FRAGMENTS=0`` (sections drawn inline: every widget
reruns the whole page, as before sections were fragments), and the table shows both.

Run from the repo root:  python -m benchmarks.bench_sections [--repeats 5] [--pages likelihood gan]
Quick mode (CI):         python -m benchmarks.bench_sections --quick   (one page, one step per slider)
Target (issue 13): p50 < 50 ms server-side for the widgets of every section.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
from pathlib import Path

from benchmarks.browser import ROOT, server_and_browser, wait_idle

PAGES = ("likelihood", "divergences", "vae", "gan", "diffusion")
LOG_NAME = "bench-sections-server.log"
LINE = re.compile(r"^(section|part) (\S+) ([\d.]+) ms$")
TARGET_MS = 50.0

# Sliders in the main area: their widget key, the header (h2) they sit under, whether they are enabled.
SLIDERS = """() => {
  const headers = Array.from(document.querySelectorAll('[data-testid="stMain"] h2'));
  const out = [];
  for (const s of document.querySelectorAll('[data-testid="stMain"] [data-testid="stSlider"]')) {
    const holder = s.closest('[class*="st-key-"]');
    if (!holder) continue;
    const key = Array.from(holder.classList).find(c => c.startsWith('st-key-')).slice(7);
    let header = '(page top)';
    for (const h of headers)
      if (h.compareDocumentPosition(s) & Node.DOCUMENT_POSITION_FOLLOWING) header = h.innerText.trim();
    const thumb = s.querySelector('input[type="range"]');
    out.push({key, header, enabled: !!thumb && !thumb.disabled});
  }
  return out;
}"""


def section_lines(log: Path, offset: int) -> tuple[list[tuple[str, float]], int]:
    text = log.read_text(errors="replace")
    found = [(m[1], m[2], float(m[3])) for line in text[offset:].splitlines() if (m := LINE.match(line.strip()))]
    # A part (a fragment inside a section) is timed inside its section's time: count parts only when
    # no section ran (a widget inside the part reran that part alone).
    sections = [(name, ms) for kind, name, ms in found if kind == "section"]
    return sections or [(name, ms) for kind, name, ms in found if kind == "part"], len(text)


def measure_page(browser, url: str, log: Path, name: str, repeats: int) -> list[dict]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(180_000)
    page.goto(f"{url}/{name}?lang=en", wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stMain"] h1')
    chosen: dict[str, str] = {}  # header -> first enabled slider key under it
    for _ in range(30):  # until the page has drawn its sections (idle can be reported before the first run)
        wait_idle(page, 180_000)
        page.wait_for_timeout(500)
        chosen = {}
        for slider in page.evaluate(SLIDERS):
            if slider["enabled"] and slider["header"] not in chosen:
                chosen[slider["header"]] = slider["key"]
        if len(chosen) >= 2:
            break
    rows = []
    _, offset = section_lines(log, 0)
    for header, key in chosen.items():
        thumb = page.locator(f".st-key-{key} input[type='range']").first
        own, counts = [], []
        for i in range(repeats):
            thumb.focus()
            page.keyboard.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")  # there and back: values seen before
            page.wait_for_timeout(300)  # the slider sends its value after a short debounce
            wait_idle(page, 180_000)
            runs, offset = section_lines(log, offset)
            counts.append(len(runs))
            own.append(sum(ms for _, ms in runs))
        rows.append({"page": name, "section": header[:44], "widget": key, "runs": max(counts),
                     "p50": statistics.median(own), "max": max(own)})
    context.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pages", nargs="+", choices=PAGES, default=list(PAGES))
    parser.add_argument("--quick", action="store_true", help="1 repeat on one page (CI)")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.pages = 1, ["divergences"]
    os.environ["GENMODELS_TIMING"] = "1"  # the server reads it once, at start-up
    results = {}
    for fragments in ("1", "0"):
        os.environ["GENMODELS_FRAGMENTS"] = fragments
        with server_and_browser(LOG_NAME) as (url, browser):
            log = ROOT / "test-output" / LOG_NAME
            results[fragments] = [row for name in args.pages for row in measure_page(browser, url, log, name,
                                                                                      args.repeats)]
    whole = {(r["page"], r["widget"]): r for r in results["0"]}
    print(f"{os.cpu_count()} CPU cores; server-side ms of what one slider step reruns, {args.repeats} steps each;")
    print("'page' columns: the same step with sections drawn inline (GENMODELS_FRAGMENTS=0), as before")
    print(f"{'page':<12}{'section':<46}{'widget':<26}{'runs':>5}{'p50 ms':>8}{'max ms':>8}"
          f"{'page runs':>10}{'page p50':>9}  target")
    print("-" * 130)
    for r in results["1"]:
        before = whole.get((r["page"], r["widget"]))
        ok = "met" if r["p50"] < TARGET_MS else "MISSED"
        page_runs, page_p50 = (before["runs"], f"{before['p50']:.1f}") if before else ("-", "-")
        print(f"{r['page']:<12}{r['section']:<46}{r['widget']:<26}{r['runs']:>5}{r['p50']:>8.1f}{r['max']:>8.1f}"
              f"{page_runs:>10}{page_p50:>9}  {ok}")


if __name__ == "__main__":
    main()
