"""Every non-browser benchmark runs in its quick mode, so none can rot (their numbers are not asserted).

Each runs as ``python -m benchmarks.NAME --quick`` from the repository root, the way a person runs it;
the test checks the exit status and that the table's rows are there with numbers in them. The
browser benchmarks (bench_live_frames, bench_gan_live) are in tests/e2e/test_benchmarks.py.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"^[-+]?(\d[\d,]*\.?\d*(e[-+]?\d+)?|nan|inf)$", re.IGNORECASE)


def run_quick(name: str, timeout: int = 300) -> str:
    done = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (
        f"{name} --quick exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def numbers_after(stdout: str, label: str) -> list[float]:
    """The numbers on the first line that starts with ``label`` (after it), or fail."""
    for line in stdout.splitlines():
        if line.strip().startswith(label):
            cells = line.strip()[len(label):].split()
            return [float(c.replace(",", "")) for c in cells if NUMBER.match(c)]
    raise AssertionError(f"no row {label!r} in:\n{stdout}")


def assert_row(stdout: str, label: str, count: int) -> list[float]:
    values = numbers_after(stdout, label)
    assert len(values) >= count, f"row {label!r} has {len(values)} numbers, expected {count}:\n{stdout}"
    assert all(not math.isnan(v) for v in values[:count]), f"row {label!r}: {values}\n{stdout}"
    return values


def mnist_found() -> bool:
    from engine.data.mnist import MNISTError, find_split

    for split in ("train", "test"):
        try:
            find_split(split)
            return True
        except MNISTError:
            pass
    return False


def checkpoint_shipped(name: str) -> bool:
    from engine.checkpoints import ASSETS_DIR

    return (ASSETS_DIR / f"{name}.safetensors").is_file() and (ASSETS_DIR / f"{name}.json").is_file()


def test_divergences():
    from benchmarks.bench_divergences import CASES, FUNCTIONS

    out = run_quick("bench_divergences")
    for case in CASES:
        assert_row(out, case, len(FUNCTIONS) + 2)  # each divergence, their sum, the report
    for sweep in ("two Uniforms U[0,1]", "two narrow Normals N(0,0.1^2)", "two 3-comp mixtures"):
        assert_row(out, sweep, 1)


def test_likelihood():
    from benchmarks.bench_likelihood import CASES

    out = run_quick("bench_likelihood")
    for case in CASES:
        assert_row(out, case, 1)
    for trainer in ("gaussian, adam", "mixture k=3, adam", "mixture k=3, sgd"):
        assert assert_row(out, trainer, 1)[0] > 0


def test_vae_toy():
    from engine.vae.exact import PRESETS

    out = run_quick("bench_vae_toy")
    for preset in PRESETS:
        assert_row(out, preset, 6)  # the six timed calls (the second table has the same labels, later)
    for k in (1, 10, 100, 1000):
        assert_row(out, f"K = {k} ", 2)


def test_vae():
    out = run_quick("bench_vae")
    for latent in (1, 2):
        for label in ("exact log p(x) every 25 steps", "no exact evaluation"):
            rows = [line for line in out.splitlines() if line.startswith(f"latent {latent}, {label}, steps")]
            assert len(rows) == 2 and all(float(row.split()[-1]) > 0 for row in rows), out
        assert_row(out, f"log_marginal_grid, latent {latent}", 1)
    if mnist_found() and checkpoint_shipped("vae") and checkpoint_shipped("vae2d"):
        for name in ("vae2d", "vae"):
            assert_row(out, f"{name}: one-sample ELBO", 1)
            assert_row(out, f"{name}: IWAE, k =", 2)
    else:
        assert "MNIST rows skipped:" in out, out


def test_ddpm_mnist():
    from engine.diffusion.mnist import DDIM_STEPS

    out = run_quick("bench_ddpm_mnist")
    if not checkpoint_shipped("ddpm"):
        assert "no ddpm checkpoint" in out, out
        return
    assert_row(out, "one U-Net call", 4)
    for steps in DDIM_STEPS:
        assert_row(out, f"DDIM {steps} (eta 0)", 4)
    assert_row(out, "DDPM", 4)
    for resample in (1, 2):
        assert_row(out, f"U = {resample}", 3)
    if mnist_found() and checkpoint_shipped("classifier"):
        fid = out[out.index("classifier Fréchet"):]
        assert_row(fid, "floor (held-out)", 1)
        assert_row(fid, "DDIM 50", 4)  # Fréchet, entropy, classes, confidence
    else:
        assert "--fid skipped:" in out, out


def test_diffusion2d():
    out = run_quick("bench_diffusion2d")
    header = next(line for line in out.splitlines() if line.startswith("set "))
    assert header.split()[:5] == ["set", "thr", "seed", "floor", "3x"], out
    assert assert_row(out, "moons", 3)[:2] == [1, 0], out  # thread count, seed
    assert "summary moons:" in out
    assert "--baseline (tiny-diffusion-like)" in out and "ends at" in out, out


def test_gan2d():
    from engine.gan.live import PRESETS

    out = run_quick("bench_gan2d")
    for name in ("default (ring8)", *PRESETS):
        assert_row(out, name if name.startswith("default") else f"{name} ", 5)  # ms/iter and four rates
    assert "(b) cover_all" in out and "(c) grid25" in out and "(d) collapse" in out, out
    assert len(re.findall(r"^\s+seed 0: ", out, re.MULTILINE)) == 2, out  # tables (c) and (d)


def test_pages():
    from benchmarks.bench_pages import page_scripts

    out = run_quick("bench_pages", timeout=600)
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("page "))
    header = re.split(r"\s{2,}", lines[start].strip())
    assert header == ["page", "lang", "section", "widget", "type", "kind", "n", "p50 ms", "p95 ms", "own p50 ms"]
    rows = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        rows.append(dict(zip(header, re.split(r"\s{2,}", line.strip()))))
    measured = [r for r in rows if r["n"] != "0"]
    assert {r["page"] for r in rows} == set(page_scripts()), out
    for page in page_scripts():
        timed = [r for r in measured if r["page"] == page]
        assert timed, f"no widget of {page} was measured:\n{out}"
        for r in timed:
            assert r["lang"] == "en" and r["kind"] in ("toggle", "fresh"), r
            # --quick: 2 reruns a row (a fresh row may have fewer when the widget has few values).
            assert r["n"] == "2" or (r["kind"] == "fresh" and r["n"] == "1"), r
            assert float(r["p50 ms"]) > 0 and float(r["p95 ms"]) >= float(r["p50 ms"]), r
    assert any(r["page"] == "home" and r["widget"] == "lang" for r in measured), out
    assert "page exception" not in out and "rerun failed" not in out, out


def test_compare():
    from engine.compare import FAMILIES

    out = run_quick("bench_compare")
    assert "moons: 1 seed(s), 1 s of training per family" in out, out
    rows = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in FAMILIES}
    assert set(rows) == set(FAMILIES), out
    assert "none" in rows["gan"] and "exact" in rows["mixture"] and "bound" in rows["ddpm"], out
