"""Digit images for ``st.image``: tiles of many small grayscale images in one array."""

from __future__ import annotations

import numpy as np


def tile(images, cols: int, pad: int = 2, value: float = 1.0) -> np.ndarray:
    """(N, H, W) images in [0, 1] -> one (rows*(H+pad)+pad, cols*(W+pad)+pad) array, white gaps.

    Digits are drawn dark on light (1 - pixel), the way students see handwriting on paper.
    """
    images = np.asarray(images, dtype=np.float32).reshape(len(images), *np.shape(images)[-2:])
    n, h, w = images.shape
    rows = max(1, -(-n // cols))
    canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), value, dtype=np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = 1 - image
    return canvas
