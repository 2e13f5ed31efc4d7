"""Where torch computations run: cuda > mps > cpu, and how many CPU threads they may use.

The preference can be forced with the environment variable ``GENMODELS_DEVICE``
(``auto``, ``cpu``, ``cuda`` or ``mps``); the thread cap with ``GENMODELS_THREADS``.

A classroom server runs one Python process for many browser sessions. Left alone, every
torch op would spread over all cores and the sessions would fight for them, so the dashboard
calls :func:`configure_threads` once at start-up.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

DEVICE_ENV = "GENMODELS_DEVICE"
THREADS_ENV = "GENMODELS_THREADS"
CHOICES = ("auto", "cpu", "cuda", "mps")
DEFAULT_MAX_THREADS = 4  # enough for the toy models; leaves cores for other sessions

_configured_threads: int | None = None


@dataclass(frozen=True)
class DeviceInfo:
    """What :func:`describe` reports: ``kind`` is "cuda", "mps" or "cpu"."""

    kind: str
    name: str  # GPU name for cuda, "Apple GPU" for mps, "" for cpu
    threads: int  # torch intra-op threads (meaningful for cpu)


def _mps_available(torch) -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def pick_device(preference: str | None = None):
    """Return the ``torch.device`` to compute on.

    ``preference`` (or else the ``GENMODELS_DEVICE`` variable, or else "auto") picks cuda when
    available, then Apple's mps, then the cpu. Asking for a device that is not there raises
    ValueError rather than silently falling back, so a typo in a config is noticed.
    """
    import torch

    choice = (preference or os.environ.get(DEVICE_ENV) or "auto").strip().lower()
    if choice not in CHOICES:
        raise ValueError(f"device must be one of {', '.join(CHOICES)}; got {choice!r}")
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available(torch):
            return torch.device("mps")
        return torch.device("cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but torch sees no CUDA GPU")
    if choice == "mps" and not _mps_available(torch):
        raise ValueError("device 'mps' was requested but Apple's MPS backend is not available")
    return torch.device(choice)


def configure_threads(max_threads: int | None = None) -> int:
    """Cap torch's intra-op threads once per process and return the cap.

    Later calls return the first cap unchanged, so pages can call this freely.
    ``GENMODELS_THREADS`` overrides ``max_threads``; the default is min(4, cores).
    """
    global _configured_threads
    if _configured_threads is not None:
        return _configured_threads
    import torch

    env = os.environ.get(THREADS_ENV)
    if env is not None:
        try:
            max_threads = int(env)
        except ValueError:
            raise ValueError(f"{THREADS_ENV} must be a whole number; got {env!r}") from None
    if max_threads is None:
        max_threads = min(DEFAULT_MAX_THREADS, os.cpu_count() or 1)
    if max_threads < 1:
        raise ValueError(f"the thread cap must be at least 1; got {max_threads}")
    torch.set_num_threads(max_threads)
    _configured_threads = max_threads
    return max_threads


def describe(device=None) -> DeviceInfo:
    """Describe ``device`` (default: :func:`pick_device`) for the sidebar and model cards."""
    import torch

    device = torch.device(device) if device is not None else pick_device()
    if device.type == "cuda":
        return DeviceInfo("cuda", torch.cuda.get_device_name(device), torch.get_num_threads())
    if device.type == "mps":
        return DeviceInfo("mps", "Apple GPU", torch.get_num_threads())
    return DeviceInfo("cpu", "", torch.get_num_threads())


@contextmanager
def one_thread():
    """Torch on one thread for a while, then back to the previous count (process-wide).

    Tiny networks (the 2D toys, a 28x28 U-Net at small batches) gain nothing from splitting their
    ops over threads, and on a busy 2-core server, where the browser draws on the other core, two
    threads were measured 10-25x slower than one (16 vs 216 GAN iterations/s): each op waits for
    the slower thread.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
