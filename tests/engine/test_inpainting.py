"""Inpainting masks (exact pixels, validation), the masked display, and repainting with a real model.

The shipped checkpoint runs once end to end (two completions, the full T = 1000 steps); a tiny
untrained U-Net with a 20-step schedule checks seeds and resampling cheaply. Neither depends on
the quality of the completions: only on which pixels are kept and which are regenerated.
"""

import numpy as np
import pytest
import torch

from engine.checkpoints import ASSETS_DIR, CheckpointError, load_pretrained
from engine.diffusion import inpainting as ip
from engine.diffusion.mnist import MNISTDiffusion
from engine.diffusion.unet import DDPMConfig


def digit() -> np.ndarray:
    """A uint8 (28, 28) seven-like stroke with every grey level from 0 to 255 somewhere."""
    image = np.zeros((28, 28), dtype=np.uint8)
    image[5:8, 6:22] = 255  # the bar
    for r in range(8, 24):
        image[r, 21 - (r - 8) // 2: 24 - (r - 8) // 2] = 200  # the diagonal
    image[0, :] = np.arange(0, 256, 255 / 27).astype(np.uint8)[:28]
    return image


def tiny_model(steps: int = 20) -> MNISTDiffusion:
    """An untrained U-Net (8 channels everywhere) on a short schedule, its last layer made non-zero."""
    model = MNISTDiffusion(DDPMConfig(steps=steps, channels=(8, 8, 8), embedding=16))
    with torch.no_grad():
        last = model.unet.out[-1]
        last.weight.copy_(0.1 * torch.randn(last.weight.shape, generator=torch.Generator().manual_seed(3)))
    return model.eval().requires_grad_(False)


@pytest.mark.parametrize("preset,rows,cols", [("top", range(0, 14), range(28)), ("bottom", range(14, 28), range(28)),
                                              ("left", range(28), range(0, 14)), ("right", range(28), range(14, 28)),
                                              ("centre", range(7, 21), range(7, 21))])
def test_presets_regenerate_exactly_their_region(preset, rows, cols):
    known = ip.known_mask(preset)
    assert known.shape == (1, 1, 28, 28) and known.dtype == torch.float32
    expected = np.ones((28, 28), dtype=np.float32)
    expected[np.ix_(list(rows), list(cols))] = 0.0
    np.testing.assert_array_equal(known[0, 0].numpy(), expected)
    assert ip.regenerated_pixels(known) == len(rows) * len(cols) == (196 if preset == "centre" else 392)
    assert set(np.unique(known.numpy())) == {0.0, 1.0}


def test_halves_are_complementary_and_centre_is_centred():
    for a, b in (("top", "bottom"), ("left", "right")):
        np.testing.assert_array_equal((ip.known_mask(a) + ip.known_mask(b)).numpy(), np.ones((1, 1, 28, 28)))
    centre = 1 - ip.known_mask("centre")[0, 0].numpy()
    np.testing.assert_array_equal(centre, centre[::-1, :])  # symmetric about both middle lines
    np.testing.assert_array_equal(centre, centre[:, ::-1])


def test_rectangle_bounds_are_half_open():
    known = ip.rectangle_mask(3, 5, 10, 13)  # rows 3, 4; columns 10, 11, 12
    holes = np.argwhere(known[0, 0].numpy() == 0)
    assert sorted(map(tuple, holes)) == [(r, c) for r in (3, 4) for c in (10, 11, 12)]
    assert ip.regenerated_pixels(ip.rectangle_mask(0, 28, 0, 28)) == 784  # the whole image is allowed
    assert ip.regenerated_pixels(ip.rectangle_mask(27, 28, 27, 28)) == 1
    assert ip.regenerated_pixels(ip.rectangle_mask(np.int64(0), np.int64(1), 0, 28)) == 28


@pytest.mark.parametrize("bounds,message", [((5, 5, 0, 28), "empty"), ((0, 28, 9, 9), "empty"),
                                            ((6, 5, 0, 28), "empty"), ((-1, 5, 0, 28), "between 0 and 28"),
                                            ((0, 29, 0, 28), "between 0 and 28"), ((0, 2.5, 0, 28), "whole number"),
                                            ((0, True, 0, 28), "whole number")])
def test_bad_rectangles_raise(bounds, message):
    with pytest.raises(ValueError, match=message):
        ip.rectangle_mask(*bounds)


def test_unknown_preset_raises():
    with pytest.raises(ValueError, match="unknown mask preset 'middle'"):
        ip.known_mask("middle")


def test_masked_preview_keeps_known_pixels_and_hatches_the_rest():
    image = digit()
    known = ip.known_mask("bottom")
    preview = ip.masked_preview(image, known)
    assert preview.shape == (28, 28)
    np.testing.assert_array_equal(preview[:14], image[:14] / np.float32(255))  # "bottom" keeps rows 0-13
    hole = preview[14:]
    assert set(np.unique(hole)) == {np.float32(ip.HATCH[0]), np.float32(ip.HATCH[1])}  # stripes, not the digit
    np.testing.assert_array_equal(ip.masked_preview(image / 255.0, known), preview)  # uint8 and [0, 1] agree
    with pytest.raises(ValueError, match="one digit"):
        ip.masked_preview(np.stack([image, image]), known)


def test_repaint_with_a_tiny_model_is_seeded_and_keeps_the_known_pixels():
    model, image, known = tiny_model(), digit(), ip.known_mask("centre")
    calls = []
    out = ip.repaint(model, image, known, n=3, seed=5, resample=2, progress=calls.append)
    assert out.shape == (3, 1, 28, 28) and calls == list(range(1, 21))  # one call per step t, whatever U is
    keep = known[0, 0].bool()
    original = torch.as_tensor(image / 255.0, dtype=torch.float32)
    for completion in out[:, 0]:
        torch.testing.assert_close(completion[keep], original[keep], atol=1e-6, rtol=0)
        assert (completion[~keep] - original[~keep]).abs().max() > 0.1
    assert not torch.equal(out[0], out[1])  # each copy draws its own noise
    torch.testing.assert_close(ip.repaint(model, image, known, n=3, seed=5, resample=2), out, atol=0, rtol=0)
    assert not torch.equal(ip.repaint(model, image, known, n=3, seed=6, resample=2), out)
    with pytest.raises(ValueError, match="n must be"):
        ip.repaint(model, image, known, n=0)


def test_shipped_checkpoint_repaints_two_completions_end_to_end():
    """The real call the page makes: the shipped U-Net, all T steps, two completions of the top half."""
    try:
        model, _ = load_pretrained("ddpm", device="cpu")
    except CheckpointError as error:
        pytest.skip(f"no shipped ddpm checkpoint in {ASSETS_DIR}: {error}")
    image, known = digit(), ip.known_mask("top")
    steps = []
    out = ip.repaint(model, image, known, n=2, seed=0, progress=steps.append)
    assert steps[-1] == model.schedule.T == 1000
    assert out.shape == (2, 1, 28, 28) and out.min() >= 0 and out.max() <= 1
    original = torch.as_tensor(image / 255.0, dtype=torch.float32)
    torch.testing.assert_close(out[:, 0, 14:], original[14:].expand(2, -1, -1), atol=1e-6, rtol=0)
    assert not torch.equal(out[0, 0, :14], out[1, 0, :14])
