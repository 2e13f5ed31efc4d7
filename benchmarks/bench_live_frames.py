"""Do the live charts stay drawn while training plays? Measured in a real browser, frame by frame.

For each live section (maximum likelihood, VAE 2D, GAN 2D, diffusion 2D) this starts the dashboard
headless, opens the page in Debian's Chromium, presses play and, on every animation frame for
``--seconds``, checks each of the section's charts: it is drawn when its plot holds painted traces,
has a height, and is not dimmed (the product of its ancestors' CSS opacity is at least 0.95;
Streamlit fades elements of a run in flight to 0.33). Then it presses pause and times how long
until the page says "Paused" (and checks the step count holds still afterwards). Prints a table:

* frames/s: animation frames the browser painted (how responsive the page stays);
* drawn %: frames in which every chart of the section was drawn; blank % and dimmed % split the rest;
* updates/s: changes of the status caption (new training results on screen); steps/s: training rate;
* pause s: click to "Paused"; held: the step count one second after the pause equals the paused one.

Run from the repo root:  python -m benchmarks.bench_live_frames [--seconds 8] [--sections mle vae gan diffusion]
Quick mode (CI, so the script cannot rot):  python -m benchmarks.bench_live_frames --quick
Targets (issue 12): every sampled frame drawn (100%, nothing dimmed) and pause within 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.browser import server_and_browser, wait_idle

ROOT = Path(__file__).resolve().parents[1]


STEP = re.compile(r"(\d[\d,]*)")
TARGET_DRAWN, TARGET_PAUSE_S = 1.0, 0.5


@dataclass(frozen=True)
class LiveSection:
    page: str  # URL path of the chapter
    key: str  # the live_training key: buttons are .st-key-{key}_play / _pause
    charts: tuple[str, ...]  # widget keys of the charts the live fragment draws


SECTIONS = {
    "mle": LiveSection("likelihood", "mle", ("live_surface", "live_density")),
    "vae": LiveSection("vae", "vae", ("vae_live_panels", "vae_live_latent_plot", "vae_live_curves")),
    "gan": LiveSection("gan", "gan_live", ("gan_live_field", "gan_live_curves")),
    "diffusion": LiveSection("diffusion", "diffusion_live", ("diffusion_live_samples", "diffusion_live_curves")),
}

# Runs in the page on every animation frame: per frame, per chart "drawn" / "blank" / "dimmed",
# and the status caption of the live view (its first caption after the play buttons).
SAMPLER = """
([charts, playKey, seconds]) => new Promise(resolve => {
  const out = [];
  const start = performance.now();
  const opacity = el => {
    let o = 1;
    for (let e = el; e; e = e.parentElement) o *= +getComputedStyle(e).opacity;
    return o;
  };
  const status = () => {
    const texts = Array.from(document.querySelectorAll('[data-testid="stCaptionContainer"]')).map(c => c.innerText);
    return texts.find(t => /step \\d|단계 \\d/i.test(t)) || '';
  };
  const frame = () => {
    const states = charts.map(key => {
      const el = document.querySelector('.st-key-' + key);
      if (!el) return 'blank';
      const painted = el.querySelectorAll('.scatterlayer .trace, .contourlayer .contour, .heatmaplayer image, '
                                          + '.heatmaplayer .hm, .surface, .gl-container canvas').length;
      if (!painted || el.getBoundingClientRect().height < 20) return 'blank';
      return opacity(el) >= 0.95 ? 'drawn' : 'dimmed';
    });
    out.push([performance.now() - start, states, status()]);
    if (performance.now() - start < seconds * 1000) requestAnimationFrame(frame); else resolve(out);
  };
  requestAnimationFrame(frame);
})
"""

# Click pause and poll every 10 ms until the live caption says it is paused.
PAUSE = """
([pauseSelector]) => new Promise(resolve => {
  const start = performance.now();
  document.querySelector(pauseSelector).click();
  const poll = setInterval(() => {
    const texts = Array.from(document.querySelectorAll('[data-testid="stCaptionContainer"]')).map(c => c.innerText);
    const paused = texts.find(t => /^Paused at step/.test(t));
    if (paused || performance.now() - start > 10000) {
      clearInterval(poll);
      resolve([performance.now() - start, paused || '']);
    }
  }, 10);
})
"""


def step_of(text: str) -> int | None:
    match = STEP.search(text)
    return int(match.group(1).replace(",", "")) if match else None


def measure(browser, url: str, section: LiveSection, seconds: float, warmup_s: float) -> dict:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(120_000)
    try:
        page.goto(f"{url}/{section.page}?lang=en", wait_until="domcontentloaded")
        play = page.locator(f".st-key-{section.key}_play button")
        play.wait_for()
        wait_idle(page)
        page.locator(f".st-key-{section.charts[0]}").scroll_into_view_if_needed()
        play.click()
        page.wait_for_selector(f".st-key-{section.key}_pause button")
        page.wait_for_timeout(int(1000 * warmup_s))
        samples = page.evaluate(SAMPLER, [list(section.charts), section.key, seconds])
        pause_ms, paused_text = page.evaluate(PAUSE, [f".st-key-{section.key}_pause button"])
        page.wait_for_timeout(1000)
        later = [t for t in page.locator('[data-testid="stCaptionContainer"]').all_inner_texts()
                 if t.startswith("Paused at step")]
    finally:
        page.close()
    span = samples[-1][0] / 1000.0
    frames = len(samples)
    verdicts = ["drawn" if all(s == "drawn" for s in states) else ("blank" if "blank" in states else "dimmed")
                for _, states, _ in samples]
    captions = [c for _, _, c in samples]
    updates = sum(1 for a, b in zip(captions, captions[1:]) if a != b and b)
    steps = [(t / 1000.0, step_of(c)) for t, _, c in samples if step_of(c) is not None]
    spanned = len(steps) >= 2 and steps[-1][0] > steps[0][0]
    rate = (steps[-1][1] - steps[0][1]) / (steps[-1][0] - steps[0][0]) if spanned else 0.0
    paused_step = step_of(paused_text) if paused_text else None
    held = bool(later) and paused_step is not None and step_of(later[0]) == paused_step
    return {"fps": frames / span, "drawn": verdicts.count("drawn") / frames, "blank": verdicts.count("blank") / frames,
            "dimmed": verdicts.count("dimmed") / frames, "updates": updates / span, "steps": rate,
            "pause_s": pause_ms / 1000.0 if paused_text else float("nan"), "held": held}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of play before sampling")
    parser.add_argument("--sections", nargs="+", choices=list(SECTIONS), default=list(SECTIONS))
    parser.add_argument("--quick", action="store_true", help="1.5 s per section after 0.5 s of warm-up (CI)")
    args = parser.parse_args(argv)
    seconds, warmup = (1.5, 0.5) if args.quick else (args.seconds, args.warmup)
    rows = []
    with server_and_browser("bench-live-frames-server.log") as (url, browser):
        for name in args.sections:
            rows.append((name, measure(browser, url, SECTIONS[name], seconds, warmup)))
    print(f"{os.cpu_count()} CPU cores; {seconds:g} s sampled per section after {warmup:g} s of play")
    header = (f"{'section':<11}{'frames/s':>9}{'drawn %':>9}{'blank %':>9}{'dimmed %':>10}{'updates/s':>11}"
              f"{'steps/s':>9}{'pause s':>9}{'held':>6}  target")
    print(header)
    print("-" * len(header))
    for name, r in rows:
        ok = r["drawn"] >= TARGET_DRAWN and r["pause_s"] <= TARGET_PAUSE_S and r["held"]
        print(f"{name:<11}{r['fps']:9.1f}{100 * r['drawn']:9.1f}{100 * r['blank']:9.1f}{100 * r['dimmed']:10.1f}"
              f"{r['updates']:11.2f}{r['steps']:9.0f}{r['pause_s']:9.2f}{'yes' if r['held'] else 'NO':>6}"
              f"  {'met' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
