"""The 2D data sets of the live GAN section and the mode-coverage metric (VEEGAN / PacGAN protocol).

    from engine.gan.modes import sample_data, mode_centers, MODE_STD, mode_coverage

    data = sample_data("ring8", 10_000, rng=0)                  # (10000, 2) float64
    report = mode_coverage(fake, mode_centers("ring8"), MODE_STD["ring8"])
    report.modes_covered, report.high_quality                    # e.g. 8, 0.93

``engine.gan.live`` re-exports these names; this module holds them so the trainer stays small.

Mode metric (Srivastava et al. 2017, VEEGAN, sec. 5.1; Lin et al. 2018, PacGAN, sec. 5): draw
2,500 samples; a sample is *high quality* when it lies within 3 standard deviations of the mode
centre nearest to it (Euclidean distance <= 3 std, boundary included); a mode is *covered* when
at least one high-quality sample has it as nearest centre. The published 2D numbers use ring8
(8 Gaussians, radius 2, std 0.02) and grid25 (a 5 x 5 grid with spacing 2, std 0.05).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine import toy2d
from engine.checks import positive, whole_number

GAN_DATASETS = ("ring8", "grid25", "moons", "spiral", "gaussian")
MODE_STD = {"ring8": 0.02, "grid25": 0.05}  # the VEEGAN / PacGAN values
EVAL_SAMPLES = 2500  # samples per evaluation in that protocol


def mode_centers(name: str) -> np.ndarray | None:
    """(K, 2) mode centres of ring8 (K = 8) and grid25 (K = 25); None for the sets without modes."""
    _check_name(name)
    if name == "ring8":
        angle = np.arange(8) * (math.pi / 4.0)
        return 2.0 * np.column_stack([np.cos(angle), np.sin(angle)])
    if name == "grid25":
        g = np.arange(-4.0, 5.0, 2.0)  # -4, -2, 0, 2, 4
        return np.array([(a, b) for a in g for b in g])
    return None


def sample_data(name: str, n: int, rng=None) -> np.ndarray:
    """n points of the set ``name`` (one of GAN_DATASETS), (n, 2) float64; rng: seed or Generator.

    ring8 / grid25: equal-weight Gaussian mixtures at ``mode_centers`` with std ``MODE_STD``;
    moons, spiral: engine.toy2d's shapes; gaussian: a standard 2D normal.
    """
    _check_name(name)
    n = whole_number(n, "n", 1)
    gen = np.random.default_rng(rng)
    centers = mode_centers(name)
    if centers is not None:
        k = gen.integers(0, len(centers), n)
        return centers[k] + MODE_STD[name] * gen.standard_normal((n, 2))
    return toy2d.sample(name, n, gen)


def _check_name(name: str) -> None:
    if name not in GAN_DATASETS:
        raise ValueError(f"unknown GAN data set {name!r}; choose one of {', '.join(GAN_DATASETS)}")


@dataclass(frozen=True, eq=False)
class ModeReport:
    """Mode coverage of a sample set (module docstring)."""

    n_modes: int  # K
    modes_covered: int  # modes with at least one high-quality sample
    high_quality: float  # fraction of samples within threshold * std of their nearest mode
    counts: np.ndarray  # (K,) high-quality samples per mode (nearest-centre assignment)


def mode_coverage(samples, centers, std: float, threshold: float = 3.0) -> ModeReport:
    """Modes covered and the high-quality fraction of ``samples`` (N, 2) for ``centers`` (K, 2).

    Non-finite samples count as low quality (a diverged generator covers nothing). The boundary
    is inclusive: a sample exactly threshold * std from its nearest centre is high quality.
    """
    x = np.asarray(samples, dtype=float)
    c = np.asarray(centers, dtype=float)
    if x.ndim != 2 or x.shape[1] != 2 or len(x) == 0:
        raise ValueError(f"samples must be a non-empty (N, 2) array, got shape {x.shape}")
    if c.ndim != 2 or c.shape[1] != 2 or len(c) == 0 or not np.all(np.isfinite(c)):
        raise ValueError(f"centers must be a finite non-empty (K, 2) array, got shape {c.shape}")
    radius = positive(std, "std") * positive(threshold, "threshold")
    diff = x[:, None, :] - c[None, :, :]  # (N, K, 2)
    dist = np.sqrt(np.sum(diff * diff, axis=2))  # (N, K); NaN rows stay NaN
    finite = np.all(np.isfinite(x), axis=1)
    nearest = np.argmin(np.where(finite[:, None], dist, np.inf), axis=1)  # (N,)
    good = finite & (dist[np.arange(len(x)), nearest] <= radius)
    counts = np.bincount(nearest[good], minlength=len(c))
    return ModeReport(len(c), int(np.count_nonzero(counts)), float(good.mean()), counts)
