"""The five families on one data set (engine.compare.Race), the protocol of the /compare page.

Run from the repo root: ``python -m benchmarks.bench_compare`` (per data set and seed, every family trains
``--budget`` seconds, 40 by default: about 4 minutes a run, 35 minutes for 3 data sets x 3 seeds);
``--quick`` (CI): moons, seed 0, 1 s each, so the script cannot rot (too short for the targets).
Data sets: moons, the ring of 8 (modes counted), and a drawn-like shape (``tests/data/drawn_shape.csv``:
a hand-drawn heart and a dot, 850 points; training and held-out halves of it).

Per family, over the seeds: training seconds to 3x and 2x the sliced-W2 floor (">" when not reached in
the budget), the final sliced W2 / floor, modes covered (ring of 8), network evaluations per sample and
the milliseconds for 1,000 samples.
Targets (issue 16, 2 cores): every family under 3x its floor on moons within 60 s of training; flow
matching at or below the DDPM's sampling cost for the same quality.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from engine.compare import FAMILIES, Race
from engine.data.points import parse_points_csv
from engine.gan.modes import MODE_STD, mode_centers, sample_data

ROOT = Path(__file__).resolve().parents[1]
DRAWN = ROOT / "tests" / "data" / "drawn_shape.csv"
N_TRAIN, N_HELDOUT = 4000, 1000
EVAL_EVERY = 50  # rounds between a family's scores (the page scores every 10: it shows them live)


def dataset(name: str, seed: int):
    """(train, held-out, modes) of a data set."""
    if name == "drawn":
        points = parse_points_csv(DRAWN.read_bytes())
        order = np.random.default_rng(seed).permutation(len(points))
        half = len(points) // 2
        return points[order[:half]], points[order[half:]], None
    modes = (mode_centers(name), MODE_STD[name]) if name in MODE_STD else None
    return sample_data(name, N_TRAIN, seed), sample_data(name, N_HELDOUT, seed + 100), modes


def run(name: str, seed: int, budget: float) -> Race:
    """Rounds until every family has trained ``budget`` seconds (each scored every ``EVAL_EVERY`` rounds, 50
    rounds or about 0.5-1 s of its own training), then a last score; one progress line per run."""
    train, heldout, modes = dataset(name, seed)
    start = time.perf_counter()
    race = Race(train, heldout, modes=modes, seed=seed, eval_every=EVAL_EVERY, max_rounds=None)
    while training := {f for f, lane in race.lanes.items() if lane.seconds < budget}:
        race.step(5, only=training)  # a family stops at its budget, so each gets the same training time
    for family in race.families:
        race.score(family)
    reached = ", ".join(f"{f} {lane.reached.get(3, float('nan')):.1f}/{lane.reached.get(2, float('nan')):.1f} s"
                        for f, lane in race.lanes.items())
    print(f"  {name} seed {seed}: {time.perf_counter() - start:.0f} s wall; to 3x/2x: {reached}", flush=True)
    return race


def seconds(values: list[float | None], budget: float) -> str:
    reached = [v for v in values if v is not None]
    if len(reached) < len(values):
        return f">{budget:g} ({len(reached)}/{len(values)})"
    return f"{statistics.median(reached):.1f}"


def table(name: str, seeds: list[int], budget: float) -> None:
    races = [run(name, seed, budget) for seed in seeds]
    print(f"\n{name}: {len(seeds)} seed(s), {budget:g} s of training per family; median over seeds")
    print(f"{'family':<9}{'s to 3x':>12}{'s to 2x':>12}{'W2/floor':>10}{'modes':>8}{'evals':>7}{'ms/1000':>9}"
          "  log-likelihood of held-out points (nats)")
    for family in FAMILIES:
        lanes = [race.lanes[family] for race in races]
        final = [lane.scores[-1] for lane in lanes]
        modes = "" if final[0].modes_covered is None else \
            f"{statistics.median(s.modes_covered for s in final):.0f}/{final[0].n_modes}"
        likelihood = ", ".join(f"{k} {statistics.median(s.log_likelihood[k] for s in final):.2f}"
                               for k in final[0].log_likelihood) or "none"
        print(f"{family:<9}{seconds([lane.reached.get(3) for lane in lanes], budget):>12}"
              f"{seconds([lane.reached.get(2) for lane in lanes], budget):>12}"
              f"{statistics.median(s.ratio for s in final):>10.2f}{modes:>8}{final[0].evaluations:>7}"
              f"{1000 * statistics.median(s.sample_seconds for s in final):>9.0f}  {likelihood}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="moons, seed 0, 1 s a family (CI)")
    parser.add_argument("--budget", type=float, default=40.0, help="training seconds per family")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=["moons", "ring8", "drawn"])
    args = parser.parse_args()
    torch.set_num_threads(1)  # as a page session: one thread each
    if args.quick:
        args.budget, args.seeds, args.datasets = 1.0, 1, ["moons"]
    start = time.perf_counter()
    for name in args.datasets:
        table(name, list(range(args.seeds)), args.budget)
    print(f"\n{time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
