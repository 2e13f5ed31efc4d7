"""Speed and mode coverage of the live 2D GAN (engine.gan.live) on the CPU, single-threaded like the page.

Run from anywhere: ``python -m benchmarks.bench_gan2d`` (about 10 minutes; ``--quick``: about 10 s, seed 0,
runs of half a second or less, for CI so the script cannot rot: too short for the targets, whose verdicts
then mean nothing).
Tables:
  (a) generator iterations per second (time.perf_counter), headless with the trainer's default
      evaluation every 100 iterations, for the default settings and each preset, at 1 and 2
      torch threads; "+ 2 fps" also takes a snapshot (64 x 64 heatmap, arrows, manifold) every
      0.5 s, the engine's share of a page that redraws twice a second; "ms/iter" is the median
      time of one iteration (timing.median_ms, 1 thread, evaluations excluded by the median).
  (b) seconds until the cover_all preset first shows 8/8 ring modes with >= 80% high-quality
      samples (2,500 samples at each evaluation, every 100 iterations; evaluation time included),
      seeds 0-4, against the target: under 30 s in at least 4 of 5 seeds.
  (c) grid25 modes covered after a fixed time with the cover_all settings, seeds 0-4, next to
      the published PacGAN (23.8-24.8) and VEEGAN (24.6) numbers (larger nets, full training).
  (d) the collapse preset on ring8: modes covered at 5, 10, 15 and 20 s, seeds 0-4, and the share
      of evaluations (every 100 iterations) in those 20 s with at most 3 modes covered.
Numbers depend on the machine and on what else runs on it; the targets are for 2 quiet CPU cores.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from benchmarks import timing
from engine.gan.live import MODE_STD, PRESETS, GAN2DTrainer, GANArchitecture, GANSettings, mode_centers, sample_data

SEEDS = (0, 1, 2, 3, 4)
N_DATA = 10_000  # points sampled once per run, as the page does for a named set
EVAL_EVERY = 100
TARGET_S, TARGET_HQ, TARGET_SEEDS = 30.0, 0.8, 4
COLLAPSED = 3  # modes covered at most, for the collapse preset to count as collapsed at an evaluation


def _trainer(dataset, arch, settings, seed) -> GAN2DTrainer:
    return GAN2DTrainer(sample_data(dataset, N_DATA, seed), replace(arch, seed=seed), settings,
                        modes=(mode_centers(dataset), MODE_STD[dataset]), eval_every=EVAL_EVERY)


def _rate(dataset, arch, settings, seconds: float, draw: bool, warmup: int = 50) -> float:
    trainer = _trainer(dataset, arch, settings, 0)
    trainer.step(warmup)  # warm-up: allocator, first evaluation
    start, last_frame, steps = time.perf_counter(), 0.0, 0
    while (now := time.perf_counter() - start) < seconds:
        steps += len(trainer.step_for(0.1))
        if draw and now - last_frame >= 0.5:
            trainer.snapshot(grid=64)
            last_frame = now
    return steps / (time.perf_counter() - start)


def table_speed(seconds: float, repeats: int = 300, warmup: int = 50) -> None:
    configs = {"default (ring8)": ("ring8", GANArchitecture(), GANSettings())}
    configs |= {name: (p.dataset, p.architecture, p.settings) for name, p in PRESETS.items()}
    print(f"(a) generator iterations / s, {seconds:g} s each (evaluation every {EVAL_EVERY} included)")
    print(f"{'settings':<18}{'ms/iter':>9}{'1 thread':>10}{'+ 2 fps':>10}{'2 threads':>11}{'+ 2 fps':>10}"
          "   architecture / settings")
    for name, (dataset, arch, settings) in configs.items():
        torch.set_num_threads(1)
        trainer = _trainer(dataset, arch, settings, 0)
        ms = timing.median_ms(lambda t=trainer: t.step(1), repeats=repeats, warmup=repeats // 10)
        row = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            row += [_rate(dataset, arch, settings, seconds, draw, warmup) for draw in (False, True)]
        extra = f"w{arch.width} d{arch.depth} {settings.loss} b{settings.batch_size} pack{settings.pack}"
        print(f"{name:<18}{ms:9.2f}{row[0]:10.0f}{row[1]:10.0f}{row[2]:11.0f}{row[3]:10.0f}   {extra}")
    torch.set_num_threads(1)


def _run(trainer: GAN2DTrainer, seconds: float, until=None) -> list[tuple[float, dict]]:
    """Train for ``seconds`` of wall time in chunks of one evaluation period; (elapsed, evaluation)
    after each chunk. Stops early when ``until(evaluation)`` is true."""
    out, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds and trainer.stopped is None:
        trainer.step(EVAL_EVERY)
        out.append((time.perf_counter() - start, trainer.evaluations[-1]))
        if until is not None and until(out[-1][1]):
            break
    return out


def table_cover(seeds, limit: float) -> None:
    p = PRESETS["cover_all"]
    print(f"\n(b) cover_all on ring8: seconds to 8/8 modes with >= {TARGET_HQ:.0%} high quality (1 thread)")
    print(f"{'seed':>5}{'seconds':>10}{'iterations':>12}{'modes':>7}{'hq':>7}")
    hits = 0
    for seed in seeds:
        trainer = _trainer(p.dataset, p.architecture, p.settings, seed)
        run = _run(trainer, limit, lambda e: e["modes_covered"] == 8 and e["high_quality"] >= TARGET_HQ)
        t, e = run[-1]
        done = e["modes_covered"] == 8 and e["high_quality"] >= TARGET_HQ
        hits += done and t < TARGET_S
        shown = f"{t:10.1f}" if done else f"{'> ' + format(limit, 'g'):>10}"
        print(f"{seed:>5}{shown}{e['step']:>12}{e['modes_covered']:>7.0f}{e['high_quality']:>7.2f}")
    verdict = "PASS" if hits >= min(TARGET_SEEDS, len(seeds)) else "FAIL"
    print(f"{verdict}: {hits}/{len(seeds)} seeds under {TARGET_S:g} s (target: {TARGET_SEEDS} of 5)")


def table_grid(seeds, budget: float) -> None:
    p = PRESETS["cover_all"]
    print(f"\n(c) grid25 with the cover_all settings: modes covered after {budget:g} s (1 thread, 2,500 samples)")
    modes, hqs = [], []
    for seed in seeds:
        trainer = _trainer("grid25", p.architecture, p.settings, seed)
        _, e = _run(trainer, budget)[-1]
        modes.append(e["modes_covered"])
        hqs.append(e["high_quality"])
        print(f"  seed {seed}: {e['modes_covered']:.0f}/25 modes, {e['high_quality']:.0%} high quality, "
              f"{e['step']} iterations")
    print(f"  mean {sum(modes) / len(modes):.1f} (range {min(modes):.0f}-{max(modes):.0f}) of 25 modes, "
          f"{sum(hqs) / len(hqs):.0%} high quality;  published: PacGAN 23.8-24.8, VEEGAN 24.6")


def table_collapse(seeds, marks) -> None:
    p = PRESETS["collapse"]
    print(f"\n(d) collapse preset on ring8: modes covered at {', '.join(f'{m:g}' for m in marks)} s (1 thread)")
    for seed in seeds:
        run = _run(_trainer(p.dataset, p.architecture, p.settings, seed), marks[-1])
        at = [next((e["modes_covered"] for t, e in run if t >= m), run[-1][1]["modes_covered"]) for m in marks]
        peak = max(e["modes_covered"] for _, e in run)
        low = sum(e["modes_covered"] <= COLLAPSED for _, e in run) / len(run)
        print(f"  seed {seed}: " + "  ".join(f"{a:.0f}" for a in at)
              + f"   (max {peak:.0f}; <= {COLLAPSED} modes in {low:.0%} of {len(run)} evaluations)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seed 0, runs of half a second or less (CI)")
    quick = parser.parse_args(argv).quick
    torch.set_num_threads(1)
    seeds = SEEDS[:1] if quick else SEEDS
    if quick:
        table_speed(0.1, repeats=20, warmup=5)
    else:
        table_speed(3.0)
    table_cover(seeds, 0.5 if quick else 60.0)
    table_grid(seeds, 0.5 if quick else 60.0)
    table_collapse(seeds, (0.25, 0.5) if quick else (5.0, 10.0, 15.0, 20.0))


if __name__ == "__main__":
    main()
