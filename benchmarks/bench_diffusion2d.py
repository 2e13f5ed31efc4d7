"""Training speed of the live 2D DDPM (engine.diffusion.live) against the issue's target, on the CPU.

Run from anywhere: ``python -m benchmarks.bench_diffusion2d`` (moons and swiss roll, seeds 0-2,
at most 90 s of training each: about 10 minutes). Options: ``--sets moons ring spiral``,
``--seeds 5``, ``--limit 30``, ``--threads 1 2``, ``--eval-every 100``, ``--baseline``.

What is measured. ``Diffusion2DTrainer`` with the DEFAULT ``Diffusion2DConfig`` (the page's
settings; only ``eval_every`` is raised out of reach so that the trainer never evaluates inside a
step) trains on 8,000 points of the set (drawn with the run's seed), with ``fresh`` draws of the
named set for the metric. The clock (time.perf_counter) runs only while ``trainer.step`` runs;
every ``--eval-every`` steps (default 100, a fraction of a second of training) the clock stops and
``trainer.evaluate()`` computes the quality metric: sliced W2 (500 directions) between 1,000
samples of the EMA model (a full reverse chain) and 1,000 fresh data points. Evaluating does not
touch the training random stream, so the trajectory is the same whatever the evaluation cadence.

Columns: ``floor`` is ``trainer.sliced_w2_floor`` (two independent 1,000-point data draws);
``3x s`` / ``2x s``: training seconds (and the training step, which does not depend on the machine's
speed: seconds on a quiet machine ~ step / its it/s) at the first evaluation whose RAW metric is at
most 3x / 2x the floor (the issue's "until the metric reaches"; a single reading is noisy, by roughly +-20% here,
so the next columns show whether the model stays there); ``@20s`` / ``@60s``: metric / floor at
the last evaluation within 20 s / 60 s of training; ``final``: the median ratio of the last 5
evaluations; ``steps`` and ``it/s`` (training steps per training second). A run stops at
``--limit`` seconds of training, or earlier once it has reached 2x and passed 60 s. The summary
row per set gives the median and the worst seed against the targets: 3x within 20 s and 2x within
60 s on 2 quiet CPU cores (the page trains on one thread, hence the default ``--threads 1``).

``--baseline``: tiny-diffusion's defaults for scale (linear betas 1e-4..0.02 NOT rescaled, T = 50,
batch 32, lr 1e-3, no EMA, width-128 MLP with 3 hidden layers and a 128-wide time embedding; their
MLP also embeds x and y and has residual blocks, ours does not), 200 epochs of 8,000 points
(50,000 steps) or ``--baseline-limit`` seconds, evaluated every 2,500 steps; the issue quotes
"about 100 s, ends near 30x the floor on moons" because x_T is not N(0, I) with that schedule.
Numbers depend on the machine and on what else runs on it.

``--quick`` (CI, so the script cannot rot): moons, seed 0, 0.5 s of training, and ``--baseline`` for
0.5 s evaluated every 250 steps (about 8 s); far too short for the targets, so its verdicts mean nothing.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import replace

import torch

from engine import toy2d
from engine.diffusion.live import Diffusion2DConfig, Diffusion2DTrainer

N_DATA = 8000  # training points per run (tiny-diffusion's data-set size)
TARGETS = {3.0: 20.0, 2.0: 60.0}  # ratio to the floor -> seconds of training allowed (the issue's targets)
MARKS = (20.0, 60.0)  # ratios reported at these training times
NEVER = 10**9  # eval_every out of reach: evaluations happen outside the clock, in this script
BASELINE = Diffusion2DConfig(schedule="linear", steps=50, rescale=False, width=128, depth=3, embedding=128,
                             lr=1e-3, batch_size=32, ema=0.0)
BASELINE_STEPS = 200 * N_DATA // 32  # 200 epochs at batch 32
BASELINE_EVAL_EVERY = 2500


def _trainer(config: Diffusion2DConfig, name: str, seed: int) -> Diffusion2DTrainer:
    return Diffusion2DTrainer(replace(config, seed=seed, eval_every=NEVER), toy2d.sample(name, N_DATA, seed),
                              fresh=lambda n, s: toy2d.sample(name, n, s))


def train_timed(trainer: Diffusion2DTrainer, limit: float, eval_every: int, max_steps: int | None = None,
                stop_after: float | None = None) -> list[tuple[float, int, float]]:
    """Train for ``limit`` seconds of training time; ``(training seconds, step, metric / floor)`` at each
    evaluation (step 0 included). Stops early after ``max_steps``, or once the ratio is <= 2 and the
    clock has passed ``stop_after``."""
    floor = trainer.sliced_w2_floor
    out, clock = [(0.0, 0, trainer.evaluations[0]["sliced_w2"] / floor)], 0.0
    reached = False
    while clock < limit and trainer.stopped is None and (max_steps is None or trainer.step_count < max_steps):
        n = eval_every if max_steps is None else min(eval_every, max_steps - trainer.step_count)
        start = time.perf_counter()
        trainer.step(n)
        clock += time.perf_counter() - start
        ratio = trainer.evaluate()["sliced_w2"] / floor  # outside the clock
        out.append((clock, trainer.step_count, ratio))
        reached = reached or ratio <= 2.0
        if stop_after is not None and reached and clock >= stop_after:
            break
    return out


def first_reach(run, ratio: float) -> tuple[float, int] | tuple[None, None]:
    """(training seconds, step) at the first evaluation with metric / floor <= ``ratio``."""
    return next(((t, step) for t, step, r in run if r <= ratio), (None, None))


def ratio_at(run, seconds: float) -> float | None:
    """The ratio at the last evaluation within ``seconds`` of training (None if the run stopped before)."""
    if run[-1][0] < seconds:
        return None
    return [r for t, _, r in run if t <= seconds][-1]


def _fmt(value: float | None, width: int, spec: str, missing: str = "-") -> str:
    return f"{missing:>{width}}" if value is None else f"{value:>{width}{spec}}"


def _seconds(value: float, limit: float) -> str:
    return f"> {limit:g} s" if math.isinf(value) else f"{value:.1f} s"


def table_targets(sets, seeds, threads, limit: float, eval_every: int) -> bool:
    print(f"Default Diffusion2DConfig: {Diffusion2DConfig()}")
    print(f"training seconds to reach 3x / 2x the sliced-W2 floor; limit {limit:g} s of training per run; "
          f"evaluation every {eval_every} steps (outside the clock)")
    header = (f"{'set':<11}{'thr':>4}{'seed':>5}{'floor':>8}{'3x s':>8}{'(step)':>8}{'2x s':>8}{'(step)':>8}"
              f"{'@20s':>9}{'@60s':>9}{'final':>9}{'steps':>8}{'it/s':>7}")
    ok = True
    for n_threads in threads:
        torch.set_num_threads(n_threads)
        print("\n" + header)
        for name in sets:
            hits = {ratio: [] for ratio in TARGETS}
            for seed in seeds:
                trainer = _trainer(Diffusion2DConfig(), name, seed)
                run = train_timed(trainer, limit, eval_every, stop_after=max(MARKS))
                seconds, steps = run[-1][0], run[-1][1]
                final = statistics.median(r for _, _, r in run[-5:])
                reached = {ratio: first_reach(run, ratio) for ratio in TARGETS}
                for ratio in TARGETS:
                    hits[ratio].append(reached[ratio][0])
                late = f"> {limit:g}"
                print(f"{name:<11}{n_threads:>4}{seed:>5}{trainer.sliced_w2_floor:>8.4f}"
                      f"{_fmt(reached[3.0][0], 8, '.1f', late)}{_fmt(reached[3.0][1], 8, 'd')}"
                      f"{_fmt(reached[2.0][0], 8, '.1f', late)}{_fmt(reached[2.0][1], 8, 'd')}"
                      f"{_fmt(ratio_at(run, MARKS[0]), 9, '.3g')}{_fmt(ratio_at(run, MARKS[1]), 9, '.3g')}"
                      f"{final:>9.3g}{steps:>8}{steps / max(seconds, 1e-9):>7.0f}")
            verdicts = []
            for ratio, target in TARGETS.items():
                times = [math.inf if t is None else t for t in hits[ratio]]  # not reached sorts last
                median, worst = statistics.median(times), max(times)
                met = worst <= target
                ok &= met
                verdicts.append(f"{ratio:g}x: median {_seconds(median, limit)}, worst {_seconds(worst, limit)} "
                                f"(target {target:g} s: {'PASS' if met else 'FAIL'})")
            print(f"{'':<11}summary {name}: " + ";  ".join(verdicts))
    torch.set_num_threads(1)
    return ok


def table_baseline(limit: float, eval_every: int = BASELINE_EVAL_EVERY) -> None:
    print(f"\n--baseline (tiny-diffusion-like): {BASELINE}")
    print(f"moons, seed 0, up to {BASELINE_STEPS} steps (200 epochs of {N_DATA} at batch 32) or {limit:g} s, 1 thread")
    torch.set_num_threads(1)
    trainer = _trainer(BASELINE, "moons", 0)
    run = train_timed(trainer, limit, eval_every, max_steps=BASELINE_STEPS)
    print(f"{'seconds':>9}{'steps':>8}{'ratio':>8}")
    for seconds, steps, ratio in run[1:]:
        print(f"{seconds:>9.1f}{steps:>8}{ratio:>8.2f}")
    final = statistics.median(r for _, _, r in run[-5:])
    print(f"ends at {final:.1f}x the floor (median of the last 5 evaluations) after {run[-1][1]} steps, "
          f"{run[-1][0]:.0f} s of training; alpha_bar_T = {trainer.schedule.alpha_bar[-1]:.3f} "
          f"(the default config's: {_trainer(Diffusion2DConfig(), 'moons', 0).schedule.alpha_bar[-1]:.2e})")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["moons", "swiss_roll"], choices=toy2d.NAMES)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--limit", type=float, default=90.0, help="seconds of training per run (default 90)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1], help="torch thread counts (default 1)")
    parser.add_argument("--eval-every", type=int, default=100, help="steps between evaluations (default 100)")
    parser.add_argument("--baseline", action="store_true", help="also run tiny-diffusion's defaults on moons")
    parser.add_argument("--baseline-limit", type=float, default=150.0, help="seconds for --baseline (default 150)")
    parser.add_argument("--quick", action="store_true", help="moons, 1 seed, 0.5 s runs and --baseline (CI)")
    args = parser.parse_args(argv)
    baseline_eval_every = BASELINE_EVAL_EVERY
    if args.quick:
        args.sets, args.seeds, args.limit, args.threads, args.eval_every = ["moons"], 1, 0.5, [1], 100
        args.baseline, args.baseline_limit, baseline_eval_every = True, 0.5, 250
        print("--quick: runs far too short for the targets; the verdicts below mean nothing")
    print(f"torch {torch.__version__}")
    ok = table_targets(args.sets, range(args.seeds), args.threads, args.limit, args.eval_every)
    print(f"\n{'PASS' if ok else 'FAIL'}: every seed within 3x in {TARGETS[3.0]:g} s and 2x in {TARGETS[2.0]:g} s")
    if args.baseline:
        table_baseline(args.baseline_limit, baseline_eval_every)


if __name__ == "__main__":
    main()
