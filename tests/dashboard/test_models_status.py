"""The home page's "pretrained models and data" panel: a shipped checkpoint shows its card, a
broken one becomes an error with the rebuild command (never a crash), missing MNIST a warning."""

import os
import shutil
from pathlib import Path

import pytest

from engine import checkpoints

ASSETS = Path(checkpoints.ASSETS_DIR)


pytestmark = pytest.mark.usefixtures("fresh_caches")  # tests/conftest.py


def test_shipped_classifier_card_is_shown(page_app):
    at = page_app("home")
    card = checkpoints.read_card(ASSETS / "classifier")
    text = " ".join(s.value for s in at.success)
    assert "held-out accuracy" in text and f"{card['metrics']['heldout_accuracy']:.4g}" in text
    assert "python -m engine.train classifier" in text


def test_tampered_checkpoint_is_an_error_box_with_the_rebuild_command(page_app, tmp_path, monkeypatch):
    shutil.copy(ASSETS / "classifier.json", tmp_path / "classifier.json")
    weights = bytearray((ASSETS / "classifier.safetensors").read_bytes())
    weights[-1] ^= 0xFF  # one flipped byte in the tensor data
    (tmp_path / "classifier.safetensors").write_bytes(bytes(weights))
    monkeypatch.setattr(checkpoints, "ASSETS_DIR", tmp_path)
    at = page_app("home")
    errors = [e.value for e in at.error]
    assert any("classifier" in e and "python -m engine.train classifier" in e for e in errors), errors


def test_missing_checkpoint_in_korean(page_app, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "ASSETS_DIR", tmp_path)
    at = page_app("home", lang="ko")
    assert any("다시 만드세요" in e.value and "python -m engine.train classifier" in e.value for e in at.error)


def test_missing_mnist_is_a_warning_with_what_to_do(page_app, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    at = page_app("home")
    assert any("python -m engine.data --download" in w.value for w in at.warning)


@pytest.mark.skipif(not os.environ.get("MNIST_DIR"),
                    reason="set MNIST_DIR to a folder with the MNIST test split (CI uses ../shared/data/mnist)")
def test_found_mnist_says_which_images_train_and_which_are_held_out(page_app):
    at = page_app("home")
    info = " ".join(i.value for i in at.info)
    assert "images 0–7999 for training" in info and "8000–9999 held out" in info
