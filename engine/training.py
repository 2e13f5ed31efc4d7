"""The live-training protocol shared by every trained model (MLE, GAN, VAE, diffusion).

A page keeps one trainer per browser session and, while "playing", calls ``step`` for a time
budget per tick (``step_for``), then draws ``snapshot()``. A trainer never raises on NaN: a
non-finite metric stops it with a machine-readable ``StopReason`` that the page translates.
``BaseTrainer`` runs that loop once for all; a model's trainer (``engine.mle.MLETrainer``, ...)
supplies one optimisation step, its state and a snapshot. With any trainer:

    saved = trainer.state_dict()       # plain numpy / primitives (a checkpoint to rewind to)
    metrics = trainer.step(100)        # one dict per step actually taken (fewer if it stopped)
    if trainer.stopped:                # StopReason(code="non_finite", step=4, detail={...})
        trainer.load_state_dict(saved) # rewind: parameters, optimiser state, settings, history
        ...                            # then change what made it diverge (e.g. a lower lr)
        trainer.resume()               # clear the stop (load_state_dict or reset() do it too)
    metrics = trainer.step_for(0.15)   # one page tick: as many steps as fit in ~150 ms
    picture = trainer.snapshot()       # arrays to draw

Stop codes (``StopReason.code``): ``"non_finite"`` - a metric came out NaN or +-inf; its detail
has ``metric`` (name), ``value`` ("nan", "inf" or "-inf") and the trainer's settings in use
(``_stop_detail``; for ``MLETrainer``: ``lr``, ``optimizer``, ``family``).
"""

from __future__ import annotations

import math
import threading
import time
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from engine.checks import whole_number

NON_FINITE = "non_finite"


@dataclass(frozen=True)
class StopReason:
    """Why a trainer stopped: a code for the page to translate, never an English sentence."""

    code: str  # e.g. "non_finite"
    step: int  # the step_count at which it stopped (the offending step is in history)
    detail: dict = field(default_factory=dict)  # primitives only (str, int, float, bool)


TrainerStopped = StopReason  # the name the pages use when they show the stop banner


@runtime_checkable
class Trainer(Protocol):
    """What a page needs from any live-trained model (MLE, GAN, VAE, diffusion)."""

    step_count: int
    history: list[dict[str, float]]
    stopped: StopReason | None

    def step(self, n: int = 1) -> list[dict[str, float]]: ...

    def snapshot(self) -> Any: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...

    def reset(self) -> None: ...

    def resume(self) -> None: ...


