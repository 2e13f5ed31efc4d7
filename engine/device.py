"""Where torch computations run: cuda > mps > cpu, and how many CPU threads they may use.

The preference can be forced with the environment variable ``GENMODELS_DEVICE``
(``auto``, ``cpu``, ``cuda`` or ``mps``); the thread cap with ``GENMODELS_THREADS``.

A classroom server runs one Python process for many browser sessions, each a thread. Left alone,
every torch op would spread over all cores and the sessions would fight for them, so the dashboard
calls :func:`configure_threads` once at start-up and nothing changes the count afterwards: torch's
thread count is process-wide, and setting it from one thread while others compute is undefined
behaviour in OpenMP. The default is one thread per process: the live models are tiny (a 2D MLP
step is tens of microseconds, and on a busy 2-core server two threads were measured 10-25x slower
than one, 16 vs 216 GAN iterations/s), and a server gives its cores to a class by running several
worker processes rather than by splitting one student's small matrices.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

DEVICE_ENV = "GENMODELS_DEVICE"
THREADS_ENV = "GENMODELS_THREADS"
CHOICES = ("auto", "cpu", "cuda", "mps")
DEFAULT_THREADS = 1  # per server process; see the module docstring

_configured_threads: int | None = None
_configure_lock = threading.Lock()  # the first sessions of a server start in parallel threads


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


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op thread count once per process and return it.

    Later calls return the first count unchanged (whatever they ask for), so every session's
    first run can call this and only the first one sets anything. ``GENMODELS_THREADS``
    overrides ``threads``; the default is :data:`DEFAULT_THREADS`.
    """
    global _configured_threads
    with _configure_lock:
        if _configured_threads is not None:
            return _configured_threads
        import torch

        env = os.environ.get(THREADS_ENV)
        if env is not None:
            try:
                threads = int(env)
            except ValueError:
                raise ValueError(f"{THREADS_ENV} must be a whole number; got {env!r}") from None
        if threads is None:
            threads = DEFAULT_THREADS
        if threads < 1:
            raise ValueError(f"the thread count must be at least 1; got {threads}")
        torch.set_num_threads(threads)
        _configured_threads = threads
        return threads


def describe(device=None) -> DeviceInfo:
    """Describe ``device`` (default: :func:`pick_device`) for the sidebar and model cards."""
    import torch

    device = torch.device(device) if device is not None else pick_device()
    threads = _configured_threads or torch.get_num_threads()  # the process-wide count, from any thread
    if device.type == "cuda":
        return DeviceInfo("cuda", torch.cuda.get_device_name(device), threads)
    if device.type == "mps":
        return DeviceInfo("mps", "Apple GPU", threads)
    return DeviceInfo("cpu", "", threads)
