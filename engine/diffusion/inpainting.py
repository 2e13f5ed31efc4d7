"""Masks for inpainting MNIST digits, a display of the masked input, and the repaint call.

Convention (the one ``engine.diffusion.inpaint`` and ``MNISTDiffusion.inpaint`` take): a *known
mask* is a float tensor of shape (1, 1, 28, 28) that is 1 where the digit's pixel is kept and 0
where it is regenerated. Rows are counted from the top (row 0 is the top row), columns from the
left, both 0-based, and rectangles are half-open like Python slices: rows ``top <= r < bottom``,
columns ``left <= c < right``, so the bounds are pixel edges from 0 to 28 and ``bottom - top`` is
the height.

Presets (the region that is *regenerated*; everything else is kept):

    top     rows 0-13, every column          (the upper half, 392 pixels)
    bottom  rows 14-27, every column         (the lower half, 392 pixels)
    left    every row, columns 0-13          (the left half, 392 pixels)
    right   every row, columns 14-27         (the right half, 392 pixels)
    centre  rows 7-20 and columns 7-20       (the 14 x 14 central square, 196 pixels)

    from engine.diffusion.inpainting import known_mask, repaint
    known = known_mask("top")                          # keep the lower half
    completions = repaint(model, digit, known, n=4, seed=0)  # (4, 1, 28, 28) in [0, 1]
"""

from __future__ import annotations

import numpy as np
import torch

SIZE = 28  # MNIST images are SIZE x SIZE
HALF = SIZE // 2
MASK_PRESETS = ("top", "bottom", "left", "right", "centre")
# The regenerated rectangle of each preset as (top, bottom, left, right), half-open.
PRESET_BOUNDS = {
    "top": (0, HALF, 0, SIZE),
    "bottom": (HALF, SIZE, 0, SIZE),
    "left": (0, SIZE, 0, HALF),
    "right": (0, SIZE, HALF, SIZE),
    "centre": (HALF // 2, HALF // 2 + HALF, HALF // 2, HALF // 2 + HALF),  # rows/cols 7..20: a quarter of the area
}
HATCH = (0.3, 0.6)  # the two greys of the stripes drawn over the regenerated region (never 0 or 1: no ink, no paper)


def rectangle_mask(top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """The known mask (1, 1, 28, 28) that regenerates rows ``top <= r < bottom``, columns ``left <= c < right``.

    Bounds are whole numbers with 0 <= top < bottom <= 28 and 0 <= left < right <= 28; an empty
    rectangle (zero rows or columns), bounds out of range or in the wrong order raise ValueError.
    The whole image (0, 28, 0, 28) is allowed: nothing is kept and inpainting is plain sampling.
    """
    bounds = {"top": top, "bottom": bottom, "left": left, "right": right}
    for name, value in bounds.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be a whole number of pixels; got {value!r}")
        if not 0 <= value <= SIZE:
            raise ValueError(f"{name} must be between 0 and {SIZE} (pixel edges); got {value}")
    if bottom <= top or right <= left:
        raise ValueError(f"the rectangle rows {top}..{bottom} x columns {left}..{right} is empty: it needs "
                         f"top < bottom and left < right (half-open bounds, like Python slices)")
    known = torch.ones((1, 1, SIZE, SIZE), dtype=torch.float32)
    known[..., int(top):int(bottom), int(left):int(right)] = 0.0
    return known


def known_mask(preset: str) -> torch.Tensor:
    """The known mask (1, 1, 28, 28) of a preset in ``MASK_PRESETS`` (module docstring for the pixels)."""
    if preset not in PRESET_BOUNDS:
        raise ValueError(f"unknown mask preset {preset!r}; choose one of {', '.join(MASK_PRESETS)}")
    return rectangle_mask(*PRESET_BOUNDS[preset])


def regenerated_pixels(known) -> int:
    """How many pixels a known mask regenerates (its zeros)."""
    return int((np.asarray(known) == 0).sum())


def as_unit_images(images) -> torch.Tensor:
    """Digits (28, 28), (N, 28, 28) or (N, 1, 28, 28), uint8 0-255 or floats in [0, 1] -> float (N, 1, 28, 28)."""
    x = torch.as_tensor(np.array(images))  # a copy: shared digits are read-only, torch tensors are not
    if x.shape[-2:] != (SIZE, SIZE):
        raise ValueError(f"images must be {SIZE}x{SIZE}; got shape {tuple(x.shape)}")
    scale = 255.0 if x.dtype == torch.uint8 else 1.0
    return (x.float() / scale).reshape(-1, 1, SIZE, SIZE)


def masked_preview(image, known) -> np.ndarray:
    """The masked input as a student should see it: (28, 28) in [0, 1], regenerated pixels hatched grey.

    ``image`` is one digit (uint8 or [0, 1]); ``known`` a mask with 28 x 28 trailing dimensions.
    Diagonal stripes of two greys (``HATCH``) make the hole visible on ink and on paper alike.
    """
    x = as_unit_images(image)
    if len(x) != 1:
        raise ValueError(f"masked_preview takes one digit; got {len(x)}")
    keep = np.asarray(known, dtype=np.float32).reshape(SIZE, SIZE)
    rows, cols = np.indices((SIZE, SIZE))
    stripes = np.where((rows + cols) % 4 < 2, HATCH[0], HATCH[1]).astype(np.float32)  # 2-pixel diagonals
    return keep * x[0, 0].numpy() + (1.0 - keep) * stripes


def repaint(model, image, known: torch.Tensor, n: int, seed: int = 0, resample: int = 1,
            progress=None) -> torch.Tensor:
    """``n`` completions (n, 1, 28, 28) in [0, 1] of one digit, regenerated where ``known`` is 0.

    ``model`` is an ``engine.diffusion.mnist.MNISTDiffusion`` (anything with its ``inpaint``): the n
    copies run as one batch, so they share the T x ``resample`` network calls; each copy draws its
    own noise from the one generator seeded with ``seed``. Known pixels equal the input's.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a whole number >= 1; got {n!r}")
    x = as_unit_images(image)
    if len(x) != 1:
        raise ValueError(f"repaint takes one digit; got {len(x)}")
    return model.inpaint(x.expand(int(n), -1, -1, -1), known, seed=seed, resample=resample, progress=progress)
