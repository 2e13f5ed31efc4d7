"""The inpainting section of the Diffusion page, run server-side with AppTest.

Repainting with the shipped U-Net is T = 1000 network calls per press (about 8 s for one digit on
one busy CPU thread, measured), so the section's logic is tested with a tiny untrained U-Net on a
20-step schedule put in place of the checkpoint: what is checked (kept pixels exact, hole
regenerated, results kept across reruns, stale marking, messages) does not depend on the model's
quality. ``tests/engine/test_inpainting.py`` runs the shipped checkpoint end to end. Most tests
draw the section alone (the page's other sections are slow, over AppTest's 60 s on a busy machine,
and tested on their own); the whole page is drawn for the missing-checkpoint check.
"""

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from dashboard.chapters.diffusion import inpaint as diffusion_inpaint
from dashboard.shared.i18n import translate
from engine import checkpoints
from engine.diffusion.mnist import MNISTDiffusion
from engine.diffusion.unet import DDPMConfig
from tests.conftest import APP_TIMEOUT_S

ROOT = Path(__file__).resolve().parents[2]
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
SECTION = """
from dashboard.chapters.diffusion import inpaint as diffusion_inpaint
diffusion_inpaint.section()
"""
KEY = "diffusion_inpaint"


pytestmark = pytest.mark.usefixtures("fresh_caches")  # tests/conftest.py


