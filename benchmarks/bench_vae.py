"""Time the VAE engine: the live 2D trainer, exact log p(x) by quadrature, ELBO and IWAE on MNIST.

Run from anywhere: ``python -m benchmarks.bench_vae`` (MNIST rows need ``MNIST_DIR`` or the cache,
and the shipped checkpoints ``vae`` / ``vae2d``). Prints:

* VAETrainer steps per second on moons (n = 1000, full batch, default config: exact log p(x) of
  128 points every 25 steps), latent 1 and 2, early (steps 1-300) and after 1500 steps, where
  posteriors are narrower and the quadrature needs finer grids; and without the exact
  evaluations (``eval_every`` = 10^9) to show what they cost.
* ``log_marginal_grid`` on the trainer's 128 evaluation points after 1500 steps (median ms).
* One-sample ELBO and IWAE (k = 1000) per 100 held-out MNIST digits (median ms).

Timings are medians over REPEATS runs after WARMUP runs (``timing.median_ms``) with the torch
thread count printed in the header. ``--quick`` (CI, so the script cannot rot): one torch thread,
one block of 25 steps (one exact evaluation) early and one 50 steps later, 2 runs per timing, 10
digits and k = 50 (a few seconds); without MNIST or the checkpoints it prints what is missing
instead of the MNIST rows and still exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch

from benchmarks import timing
from engine import toy2d
from engine.vae import VAEConfig, log_marginal_grid
from engine.vae.live import VAETrainer

WARMUP = 1
REPEATS = 5
DATA = toy2d.sample("moons", 1000, 0)


@dataclass(frozen=True)
class Sizes:
    steps: int = 100  # trainer steps per timed block
    blocks: int = 3  # timed blocks (median), early and late
    between: int = 1200  # steps trained between the early and the late blocks
    warmup: int = WARMUP
    repeats: int = REPEATS
    iwae_repeats: int = 3
    digits: int = 100  # held-out MNIST digits per call
    k: int = 1000  # IWAE importance samples


QUICK = Sizes(steps=25, blocks=1, between=50, warmup=1, repeats=2, iwae_repeats=1, digits=10, k=50)


def steps_per_second(trainer: VAETrainer, blocks: int = 3, steps: int = 100) -> float:
    """Median over ``blocks`` consecutive blocks of ``steps`` steps (4 exact evaluations per 100 steps)."""
    rates = []
    for _ in range(blocks):
        start = time.perf_counter()
        trainer.step(steps)
        rates.append(steps / (time.perf_counter() - start))
    return statistics.median(rates)


def mnist_rows(z: Sizes) -> None:
    from engine.checkpoints import CheckpointError, load_pretrained
    from engine.data.mnist import MNISTError, training_data
    from engine.vae.mnist import heldout_elbo, iwae

    try:
        data = training_data()
        models = {name: load_pretrained(name, device="cpu")[0] for name in ("vae2d", "vae")}
    except (MNISTError, CheckpointError) as error:
        print(f"\nMNIST rows skipped: {error}")
        return
    digits = data.heldout_images[: z.digits]
    print(f"\n{f'MNIST, {len(digits)} held-out digits':<58}{'median ms':>10}")
    for name, model in models.items():
        g = torch.Generator().manual_seed(0)
        ms = timing.median_ms(lambda m=model, g=g: heldout_elbo(m, digits, g), z.repeats, z.warmup)
        print(f"{f'{name}: one-sample ELBO':<58}{ms:>10.1f}")
        ms = timing.median_ms(lambda m=model, g=g: iwae(m, digits, z.k, g), z.iwae_repeats, 1)
        print(f"{f'{name}: IWAE, k = {z.k}':<58}{ms:>10.1f}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny blocks and batches (CI)")
    quick = parser.parse_args(argv).quick
    z = QUICK if quick else Sizes()
    if quick:
        torch.set_num_threads(1)  # 2 threads on a busy CI machine can run 10x slower than one
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads); "
          f"median over {z.blocks} blocks of {z.steps} steps")
    print(f"\n{'VAETrainer on moons (n=1000)':<58}{'steps/s':>10}")
    early = f"steps 1-{z.blocks * z.steps}"
    done = z.blocks * z.steps + z.between
    late = f"steps {done + 1}-{done + z.blocks * z.steps}"
    trained = {}
    for latent in (1, 2):
        for eval_every, label in ((25, "exact log p(x) every 25 steps"), (10**9, "no exact evaluation")):
            trainer = VAETrainer(VAEConfig(latent_dim=latent, eval_every=eval_every), DATA)
            rate_early = steps_per_second(trainer, z.blocks, z.steps)
            trainer.step(z.between)
            rate_late = steps_per_second(trainer, z.blocks, z.steps)
            print(f"{f'latent {latent}, {label}, {early}':<58}{rate_early:>10.0f}")
            print(f"{f'latent {latent}, {label}, {late}':<58}{rate_late:>10.0f}")
            trained[latent] = trainer

    print(f"\n{f'exact log p(x), 128 points, after {trainer.step_count} steps':<58}{'median ms':>10}")
    for latent, trainer in trained.items():
        x = trainer._x_eval
        ms = timing.median_ms(lambda m=trainer.model, x=x: log_marginal_grid(m, x), z.repeats, z.warmup)
        print(f"{f'log_marginal_grid, latent {latent} (adaptive)':<58}{ms:>10.1f}")
    mnist_rows(z)


if __name__ == "__main__":
    main()
