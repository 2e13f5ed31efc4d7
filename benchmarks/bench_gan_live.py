"""Speed of the GAN page's live 2D section in a real browser: iterations/s while drawing, frames/s.

Starts ``streamlit run dashboard/Home.py`` headless on a free port (with the repo's
``.streamlit/config.toml``), opens ``/gan`` in Debian's Chromium through playwright, picks a
preset (or none: the page's defaults), presses play in the live section and, for ``--seconds``,
samples every 50 ms in the page: the status caption ("Training… step N (…)") and the position of
the first generated point in the field chart. Prints per preset:

* iterations/s live: (last step - first step) / time between those two caption changes;
* frames/s: caption changes per second (frames the server sent and the browser put on screen);
* plot redraws/s: changes of the drawn generated points per second (the chart really repainted);
* headless iterations/s: ``trainer.step`` in this process with nothing drawn, same settings.

Run from the repo root (2 CPU cores is the target machine; the browser shares them):

    python -m benchmarks.bench_gan_live [--seconds 15] [--presets default collapse cover_all]
                                        [--screenshots DIR]
    python -m benchmarks.bench_gan_live --quick    # CI, so the script cannot rot: every preset,
                                                   # 1 s of play after 0.5 s, 0.5 s headless (~30 s)

Targets (issue 6): >= 300 iterations/s while drawing at >= 2 frames/s.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time
from pathlib import Path

from benchmarks.browser import server_and_browser, wait_idle

ROOT = Path(__file__).resolve().parents[1]


STEP = re.compile(r"(\d+)")
TARGET_ITERS, TARGET_FPS = 300.0, 2.0

# Runs in the page every 50 ms: (time, caption, first generated point's transform).
SAMPLER = """
([seconds]) => new Promise(resolve => {
  const out = [];
  const start = performance.now();
  const timer = setInterval(() => {
    const view = document.querySelector('.st-key-gan_live_view');
    const caption = view ? view.querySelector('[data-testid="stCaptionContainer"]') : null;
    const point = view ? view.querySelector('.st-key-gan_live_field .scatterlayer .trace:nth-of-type(2) .point')
                       : null;
    out.push([performance.now() - start, caption ? caption.innerText : '',
              point ? point.getAttribute('transform') : '']);
    if (performance.now() - start > seconds * 1000) { clearInterval(timer); resolve(out); }
  }, 50);
})
"""


def live_run(browser, url: str, preset: str, seconds: float, screenshots: Path | None,
             warmup_s: float = 1.5) -> dict:
    from dashboard.shared.i18n import translate

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(120_000)
    try:
        page.goto(f"{url}/gan?lang=en", wait_until="domcontentloaded")
        page.wait_for_selector(".st-key-gan_live_play button")
        wait_idle(page)
        if preset != "default":
            label = translate("en", f"gan_live.presets.{preset}")
            page.locator(".st-key-gan_live_preset").get_by_text(label, exact=True).click()
            page.wait_for_timeout(500)
            wait_idle(page)
        view = page.locator(".st-key-gan_live_view")
        view.scroll_into_view_if_needed()
        page.locator(".st-key-gan_live_play button").click()
        page.wait_for_selector(".st-key-gan_live_pause button")
        page.wait_for_timeout(int(1000 * warmup_s))  # the first ticks: torch warm-up, layout settling
        samples = page.evaluate(SAMPLER, [seconds])
        if screenshots is not None:
            screenshots.mkdir(parents=True, exist_ok=True)
            view.screenshot(path=str(screenshots / f"gan-live-{preset}.png"))
        page.locator(".st-key-gan_live_pause button").click()
    finally:
        page.close()
    changes = [(t, c) for (t, c, _), (_, previous, _) in zip(samples[1:], samples) if c != previous and c]
    redraws = sum(1 for (_, _, p), (_, _, q) in zip(samples[1:], samples) if p != q and p)
    span = samples[-1][0] / 1000.0
    steps = [(t / 1000.0, int(STEP.search(c).group(1))) for t, c in changes if STEP.search(c)]
    rate = (steps[-1][1] - steps[0][1]) / (steps[-1][0] - steps[0][0]) if len(steps) >= 2 else 0.0
    gaps = [b[0] - a[0] for a, b in zip(steps, steps[1:])]
    return {"iters": rate, "fps": len(changes) / span, "redraws": redraws / span,
            "worst_gap": max(gaps) if gaps else float("nan"), "last_step": steps[-1][1] if steps else 0}


def headless_rate(preset: str, seconds: float = 3.0) -> float:
    """Generator iterations per second of the same trainer with nothing drawn (1 torch thread)."""
    import torch

    from engine.gan.live import MODE_STD, PRESETS, GAN2DTrainer, GANArchitecture, GANSettings, mode_centers, sample_data

    torch.set_num_threads(1)
    if preset == "default":
        dataset, architecture, settings = "ring8", GANArchitecture(), GANSettings()
    else:
        p = PRESETS[preset]
        dataset, architecture, settings = p.dataset, p.architecture, p.settings
    modes = (mode_centers(dataset), MODE_STD[dataset]) if dataset in MODE_STD else None
    trainer = GAN2DTrainer(sample_data(dataset, 10_000, rng=0), architecture, settings, modes=modes)
    trainer.step(20)
    start = time.perf_counter()
    taken = len(trainer.step_for(seconds))
    return taken / (time.perf_counter() - start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--presets", nargs="+", default=["default", "collapse", "cover_all"])
    parser.add_argument("--screenshots", type=Path, default=None)
    parser.add_argument("--quick", action="store_true",
                        help="1 s of play after 0.5 s, 0.5 s headless, per preset (CI)")
    args = parser.parse_args(argv)
    seconds, warmup, headless_s = (1.0, 0.5, 0.5) if args.quick else (args.seconds, 1.5, 3.0)
    rows = []
    with server_and_browser("bench-gan-live-server.log") as (url, browser):
        for preset in args.presets:
            live = live_run(browser, url, preset, seconds, args.screenshots, warmup)
            rows.append((preset, live, headless_rate(preset, headless_s)))
    print(f"{os.cpu_count()} CPU cores; {seconds:g} s of play per preset after {warmup:g} s of warm-up")
    header = (f"{'preset':<11}{'iters/s live':>14}{'frames/s':>10}{'redraws/s':>11}{'worst gap s':>13}"
              f"{'iters/s headless':>18}{'live/headless':>15}  target")
    print(header)
    print("-" * len(header))
    for preset, live, headless in rows:
        ok = live["iters"] >= TARGET_ITERS and live["fps"] >= TARGET_FPS
        print(f"{preset:<11}{live['iters']:14.0f}{live['fps']:10.2f}{live['redraws']:11.2f}{live['worst_gap']:13.2f}"
              f"{headless:18.0f}{live['iters'] / headless:15.2f}  {'met' if ok else 'MISSED'}")
    print(f"median live iterations/s {statistics.median(r[1]['iters'] for r in rows):.0f}; "
          f"targets: >= {TARGET_ITERS:.0f} iterations/s at >= {TARGET_FPS:g} frames/s")


if __name__ == "__main__":
    main()
