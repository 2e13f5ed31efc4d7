"""Sampling speed of the shipped MNIST DDPM (engine.diffusion.mnist) on the CPU: DDIM and 1000-step DDPM.

Run from anywhere: ``python -m benchmarks.bench_ddpm_mnist`` (needs the shipped ``ddpm``
checkpoint in assets/models; about 2 minutes at 2 threads, most of it the 1000-step chain).
Options: ``--threads 2`` (torch threads, default 2: the issue's "2 CPU cores"), ``--n 16``
(digits per call), ``--repeats 5`` (DDIM timings), ``--ddpm-repeats 1`` (0 skips it), ``--inpaint 4``
(completions of the inpainting row; 0 skips it), ``--fid`` (and ``--fid-n 500``, needs MNIST:
``MNIST_DIR`` or the cache).

Table: wall time (time.perf_counter) of ``MNISTDiffusion.sample_ddim(n, steps, eta=0)`` for 10,
20, 50 and 100 steps and of ``sample_ddpm(n)`` (T = 1000 ancestral steps), the median over
``--repeats`` runs after one warm-up run (``timing.median_ms``; the DDPM chain: ``--ddpm-repeats``
runs, no warm-up), with "ms / call" = seconds / network evaluations (one U-Net call on a batch of
n per step) and a row for one bare U-Net call. The inpainting rows time ``engine.diffusion.inpainting.repaint``
as the page runs it by default (``--inpaint`` completions of one digit, top half regenerated, T = 1000
steps) with resampling U = 1 and U = 2, one run each. The target is DDIM-50 for 16 digits under 3 s on 2
CPU cores. ``--fid``: the classifier Fréchet distance of ``--fid-n`` DDIM-50 digits against as many
held-out digits, next to its floor (two held-out halves of that size), with class entropy and
coverage: ``engine.diffusion.mnist.evaluate(samplers=["ddim50"])``, the model card's protocol.
Numbers depend on the machine and on what else runs on it; the target is for 2 quiet cores.

``--quick`` (CI, so the script cannot rot): every table, ``--fid`` included, with the shipped U-Net's
weights on a T = 100 schedule, 2 digits per call on 1 thread, one run each, 2 inpainting completions
and ``--fid-n 20`` (a few seconds; the numbers are not the benchmark's). Without the checkpoint it says
so and exits 0 (1 in a full run); without MNIST the Fréchet table says what is missing.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import replace

import torch

from benchmarks import timing
from engine.checkpoints import CheckpointError, load_pretrained
from engine.diffusion.mnist import DDIM_STEPS, MNISTDiffusion

TARGET_S = 3.0  # DDIM-50, 16 digits, 2 CPU cores (the issue)
QUICK_T = 100  # --quick: the shipped weights on a T = 100 schedule, so every DDIM row (<= 100 steps) still runs


def shortened(model: MNISTDiffusion, steps: int) -> MNISTDiffusion:
    """The same U-Net weights on a ``steps``-step schedule (the schedule holds no weights)."""
    short = MNISTDiffusion(replace(model.config, steps=steps))
    short.load_state_dict(model.state_dict())
    return short.eval()


def table_speed(model, n: int, repeats: int, ddpm_repeats: int, warmup: int = 1) -> None:
    T = model.schedule.T
    print(f"\n{n} digits per call, median over {repeats} runs after {warmup} warm-up runs (DDPM: {ddpm_repeats})")
    print(f"{'sampler':<22}{'calls':>7}{'seconds':>10}{'ms / call':>11}{'ms / digit':>12}")
    x, t = torch.zeros(n, 1, 28, 28), torch.full((n,), T // 2, dtype=torch.long)
    with torch.no_grad():
        ms = timing.median_ms(lambda: model.eps(x, t), repeats=max(repeats, 20), warmup=3)
    print(f"{'one U-Net call':<22}{1:>7}{ms / 1e3:>10.3f}{ms:>11.1f}{ms / n:>12.2f}")
    results = {}
    for steps in DDIM_STEPS:
        ms = timing.median_ms(lambda s=steps: model.sample_ddim(n, s, 0.0, seed=0), repeats=repeats, warmup=warmup)
        results[steps] = ms / 1e3
        print(f"{f'DDIM {steps} (eta 0)':<22}{steps:>7}{ms / 1e3:>10.3f}{ms / steps:>11.1f}{ms / n:>12.1f}")
    if ddpm_repeats > 0:
        ms = timing.median_ms(lambda: model.sample_ddpm(n, seed=0), repeats=ddpm_repeats, warmup=0)
        print(f"{f'DDPM {T} (ancestral)':<22}{T:>7}{ms / 1e3:>10.3f}{ms / T:>11.1f}{ms / n:>12.1f}")
    if 50 in results:
        verdict = "PASS" if n == 16 and results[50] < TARGET_S else ("FAIL" if n == 16 else "n/a (n != 16)")
        print(f"{verdict}: DDIM 50 for {n} digits in {results[50]:.2f} s (target: 16 digits under {TARGET_S:g} s "
              f"on 2 cores; this run: {torch.get_num_threads()} threads)")


def table_inpaint(model, completions: int) -> None:
    from engine.diffusion.inpainting import known_mask, repaint

    image = torch.zeros(1, 1, 28, 28)
    image[..., 4:24, 12:16] = 1.0  # a vertical stroke: the timing does not depend on the digit
    T = model.schedule.T
    print(f"\ninpainting (RePaint, top half regenerated), {completions} completions of one digit, one run each")
    print(f"{'resampling U':<22}{'calls':>7}{'seconds':>10}{'ms / call':>11}")
    for resample in (1, 2):
        ms = timing.median_ms(lambda u=resample: repaint(model, image, known_mask("top"), completions, seed=0,
                                                        resample=u), repeats=1, warmup=0)
        calls = T * resample
        print(f"{f'U = {resample}':<22}{calls:>7}{ms / 1e3:>10.3f}{ms / calls:>11.1f}")


def table_fid(model, n: int) -> None:
    from engine.data.mnist import MNISTError, training_data
    from engine.diffusion import mnist as ddpm_mnist

    try:
        data = training_data()
        classifier, _ = load_pretrained("classifier", device="cpu")
    except (MNISTError, CheckpointError) as error:
        print(f"\n--fid skipped: {error}")
        return
    start = time.perf_counter()
    metrics, details = ddpm_mnist.evaluate(model, data, classifier, seed=0, n_samples=n, samplers=["ddim50"])
    row = details["samplers"]["ddim50"]
    print(f"\nclassifier Fréchet, {n} DDIM-50 digits v {n} held-out ({time.perf_counter() - start:.0f} s)")
    print(f"{'':<22}{'Fréchet':>10}{'entropy':>10}{'classes':>9}{'confidence':>12}")
    print(f"{'floor (held-out)':<22}{metrics['frechet_floor_same_size']:>10.1f}")
    print(f"{'DDIM 50':<22}{row['frechet']:>10.1f}{row['class_entropy']:>10.3f}{row['classes_covered']:>9}"
          f"{row['mean_confidence']:>12.3f}")
    print(f"(entropy in nats; log 10 = {math.log(10):.3f} is every class equally often; classes: > 2% of the digits)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--n", type=int, default=16, help="digits per sampling call (default 16)")
    parser.add_argument("--repeats", type=int, default=5, help="timed DDIM runs (default 5)")
    parser.add_argument("--ddpm-repeats", type=int, default=1, help="timed 1000-step runs (default 1; 0 skips)")
    parser.add_argument("--inpaint", type=int, default=4, help="inpainting completions (default 4; 0 skips)")
    parser.add_argument("--fid", action="store_true", help="also the classifier Fréchet of DDIM-50 samples")
    parser.add_argument("--fid-n", type=int, default=500, help="digits for --fid (default 500, the card's)")
    parser.add_argument("--quick", action="store_true",
                        help=f"T = {QUICK_T}, 2 digits, 1 thread, one run each, --fid (CI)")
    args = parser.parse_args(argv)
    if args.quick:
        args.threads = 1  # 2 threads on a busy CI machine can run 10x slower than one
    torch.set_num_threads(args.threads)
    try:
        model, card = load_pretrained("ddpm", device="cpu")
    except CheckpointError as error:
        print(f"no ddpm checkpoint, so nothing to time: {error}")
        return 0 if args.quick else 1
    training = card.get("training", {})
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads); ddpm checkpoint: "
          f"{card.get('parameters', '?')} parameters, channels {card.get('config', {}).get('channels')}, "
          f"trained {training.get('steps', '?')} steps")
    warmup = 1
    if args.quick:
        model = shortened(model, QUICK_T)
        args.n, args.repeats, args.ddpm_repeats, args.inpaint, args.fid, args.fid_n = 2, 1, 1, 2, True, 20
        warmup = 0
        print(f"--quick: the shipped weights on a T = {QUICK_T} schedule, {args.n} digits, one run each "
              "(the numbers are not the benchmark's)")
    table_speed(model, args.n, args.repeats, args.ddpm_repeats, warmup)
    if args.inpaint > 0:
        table_inpaint(model, args.inpaint)
    if args.fid:
        table_fid(model, args.fid_n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
