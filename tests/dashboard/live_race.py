"""Two overlapping script runs of one browser session, without a browser: the race that crashed the server.

Streamlit's fast reruns start a new run of a session while the previous one may still be inside a
training tick. This driver plays that out on one live GAN trainer for ``--seconds``: "tick" threads
call ``live_training.advance`` (what the playing fragment does) and draw a snapshot, while an "edit"
thread applies new settings through ``trainer_for(..., live=)``, presses the step buttons and
pause/play, as a student moving sliders does. Every access goes through the page's locking.

Run as a script under faulthandler (``python -X faulthandler tests/dashboard/live_race.py``), so a
crash prints every thread's stack and exits non-zero instead of taking pytest down with it. Before
the lock (or with ``--unlocked``, which skips it) this died in 3 of 3 runs within seconds with
``free(): invalid pointer`` or a segfault inside ``backward``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import random
import sys
import threading
import time

from dashboard.shared import live_training as live
from engine.device import configure_threads
from engine.gan import LOSSES
from engine.gan.live import MODE_STD, GAN2DTrainer, GANArchitecture, GANSettings, mode_centers, sample_data

KEY = "gan_live"
ARCH = GANArchitecture(width=32, depth=2)  # small: more steps, more chances to collide


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--tickers", type=int, default=2, help="threads ticking at once (old and new runs)")
    parser.add_argument("--unlocked", action="store_true", help="bypass the locks (shows the crash; never in CI)")
    args = parser.parse_args(argv)
    configure_threads()
    data = sample_data("ring8", 4000, rng=0)
    modes = (mode_centers("ring8"), MODE_STD["ring8"])
    state: dict = {}
    identity = ("ring8", ARCH)
    live.trainer_for(KEY, identity, lambda: GAN2DTrainer(data, ARCH, GANSettings(), modes=modes), state)
    s = live.slot(KEY, state)
    if args.unlocked:
        s.lock = contextlib.nullcontext()
    live.play(KEY, state)
    s.speed = "fast"
    s.speeds = {"fast": (0.05, 100_000)}
    deadline = time.monotonic() + args.seconds
    counts = {"ticks": 0, "edits": 0, "snapshots": 0}
    errors: list[str] = []

    def guarded(body):
        def run():
            try:
                body()
            except Exception as error:
                errors.append(f"{type(error).__name__}: {error}")
        return run

    def tick():
        while time.monotonic() < deadline:
            s.playing = True
            live.advance(s)
            with live.locked(KEY, state) as trainer:
                trainer.snapshot(grid=16)
            counts["ticks"] += 1
            time.sleep(0.05)  # the browser asks for the next tick an interval later (the lock is not fair)

    def edit():
        rng = random.Random(0)
        while time.monotonic() < deadline:
            settings = dataclasses.replace(GANSettings(), loss=rng.choice(LOSSES), g_lr=rng.choice((1e-4, 3e-4, 1e-3)),
                                           d_lr=rng.choice((1e-4, 3e-4, 1e-3)), d_steps=rng.choice((1, 2, 3)),
                                           batch_size=rng.choice((64, 128, 256)), pack=rng.choice((1, 2)),
                                           d_optimizer=rng.choice(("adam", "sgd")))
            live.trainer_for(KEY, identity, lambda: None, state,
                             live=lambda tr, settings=settings: tr.update(settings))
            action = rng.randrange(4)
            if action == 0:
                live.step_with(KEY, lambda tr: tr.step_only("d", 1), state)
            elif action == 1:
                live.step_once(KEY, 2, state)
            elif action == 2:
                live.pause(KEY, state)
                live.play(KEY, state)
            with live.locked(KEY, state) as trainer:
                trainer.snapshot(grid=16)
            counts["edits"] += 1
            counts["snapshots"] += 1

    threads = [threading.Thread(target=guarded(tick)) for _ in range(args.tickers)]
    threads.append(threading.Thread(target=guarded(edit)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({**counts, "steps": s.trainer.step_count, "errors": errors}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
