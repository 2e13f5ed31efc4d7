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
thread count printed in the header.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch

from benchmarks import timing
from engine import toy2d
from engine.vae import VAEConfig, log_marginal_grid
from engine.vae.live import VAETrainer

WARMUP = 1
REPEATS = 5
DATA = toy2d.sample("moons", 1000, 0)


def steps_per_second(trainer: VAETrainer, blocks: int = 3, steps: int = 100) -> float:
    """Median over ``blocks`` consecutive blocks of ``steps`` steps (4 exact evaluations per block)."""
    rates = []
    for _ in range(blocks):
        start = time.perf_counter()
        trainer.step(steps)
        rates.append(steps / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"\n{'VAETrainer on moons (n=1000)':<58}{'steps/s':>10}")
    trained = {}
    for latent in (1, 2):
        for eval_every, label in ((25, "exact log p(x) every 25 steps"), (10**9, "no exact evaluation")):
            trainer = VAETrainer(VAEConfig(latent_dim=latent, eval_every=eval_every), DATA)
            early = steps_per_second(trainer)
            trainer.step(1200)
            late = steps_per_second(trainer)
            print(f"{f'latent {latent}, {label}, steps 1-300':<58}{early:>10.0f}")
            print(f"{f'latent {latent}, {label}, steps 1501-1800':<58}{late:>10.0f}")
            trained[latent] = trainer

    print(f"\n{'exact log p(x), 128 points, after 1800 steps':<58}{'median ms':>10}")
    for latent, trainer in trained.items():
        x = trainer._x_eval
        ms = timing.median_ms(lambda m=trainer.model, x=x: log_marginal_grid(m, x), REPEATS, WARMUP)
        print(f"{f'log_marginal_grid, latent {latent} (adaptive)':<58}{ms:>10.1f}")

    try:
        from engine.checkpoints import CheckpointError, load_pretrained
        from engine.data.mnist import MNISTError, training_data
        from engine.vae.mnist import heldout_elbo, iwae

        data = training_data()
        models = {name: load_pretrained(name, device="cpu")[0] for name in ("vae2d", "vae")}
    except (MNISTError, CheckpointError) as error:
        print(f"\nMNIST rows skipped: {error}")
        return
    digits = data.heldout_images[:100]
    print(f"\n{'MNIST, 100 held-out digits':<58}{'median ms':>10}")
    for name, model in models.items():
        g = torch.Generator().manual_seed(0)
        ms = timing.median_ms(lambda m=model, g=g: heldout_elbo(m, digits, g), REPEATS, WARMUP)
        print(f"{f'{name}: one-sample ELBO':<58}{ms:>10.1f}")
        ms = timing.median_ms(lambda m=model, g=g: iwae(m, digits, 1000, g), 3, 1)
        print(f"{f'{name}: IWAE, k = 1000':<58}{ms:>10.1f}")


if __name__ == "__main__":
    main()
