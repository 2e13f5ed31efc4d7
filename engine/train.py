"""Train a model from the command line and ship it with its model card.

    python -m engine.train MODEL [--epochs N] [--device auto|cpu|cuda|mps] [--data-dir DIR]
                                 [--out DIR] [--seed S] [--max-steps N]

MODEL is one of ``engine.models.SHIPPED``: ``classifier``, ``vae2d``, ``vae``, ``ae``, ``dcgan``, ``ddpm``.
Data come from ``engine.data.mnist.training_data`` (``--data-dir``, then
``MNIST_DIR``, then the cache): with only the 10,000-image test split present, images 0-7999
train and 8000-9999 are held out, and the model card says so. Weights go to
``<out>/<MODEL>.safetensors`` with ``<out>/<MODEL>.json`` beside them (default out:
``assets/models``); ``dcgan`` also writes its training film, ``<out>/dcgan_film.safetensors``,
whose sha256 its card records. ``--max-steps`` cuts a run short for smoke tests.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from engine import device as devices
from engine.checkpoints import ASSETS_DIR, checkpoint_paths, save_checkpoint
from engine.data.mnist import MNISTError, training_data
from engine.models import SHIPPED


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m engine.train", description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(SHIPPED), help="what to train")
    parser.add_argument("--epochs", type=int, default=None, help="passes over the training images")
    parser.add_argument("--device", default="auto", choices=devices.CHOICES, help="where to train (default auto)")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder with the MNIST IDX files")
    parser.add_argument("--out", type=Path, default=ASSETS_DIR, help=f"output folder (default {ASSETS_DIR})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (smoke tests)")
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be at least 1")
    if args.max_steps is not None and args.max_steps < 1:
        parser.error("--max-steps must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        device = devices.pick_device(args.device)
        data = training_data(args.data_dir)
    except (ValueError, MNISTError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if device.type == "cpu":  # a training run owns the machine: use every allowed core
        devices.configure_threads(int(os.environ.get(devices.THREADS_ENV, os.cpu_count() or 1)))
    info = devices.describe(device)
    print(f"training {args.model} on {info.kind} {info.name} ({info.threads} threads); data: {data.description}",
          flush=True)
    model, card = SHIPPED[args.model].trainer()(args, device, data)
    card = {"name": args.model, **card, "data": {"description": data.description, **data.card},
            "device": {"kind": info.kind, "name": info.name, "threads": info.threads}, "seed": args.seed,
            "rebuild": SHIPPED[args.model].rebuild}
    weights = save_checkpoint(model, args.out / args.model, card)
    print(f"saved {weights} and {checkpoint_paths(weights)[1]}", flush=True)
    for key, value in card["metrics"].items():
        print(f"  {key}: {value:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
