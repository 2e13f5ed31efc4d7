"""Time engine.likelihood and the MLE trainer on the cases the Maximum-likelihood page runs.

Run from anywhere: ``python -m benchmarks.bench_likelihood``. Prints one row per case with the
median wall time (ms) over REPEATS runs after WARMUP runs (time.perf_counter), then the MLE
trainer's steps per second (full batch, n = 500, median of REPEATS timed blocks of STEPS steps).
Data: n = 500 draws from a 3-component 1D mixture (seeded), held-out set of the same size.
``--quick`` (CI, so the script cannot rot): 2 runs after 1 warm-up, one block of 20 trainer steps.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from benchmarks import timing
from engine.capacity import kde_capacity_curve, mixture_capacity_curve
from engine.distributions import Mixture, Normal
from engine.likelihood import (
    em_mixture,
    fit_gaussian,
    kde,
    kl_decomposition,
    standard_error_curve,
)
from engine.mle import MLEConfig, MLETrainer

WARMUP = 2
REPEATS = 15
STEPS = 200  # trainer steps per timed block
QUICK = (1, 2, 20, 1)  # --quick: warm-up runs, repeats, steps per block, blocks

P = Mixture((Normal(-2.0, 0.6), Normal(0.5, 0.8), Normal(2.5, 0.5)), (0.3, 0.45, 0.25))
TRAIN = P.sample(500, rng=0)
TEST = P.sample(500, rng=1)
GRID = np.linspace(-5.0, 5.0, 600)
KDE_002 = kde(TRAIN, 0.02)
KDE_03 = kde(TRAIN, 0.3)
MIX_MODEL = em_mixture(TRAIN, 3, seed=0).model
NS = np.unique(np.geomspace(10, 1000, 8).astype(int))  # 8 sample sizes up to 1000

CASES = {
    "fit_gaussian (n=500)": lambda: fit_gaussian(TRAIN),
    "em_mixture k=3 (n=500)": lambda: em_mixture(TRAIN, 3, seed=0),
    "kde logpdf, 600 points (n=500, h=0.3)": lambda: KDE_03.logpdf(GRID),
    "kde logpdf, 600 points (n=500, h=0.02)": lambda: KDE_002.logpdf(GRID),
    "kl_decomposition, Normal model": lambda: kl_decomposition(P, Normal(0.2, 1.8)),
    "kl_decomposition, Mixture model (k=3 EM fit)": lambda: kl_decomposition(P, MIX_MODEL),
    "kl_decomposition, KDE model (n=500, h=0.02)": lambda: kl_decomposition(P, KDE_002),
    "standard_error_curve (8 ns <= 1000, 200 repeats)": lambda: standard_error_curve(
        P, Normal(0.2, 1.8), NS, 200, rng=0),
    "mixture_capacity_curve (k=1..8)": lambda: mixture_capacity_curve(TRAIN, TEST, range(1, 9), seed=0),
    "kde_capacity_curve (12 bandwidths)": lambda: kde_capacity_curve(TRAIN, TEST, np.geomspace(1.0, 0.001, 12)),
}


def steps_per_second(config: MLEConfig, warmup: int, steps: int, blocks: int) -> float:
    trainer = MLETrainer(config, TRAIN)
    trainer.step(warmup * 10)
    rates = []
    for _ in range(blocks):
        start = time.perf_counter()
        trainer.step(steps)
        rates.append(steps / (time.perf_counter() - start))
    return statistics.median(rates)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs per case, 20 trainer steps (CI)")
    quick = parser.parse_args(argv).quick
    warmup, repeats, steps, blocks = QUICK if quick else (WARMUP, REPEATS, STEPS, REPEATS // 3)
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads); "
          f"median over {repeats} runs after {warmup} warm-up runs")
    width = max(len(name) for name in CASES) + 2
    print(f"{'case':<{width}}{'median ms':>10}")
    for name, fn in CASES.items():
        print(f"{name:<{width}}{timing.median_ms(fn, repeats, warmup):>10.2f}")
    print()
    print(f"{'MLETrainer (full batch, n=500)':<{width}}{'steps/s':>10}   (median of {blocks} x {steps} steps)")
    for label, cfg in [("gaussian, adam", MLEConfig(family="gaussian", optimizer="adam")),
                       ("mixture k=3, adam", MLEConfig(family="mixture", k=3, optimizer="adam")),
                       ("mixture k=3, sgd", MLEConfig(family="mixture", k=3, optimizer="sgd", lr=0.01))]:
        print(f"{label:<{width}}{steps_per_second(cfg, warmup, steps, blocks):>10.0f}")


if __name__ == "__main__":
    main()