class BaseTrainer(ABC):
    """The loop, once: subclasses implement ``_step() -> dict`` and the state hooks.

    ``step(n)`` runs ``_step`` up to n times, appending each step's metrics to ``history``. The
    first step with a non-finite metric is still recorded (it happened), then ``stopped`` is set
    and ``step`` returns at once; nothing is rolled back silently. While stopped, ``step``
    returns [] until ``reset()`` (start over) or ``resume()``. ``resume()`` first rewinds to the
    state before the ``step`` call that failed (the last finite parameters) but keeps the
    current settings, so "lower the learning rate, press play" carries on from sane values.
    """

    def __init__(self):
        self.step_count = 0
        self.history: list[dict[str, float]] = []
        self.stopped: StopReason | None = None
        self._rewind_point: tuple[int, dict] | None = None  # (step_count, _state()) before the last step()

    # ---- hooks for subclasses
    @abstractmethod
    def _step(self) -> dict[str, float]:
        """One optimisation step; returns its metrics (floats, possibly NaN; never raises on NaN)."""

    @abstractmethod
    def _state(self) -> dict:
        """The subclass's state (numpy arrays / primitives), for ``state_dict``."""

    @abstractmethod
    def _load_state(self, state: dict) -> None: ...

    @abstractmethod
    def _reset(self) -> None:
        """Return the model and optimiser to their initial state."""

    @abstractmethod
    def snapshot(self) -> Any: ...

    def _stop_detail(self) -> dict:
        """Settings worth showing next to a stop (primitives)."""
        return {}

    def _settings(self) -> dict:
        """User-controlled settings (e.g. lr) that a rewind must not undo; see ``resume``."""
        return {}

    def _apply_settings(self, settings: dict) -> None:  # noqa: B027  (optional hook, no-op by default)
        """Re-apply what ``_settings`` returned after a rewind restored older state."""

    # ---- the protocol
    def step(self, n: int = 1) -> list[dict[str, float]]:
        n = whole_number(n, "n", 0)
        taken: list[dict[str, float]] = []
        if self.stopped is not None:
            return taken
        self._rewind_point = (self.step_count, self._state())  # one copy per call, not per step
        for _ in range(int(n)):
            metrics = {k: float(v) for k, v in self._step().items()}
            self.step_count += 1
            self.history.append(metrics)
            taken.append(metrics)
            bad = next((k for k, v in metrics.items() if not math.isfinite(v)), None)
            if bad is not None:
                value = metrics[bad]
                label = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
                self.stopped = StopReason(NON_FINITE, self.step_count,
                                          {"metric": bad, "value": label, **self._stop_detail()})
                break
        return taken

    def step_for(self, seconds: float, max_steps: int = 100_000) -> list[dict[str, float]]:
        """Steps for about ``seconds`` of wall time (one page tick), at most ``max_steps``.

        Starts with one step, then sizes batches from the measured time per step, so the
        budget is kept to within roughly one step's duration.
        """
        taken: list[dict[str, float]] = []
        start, batch = time.perf_counter(), 1
        while len(taken) < max_steps and self.stopped is None:
            got = self.step(min(batch, max_steps - len(taken)))
            taken += got
            elapsed = time.perf_counter() - start
            if elapsed >= seconds or not got:
                break
            batch = max(1, int(0.9 * (seconds - elapsed) * len(taken) / elapsed))
        return taken

    def resume(self, rewind: bool = True) -> None:
        """Clear a stop so ``step`` runs again (change something first, such as the lr).

        With ``rewind`` (the default) the parameters, optimiser state and history first go back
        to where they were before the ``step`` call that failed, the last finite state, while the
        current settings (``_settings``: a learning rate the user just lowered) are kept.
        Without it, training carries on from the current (possibly non-finite) state.
        """
        if self.stopped is not None and rewind and self._rewind_point is not None:
            settings = self._settings()
            count, state = self._rewind_point
            self._load_state(state)
            self.step_count = count
            del self.history[count:]
            self._apply_settings(settings)
        self.stopped = None

    def reset(self) -> None:
        self.step_count, self.history, self.stopped, self._rewind_point = 0, [], None, None
        self._reset()

    def state_dict(self) -> dict:
        return {
            "step_count": self.step_count,
            "history": [dict(h) for h in self.history],
            "stopped": None if self.stopped is None else asdict(self.stopped),
            **self._state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.step_count = int(state["step_count"])
        self.history = [dict(h) for h in state["history"]]
        self.stopped = None if state["stopped"] is None else StopReason(**state["stopped"])
        self._load_state(state)


# ---- seeded network construction
_SEEDING = threading.Lock()


@contextmanager
def seeded(seed: int):
    """``with seeded(seed): net = Module(...)``: layers initialised from ``seed`` alone.

    torch initialises layers from its process-wide generator. Every session of a classroom server is a
    thread of one process, so two sessions building at once could reseed it in the middle of each
    other's construction; the lock keeps one construction at a time, and ``fork_rng`` hands the global
    generator back as it was."""
    import torch

    with _SEEDING, torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


# ---- plain copies of torch state, for the state dicts above (numpy / primitives, never tensors)
def to_plain(value):
    """A tensor as a numpy copy; anything else (step counts, flags) as is."""
    return value.detach().cpu().numpy().copy() if hasattr(value, "detach") else value


def optimizer_state(optimizer) -> dict:
    """The per-parameter state of a torch optimiser (Adam's moments, ...) as plain copies."""
    return {i: {k: to_plain(v) for k, v in s.items()} for i, s in optimizer.state_dict()["state"].items()}


def load_optimizer_state(optimizer, state: dict) -> None:
    """Put ``optimizer_state``'s output back into a freshly built optimiser over the same parameters."""
    import numpy as np
    import torch

    saved = optimizer.state_dict()
    saved["state"] = {int(i): {k: torch.as_tensor(np.array(v)) if isinstance(v, np.ndarray) else v
                               for k, v in s.items()} for i, s in state.items()}
    optimizer.load_state_dict(saved)
