"""Time engine.divergences on the cases the divergences page hits on every slider move.

Run from anywhere: ``python -m benchmarks.bench_divergences``. Prints one row per case with the
median time (ms) of each divergence computed on its own, their sum, and ``divergence_report``
(all six on one shared grid, which is what the page calls); then the ``shift_sweep`` time for
151 thetas. Medians over REPEATS runs after WARMUP runs, timed with time.perf_counter.
``--quick`` (CI, so the script cannot rot): 2 runs after 1 warm-up, one sweep of 21 thetas (a few seconds).
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks import timing
from engine.distributions import Mixture, Normal, Uniform
from engine.divergences import divergence_report, js, kl, reverse_kl, tv, wasserstein
from engine.shift_sweep import shift_sweep

WARMUP = 3
REPEATS = 25
SWEEP_REPEATS = 5  # each sweep is 151 reports; 5 repeats keep the script under a minute
THETAS = 151
QUICK = (1, 2, 1, 21)  # --quick: warm-up runs, repeats, sweep repeats, thetas

CASES = {
    "two Normals": (Normal(0.0, 1.0), Normal(1.0, 2.0)),
    "3-comp Normal mixtures": (
        Mixture((Normal(-2.0, 0.7), Normal(0.5, 1.2), Normal(3.0, 0.4)), (0.3, 0.5, 0.2)),
        Mixture((Normal(-1.0, 1.0), Normal(1.5, 0.5), Normal(2.0, 2.0)), (0.2, 0.3, 0.5)),
    ),
    "mixture with a Uniform": (
        Mixture((Normal(0.0, 1.0), Uniform(-1.0, 2.0)), (0.6, 0.4)),
        Mixture((Normal(-2.0, 0.7), Normal(0.5, 1.2), Normal(3.0, 0.4)), (0.3, 0.5, 0.2)),
    ),
    "disjoint Uniforms": (Uniform(0.0, 1.0), Uniform(2.0, 3.0)),
}

FUNCTIONS = {
    "KL(P|Q)": kl,
    "KL(Q|P)": reverse_kl,
    "JS": js,
    "TV": tv,
    "W1": lambda p, q: wasserstein(p, q, 1),
    "W2": lambda p, q: wasserstein(p, q, 2),
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs per cell, a 21-theta sweep (CI)")
    quick = parser.parse_args(argv).quick
    warmup, repeats, sweep_repeats, n_thetas = QUICK if quick else (WARMUP, REPEATS, SWEEP_REPEATS, THETAS)

    def median_ms(fn, repeats: int = repeats) -> float:
        return timing.median_ms(fn, repeats, warmup)

    names = list(FUNCTIONS)
    header = f"{'case':<24}" + "".join(f"{n:>9}" for n in names) + f"{'sum':>9}{'report':>9}"
    print(f"median ms over {repeats} runs (after {warmup} warm-up runs)")
    print(header)
    print("-" * len(header))
    for case, (p, q) in CASES.items():
        times = [median_ms(lambda f=f, p=p, q=q: f(p, q)) for f in FUNCTIONS.values()]
        report = median_ms(lambda p=p, q=q: divergence_report(p, q))
        print(f"{case:<24}" + "".join(f"{t:9.2f}" for t in times) + f"{sum(times):9.2f}{report:9.2f}")
    print()
    thetas = np.linspace(-3.0, 3.0, n_thetas)
    print(f"shift_sweep, {thetas.size} thetas, median of {sweep_repeats} runs")
    sweeps = [
        ("two Uniforms U[0,1]", Uniform(0.0, 1.0)),
        ("two narrow Normals N(0,0.1^2)", Normal(0.0, 0.1)),
        ("two 3-comp mixtures", CASES["3-comp Normal mixtures"][0]),
    ]
    for case, base in sweeps:
        ms = median_ms(lambda b=base: shift_sweep(b, b, thetas), sweep_repeats)
        print(f"  {case:<32}{ms:9.1f} ms")


if __name__ == "__main__":
    main()
