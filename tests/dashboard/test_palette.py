"""The digit-class palette: ten colours a student tells apart, with or without colour vision deficiency.

Distances are CIE76 ΔE in CIELAB (D65). Colour blindness is simulated with the full-severity
matrices of Machado, Oliveira & Fernandes (2009), applied to linear RGB. No colour package needed.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dashboard.shared.plotting import CLASS_COLORS

SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
SIMULATIONS = {  # Machado et al. 2009, severity 1.0
    "normal": np.eye(3),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}
# Normal vision gets a large margin; simulated dichromats (who lose a whole colour axis) a smaller
# one that is still well above "just noticeable" (ΔE ≈ 2.3). Plotly's default colourway, which the
# latent map used before, scores 3.2 for deuteranopia and 1.6 for protanopia.
MIN_DELTA_E = {"normal": 20.0, "deuteranopia": 12.0, "protanopia": 12.0, "tritanopia": 12.0}
MAX_LUMINANCE = 0.85  # relative luminance; white is 1. Paler markers vanish on the white background.


def linear_rgb(hex_color: str) -> np.ndarray:
    c = np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)]) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def lab(linear: np.ndarray) -> np.ndarray:
    xyz = SRGB_TO_XYZ @ linear / (SRGB_TO_XYZ @ np.ones(3))  # relative to the D65 white
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def min_delta_e(colors, simulation: np.ndarray) -> tuple[float, int, int]:
    labs = [lab(np.clip(simulation @ linear_rgb(c), 0.0, 1.0)) for c in colors]
    return min((float(np.linalg.norm(labs[i] - labs[j])), i, j) for i, j in itertools.combinations(range(len(labs)), 2))


def test_ten_distinct_hex_colours():
    assert len(CLASS_COLORS) == 10
    assert all(len(c) == 7 and c.startswith("#") for c in CLASS_COLORS)
    assert len({c.lower() for c in CLASS_COLORS}) == 10


@pytest.mark.parametrize("vision", list(SIMULATIONS))
def test_every_pair_is_far_apart(vision):
    distance, i, j = min_delta_e(CLASS_COLORS, SIMULATIONS[vision])
    assert distance >= MIN_DELTA_E[vision], f"digits {i} and {j}: ΔE {distance:.1f} under {vision}"


# Digits a small latent space (and a weak generator) mixes up; their colours must differ the most.
LOOKALIKES = ((3, 5), (3, 8), (5, 8), (4, 9), (7, 9), (1, 7), (8, 9), (0, 6), (2, 7), (5, 6), (3, 9), (0, 8), (2, 3))
MIN_LOOKALIKE_DELTA_E = 30.0


@pytest.mark.parametrize("vision", list(SIMULATIONS))
def test_lookalike_digits_get_the_most_different_colours(vision):
    labs = [lab(np.clip(SIMULATIONS[vision] @ linear_rgb(c), 0.0, 1.0)) for c in CLASS_COLORS]
    close = [(a, b, round(float(np.linalg.norm(labs[a] - labs[b])), 1)) for a, b in LOOKALIKES
             if np.linalg.norm(labs[a] - labs[b]) < MIN_LOOKALIKE_DELTA_E]
    assert not close, f"under {vision}: {close}"


def test_no_colour_is_near_white():
    luminance = {c: float(np.array([0.2126, 0.7152, 0.0722]) @ linear_rgb(c)) for c in CLASS_COLORS}
    assert max(luminance.values()) < MAX_LUMINANCE, luminance


def test_the_metric_catches_the_old_palette():
    """Plotly's default colourway (the old latent map): pale digit 7, and pairs a deuteranope cannot tell apart."""
    plotly_default = ("#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A",
                      "#19d3f3", "#FF6692", "#B6E880", "#FF97FF", "#FECB52")
    assert min_delta_e(plotly_default, SIMULATIONS["deuteranopia"])[0] < MIN_DELTA_E["deuteranopia"]


def test_latent_map_colours_digits_by_the_palette():
    from dashboard.chapters.vae.plots import codes_figure

    classes = np.arange(20) % 10
    fig = codes_figure(np.random.default_rng(0).normal(size=(20, 2)), classes, labels={"prior": "prior"})
    colours = {trace.name: trace.marker.color for trace in fig.data if trace.name.isdigit()}
    assert colours == {str(d): CLASS_COLORS[d] for d in range(10)}
