"""The browser benchmarks run in their quick mode, so none can rot (their numbers are not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_live_frames_benchmark_prints_its_table(chromium_executable):
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_live_frames", "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()
            if re.match(r"(mle|vae|gan|diffusion)\s", line)}
    assert set(rows) == {"mle", "vae", "gan", "diffusion"}, done.stdout
    for name, row in rows.items():
        dimmed = float(row[4])
        # Fading is switched off inside live panels by CSS, so this share is 0 whatever the machine's load.
        assert dimmed == 0.0, f"{name}: charts dimmed in {dimmed}% of frames\n{done.stdout}"
        assert row[8] == "yes", f"{name}: training went on after pause\n{done.stdout}"


def test_gan_live_benchmark_prints_its_table(chromium_executable):
    from engine.gan.live import PRESETS

    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_gan_live", "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    presets = ["default", *PRESETS]
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()
            if line.split() and line.split()[0] in presets}
    assert set(rows) == set(presets), done.stdout
    for name, row in rows.items():
        live, fps, headless = float(row[1]), float(row[2]), float(row[5])
        # Rates are not asserted (a loaded machine may show no new step in 1 s); they must be numbers.
        assert live >= 0 and fps >= 0 and headless > 0, f"{name}: {row}\n{done.stdout}"
        assert row[-1] in ("met", "MISSED"), done.stdout
    assert "median live iterations/s" in done.stdout


def test_sections_benchmark_shows_each_slider_rerunning_its_own_section_only(chromium_executable):
    """bench_sections --quick in a real browser: a slider step inside a section reruns that section
    alone (one section run), while with sections drawn inline (GENMODELS_FRAGMENTS=0) it reruns them all."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_sections", "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split() for line in done.stdout.splitlines() if re.match(r"divergences\s", line)]
    assert len(rows) >= 3, done.stdout
    for row in rows:
        runs, page_runs = int(row[-6]), int(row[-3])
        assert runs == 1 and page_runs > 1, f"{' '.join(row)}\n{done.stdout}"


@pytest.mark.parametrize("clients", ["protocol", "browser"])
def test_classroom_benchmark_prints_both_setups(chromium_executable, clients):
    """bench_classroom --quick: one plain process and two workers behind HAProxy, 1 and 2 sessions each (with
    browser clients the plain process only), every session's step counter moving (its numbers are the
    benchmark's to report, not asserted)."""
    # The browser clients' path once (one plain process, two sessions): the setups are the protocol run's.
    mode = ["--setups", "plain", "--sessions", "2", "--seconds", "2"] if clients == "browser" else ["--quick"]
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_classroom", "--clients", clients, *mode],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split() for line in done.stdout.splitlines() if re.match(r"(plain|2 workers)\s", line)]
    assert len(rows) == (1 if clients == "browser" else 4), done.stdout
    for row in rows:
        minimum = float(row[-10])  # the slowest session's iterations/s
        assert minimum > 0, f"a session did not train: {' '.join(row)}\n{done.stdout}"