@pytest.fixture
def mnist(monkeypatch):
    folder = os.environ.get("MNIST_DIR") or str(SHARED_MNIST)
    if not Path(folder, "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("set MNIST_DIR to a folder with the MNIST test split (CI uses ../shared/data/mnist)")
    monkeypatch.setenv("MNIST_DIR", folder)
    from engine.data.mnist import training_data

    return training_data()


@pytest.fixture
def tiny(monkeypatch):
    """The section's "ddpm" becomes a tiny U-Net with T = 20 (its inpaint calls counted); the classifier stays."""
    config = DDPMConfig(steps=20, channels=(8, 8, 8), embedding=16)
    model = MNISTDiffusion(config)
    with torch.no_grad():  # the zero-initialised last layer would predict eps = 0: make it a real function
        last = model.unet.out[-1]
        last.weight.copy_(0.1 * torch.randn(last.weight.shape, generator=torch.Generator().manual_seed(3)))
    model.eval().requires_grad_(False)
    calls = []
    inpaint = model.inpaint
    model.inpaint = lambda *args, **kwargs: calls.append(kwargs) or inpaint(*args, **kwargs)
    card = {"sha256": "tiny", "config": {"train_steps": 0}, "training": {"steps": 0}}
    real = diffusion_inpaint.pretrained
    monkeypatch.setattr(diffusion_inpaint, "pretrained", lambda name: (model, card) if name == "ddpm" else real(name))
    return model, calls


def section_app(lang: str = "en") -> AppTest:
    at = AppTest.from_string(SECTION, default_timeout=APP_TIMEOUT_S)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def captions(at) -> list[str]:
    return [img.caption for element in at.get("image") for img in element.proto.imgs]


def urls(at) -> list[str]:
    return [img.url for element in at.get("image") for img in element.proto.imgs]


def infos(at) -> list[str]:
    return [i.value for i in at.info]


def test_repaint_keeps_the_known_pixels_and_is_not_recomputed_on_reruns(mnist, tiny):
    model, calls = tiny
    at = section_app()
    at.number_input(key=f"{KEY}_index").set_value(17)
    at.radio(key=f"{KEY}_preset").set_value("top")
    at.select_slider(key=f"{KEY}_completions").set_value(2)
    at.button(key=f"{KEY}_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    result = at.session_state[f"{KEY}_result"]
    original = mnist.heldout_images[17].numpy()
    np.testing.assert_array_equal(result["original"], original)
    assert result["label"] == int(mnist.heldout_labels[17])
    completions = result["completions"]
    assert completions.shape == (2, 28, 28) and len(calls) == 1 and calls[0]["resample"] == 1
    target = original / np.float32(255)
    np.testing.assert_allclose(completions[:, 14:], np.broadcast_to(target[14:], (2, 14, 28)), atol=1e-6, rtol=0)
    for completion in completions:
        assert np.abs(completion[:14] - target[:14]).max() > 0.1  # the top half was regenerated
    np.testing.assert_array_equal(result["known"][:14], 0)
    np.testing.assert_array_equal(result["known"][14:], 1)
    shown = captions(at)
    assert shown[1].startswith(translate("en", "diffusion_inpaint.result.original", number=8017,
                                         label=result["label"]))
    assert [c for c in shown if c.startswith("Completion")] == [c for c in shown if "Completion" in c]
    assert sum(c.startswith("Completion") for c in shown) == 2 and all("classifier:" in c for c in shown[1:2])
    assert result["probs"].shape == (3, 10)  # the original and both completions, labelled
    assert not infos(at) or translate("en", "diffusion_inpaint.result.stale") not in infos(at)

    at.number_input(key=f"{KEY}_seed").set_value(9).run()  # a widget moves: shown as stale, not recomputed
    assert len(calls) == 1 and translate("en", "diffusion_inpaint.result.stale") in infos(at)
    np.testing.assert_array_equal(at.session_state[f"{KEY}_result"]["completions"], completions)
    at.number_input(key=f"{KEY}_seed").set_value(0).run()  # back to the inputs that made it: fresh again
    assert len(calls) == 1 and translate("en", "diffusion_inpaint.result.stale") not in infos(at)

    at.select_slider(key=f"{KEY}_resample").set_value(3)
    at.button(key=f"{KEY}_run").click().run()
    assert len(calls) == 2 and calls[1]["resample"] == 3
    assert translate("en", "diffusion_inpaint.result.stale") not in infos(at)
    assert not np.array_equal(at.session_state[f"{KEY}_result"]["completions"], completions)


def test_preset_radio_changes_the_mask_shown(mnist, tiny):
    at = section_app()
    seen = {}
    for preset, pixels in (("top", 392), ("centre", 196), ("left", 392), ("right", 392), ("bottom", 392)):
        at.radio(key=f"{KEY}_preset").set_value(preset).run()
        assert not at.exception
        preview = captions(at)[0]
        region = translate("en", f"diffusion_inpaint.mask.presets.{preset}")
        assert preview.startswith(f"Masked input: {region}, {pixels} pixels")
        seen[preset] = urls(at)[0]
    assert len(set(seen.values())) == 5  # five different pictures


def test_rectangle_sliders_choose_the_hole_and_an_empty_one_is_a_message(mnist, tiny):
    model, calls = tiny
    at = section_app()
    at.radio(key=f"{KEY}_mode").set_value("rectangle").run()
    at.slider(key=f"{KEY}_rows").set_value((3, 5))
    at.slider(key=f"{KEY}_cols").set_value((10, 13)).run()
    assert "rows 3–4, columns 10–12, 6 pixels" in captions(at)[0]
    at.select_slider(key=f"{KEY}_completions").set_value(1)
    at.button(key=f"{KEY}_run").click().run()
    result = at.session_state[f"{KEY}_result"]
    assert sorted(map(tuple, np.argwhere(result["known"] == 0))) == [(r, c) for r in (3, 4) for c in (10, 11, 12)]
    keep = result["known"] == 1
    np.testing.assert_allclose(result["completions"][0][keep], result["original"][keep] / 255.0, atol=1e-6, rtol=0)

    at.slider(key=f"{KEY}_rows").set_value((5, 5)).run()  # zero rows
    assert not at.exception
    empty = translate("en", "diffusion_inpaint.mask.empty", top=5, bottom=5, left=10, right=13)
    assert empty in [w.value for w in at.warning]
    assert at.button(key=f"{KEY}_run").disabled and len(calls) == 1


def test_missing_data_is_a_message(tiny, monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    at = section_app()
    prefix = translate("en", "diffusion_inpaint.no_data", problem="")
    assert any(w.value.startswith(prefix) and "MNIST_DIR" in w.value for w in at.warning), [w.value for w in at.warning]
    assert not at.get("button")


def test_korean_section_is_korean(mnist, tiny):
    at = section_app("ko")
    assert translate("ko", "diffusion_inpaint.title") in [h.value for h in at.header]
    assert at.button(key=f"{KEY}_run").label == translate("ko", "diffusion_inpaint.run.button")
    assert at.radio(key=f"{KEY}_preset").options == [translate("ko", f"diffusion_inpaint.mask.presets.{p}")
                                                     for p in ("top", "bottom", "left", "right", "centre")]
    assert re.search(r"[\uac00-\ud7a3]", captions(at)[-1])  # the masked-input caption


def test_missing_checkpoint_is_an_error_box_and_the_page_still_renders(mnist, page_app, tmp_path, monkeypatch):
    shutil.copy(checkpoints.ASSETS_DIR / "classifier.json", tmp_path)  # only ddpm is missing
    shutil.copy(checkpoints.ASSETS_DIR / "classifier.safetensors", tmp_path)
    monkeypatch.setattr(checkpoints, "ASSETS_DIR", tmp_path)
    at = page_app("diffusion")
    assert any("python -m engine.train ddpm" in e.value for e in at.error), [e.value for e in at.error]
    assert translate("en", "diffusion_inpaint.title") in [h.value for h in at.header]
    assert all(b.key != f"{KEY}_run" for b in at.button)


def test_shipped_checkpoint_repaints_one_completion(mnist):
    """The real path once: the shipped checkpoint, all T steps, one completion of the centre square."""
    try:
        checkpoints.load_pretrained("ddpm", device="cpu")
    except checkpoints.CheckpointError as error:
        pytest.skip(f"no shipped ddpm checkpoint: {error}")
    at = section_app()
    at.radio(key=f"{KEY}_preset").set_value("centre")
    at.select_slider(key=f"{KEY}_completions").set_value(1)
    at.button(key=f"{KEY}_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    result = at.session_state[f"{KEY}_result"]
    assert result["steps"] == 1000 and result["completions"].shape == (1, 28, 28)
    keep = result["known"] == 1
    assert keep.sum() == 784 - 196
    np.testing.assert_allclose(result["completions"][0][keep], result["original"][keep] / 255.0, atol=1e-6, rtol=0)
    timing = [c.value for c in at.caption if c.value.startswith("Took ")]
    assert timing and f"{result['seconds']:.1f} s" in timing[0] and "1000 U-Net evaluations" in timing[0]
