"""Time engine.vae.exact on the calls the VAE chapter's toy-model page makes.

Run from anywhere: ``python -m benchmarks.bench_vae_toy``. Prints, for each preset x of the
default ToyLVM() (parabola, sigma = 0.3), the median wall time (ms, time.perf_counter) over
REPEATS runs after WARMUP runs of: log_marginal, elbo, posterior_kl (q = N(0.5, 0.3^2)), an
80 x 60 elbo_surface, fit_q from the default start, and iwae_bounds for K in (1, 10, 100, 1000)
with 100 repeats (111,100 draws from q). Then each preset's log p(x) and the gap of the fitted
Gaussian q from two starts, and the IWAE bounds of the bimodal preset's straddling q.
``--quick`` (CI, so the script cannot rot): 2 runs after 1 warm-up, IWAE with 10 repeats (a few seconds).
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks import timing
from engine.vae.exact import PRESETS, ToyLVM

WARMUP = 3
REPEATS = 25
MU, S = 0.5, 0.3  # a q that is poor for every preset, so no call gets an easy case
MUS, LOG_SS = np.linspace(-3.0, 3.0, 80), np.linspace(-4.0, 1.0, 60)
KS = (1, 10, 100, 1000)
IWAE_REPEATS = 100
QUICK = (1, 2, 10)  # --quick: warm-up runs, repeats, IWAE repeats


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs per cell, 10 IWAE repeats (CI)")
    quick = parser.parse_args(argv).quick
    warmup, repeats, iwae_repeats = QUICK if quick else (WARMUP, REPEATS, IWAE_REPEATS)
    model = ToyLVM()
    calls = {
        "log_marginal": lambda x: model.log_marginal(x),
        "elbo": lambda x: model.elbo(x, MU, S),
        "posterior_kl": lambda x: model.posterior_kl(x, MU, S),
        "surface 80x60": lambda x: model.elbo_surface(x, MUS, LOG_SS),
        "fit_q": lambda x: model.fit_q(x),
        "iwae_bounds": lambda x: model.iwae_bounds(x, MU, S, KS, repeats=iwae_repeats, rng=0),
    }
    print(f"median ms over {repeats} runs, after {warmup} warm-up runs; iwae_bounds with {iwae_repeats} repeats")
    header = f"{'preset':<15}" + "".join(f"{n:>15}" for n in calls)
    print(header)
    print("-" * len(header))
    for name, x in PRESETS.items():
        times = [timing.median_ms(lambda f=f, x=x: f(x), repeats, warmup) for f in calls.values()]
        print(f"{name:<15}" + "".join(f"{t:15.3f}" for t in times))
    print()
    print(f"{'preset':<15}{'x':>14}{'log p(x)':>12}{'gap from mu=0':>15}{'gap from mu=.5':>16}")
    for name, x in PRESETS.items():
        gaps = [model.fit_q(x, init_mu=m).gap for m in (0.0, 0.5)]
        print(f"{name:<15}{str(x):>14}{model.log_marginal(x):12.4f}{gaps[0]:15.4f}{gaps[1]:16.4f}")
    wide = model.fit_q(PRESETS["bimodal"])
    b = model.iwae_bounds(PRESETS["bimodal"], wide.mu, wide.s, KS, repeats=iwae_repeats, rng=0)
    print()
    print(f"bimodal, straddling q (mu = {wide.mu:.3g}, s = {wide.s:.3f}): mean L_K - log p(x) +- stderr")
    for k, m, e in zip(KS, b.mean, b.stderr):
        print(f"  K = {k:<5}{m - b.log_marginal:10.4f} +- {e:.4f}")
    print(f"  (ELBO - log p(x) = {b.elbo - b.log_marginal:.4f})")


if __name__ == "__main__":
    main()
