"""Page sections as fragments: a widget inside a section reruns that section alone, not the page.

    @section
    def toy_section() -> None: ...

Streamlit reruns the whole page script after a widget change unless the widget sits inside a
fragment; then only that fragment runs again (the diffusion page's four sections took 144 ms
together after one slider moved). A section takes as arguments only what the page's own top controls
decide (Streamlit keeps them for the section's later reruns); a control whose value several
sections read stays outside every section, so changing it reruns the page.

``GENMODELS_TIMING=1`` (read once at start-up) makes every run of a section print its server-side
time to stderr: ``section <module>.<name> <ms> ms``. ``benchmarks/bench_sections.py`` reads those lines.
``GENMODELS_FRAGMENTS=0`` (also read once) draws sections inline, every widget rerunning the page, as
before sections were fragments: the benchmark runs both to show what fragments save.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable

import streamlit as st

TIMING = os.environ.get("GENMODELS_TIMING", "") == "1"
FRAGMENTS = os.environ.get("GENMODELS_FRAGMENTS", "1") != "0"


def _timed_fragment(fn: Callable, kind: str) -> Callable:
    @functools.wraps(fn)
    def run(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            if TIMING:
                ms = 1000.0 * (time.perf_counter() - start)
                print(f"{kind} {fn.__module__}.{fn.__qualname__} {ms:.1f} ms", file=sys.stderr, flush=True)

    return st.fragment(run) if FRAGMENTS else run


def section(fn: Callable) -> Callable:
    """``fn`` as a fragment (and, with ``GENMODELS_TIMING=1``, timed)."""
    return _timed_fragment(fn, "section")


def part(fn: Callable) -> Callable:
    """A fragment inside a section, for widgets whose effect stays in one part of it (the VAE's decoder
    at (z1, z2)): they rerun that part alone. Timed as ``part ...`` (inside its section's time)."""
    return _timed_fragment(fn, "part")
