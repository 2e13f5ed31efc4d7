"""2D toy data sets: point clouds to transport, fit and generate.

Each sampler takes ``n`` and an ``rng`` (an int seed or ``np.random.Generator``) and returns a
float64 array of shape (n, 2), roughly centred on the origin with unit scale, so the same plot
ranges suit all of them. ``sample(name, n, rng)`` dispatches by name; ``NAMES`` lists them.
"""

from __future__ import annotations

import numpy as np

from engine.checks import whole_number


def _rng(rng) -> np.random.Generator:
    return np.random.default_rng(rng)


def _check_n(n: int) -> int:
    return whole_number(n, "the number of points", 1)


def gaussian(n: int, rng=None) -> np.ndarray:
    """A standard 2D normal blob."""
    return _rng(rng).standard_normal((_check_n(n), 2))


def ring(n: int, rng=None, radius: float = 1.5, noise: float = 0.08) -> np.ndarray:
    """Points on a circle with a little radial noise: no mass at the centre."""
    gen = _rng(rng)
    angle = gen.uniform(0.0, 2.0 * np.pi, _check_n(n))
    r = radius + noise * gen.standard_normal(n)
    return np.column_stack([r * np.cos(angle), r * np.sin(angle)])


def moons(n: int, rng=None, noise: float = 0.08) -> np.ndarray:
    """Two interleaved half circles (as in scikit-learn's make_moons), centred and scaled."""
    gen = _rng(rng)
    n = _check_n(n)
    upper = gen.random(n) < 0.5
    t = gen.uniform(0.0, np.pi, n)
    x = np.where(upper, np.cos(t), 1.0 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    points = np.column_stack([x - 0.5, y - 0.25]) * 1.6
    return points + noise * gen.standard_normal((n, 2))


def eight_gaussians(n: int, rng=None, radius: float = 2.0, std: float = 0.12) -> np.ndarray:
    """Eight tight blobs on a circle: the classic picture of GAN mode collapse."""
    gen = _rng(rng)
    k = gen.integers(0, 8, _check_n(n))
    angle = k * (np.pi / 4.0)
    centres = radius * np.column_stack([np.cos(angle), np.sin(angle)])
    return centres + std * gen.standard_normal((n, 2))


def spiral(n: int, rng=None, noise: float = 0.05) -> np.ndarray:
    """A two-turn spiral arm."""
    gen = _rng(rng)
    t = np.sqrt(gen.random(_check_n(n))) * 4.0 * np.pi  # sqrt: even density along the arm
    r = 0.15 * t
    return np.column_stack([r * np.cos(t), r * np.sin(t)]) + noise * gen.standard_normal((n, 2))


def swiss_roll(n: int, rng=None, noise: float = 0.05) -> np.ndarray:
    """The 2D swiss roll (scikit-learn's make_swiss_roll, x-z plane): 1.25 turns, scaled to radius 2."""
    gen = _rng(rng)
    t = 1.5 * np.pi * (1.0 + 2.0 * gen.random(_check_n(n)))
    points = np.column_stack([t * np.cos(t), t * np.sin(t)]) / (4.5 * np.pi / 2.0)
    return points + noise * gen.standard_normal((n, 2))


SAMPLERS = {
    "gaussian": gaussian,
    "ring": ring,
    "moons": moons,
    "eight_gaussians": eight_gaussians,
    "spiral": spiral,
    "swiss_roll": swiss_roll,
}
NAMES = tuple(SAMPLERS)


def sample(name: str, n: int, rng=None) -> np.ndarray:
    """Draw ``n`` points of the toy set ``name`` (one of ``NAMES``) as an (n, 2) array."""
    try:
        sampler = SAMPLERS[name]
    except KeyError:
        raise ValueError(f"unknown 2D toy set {name!r}; choose one of {', '.join(NAMES)}") from None
    return sampler(n, rng)
