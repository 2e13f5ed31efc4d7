"""The training command line and the shipped evaluation classifier.

Tests that need real digits use ``MNIST_DIR`` (CI points it at ../shared/data/mnist, the official
10,000-image test split) and are skipped with the reason otherwise.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine import checkpoints
from engine.mnist.classifier import (
    ClassifierConfig,
    DigitClassifier,
    build_classifier,
    evaluate,
    random_shift,
    to_input,
)

ROOT = Path(__file__).resolve().parents[2]
MNIST_DIR = os.environ.get("MNIST_DIR")
needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR and Path(MNIST_DIR, "t10k-images-idx3-ubyte.gz").exists()),
    reason="set MNIST_DIR to a folder with the MNIST test split (CI uses ../shared/data/mnist)",
)


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.train", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, **(env or {})})


def test_classifier_shapes_features_and_card_config_round_trip():
    model = DigitClassifier(ClassifierConfig(channels=(4, 8), hidden=16)).eval()
    x = torch.rand(5, 1, 28, 28)
    assert model(x).shape == (5, 10) and model.features(x).shape == (5, 16)
    rebuilt = build_classifier(json.loads(json.dumps({"channels": [4, 8], "hidden": 16})))  # as a card stores it
    rebuilt.load_state_dict(model.state_dict())
    torch.testing.assert_close(rebuilt.eval()(x), model(x))


def test_input_conversion_and_shift_augmentation():
    images = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    x = to_input(images)
    assert x.shape == (3, 1, 28, 28) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    shifted = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert shifted.shape == x.shape
    # a shift moves pixels but keeps them: total ink can only drop by what falls off the 2-px border
    assert torch.all(shifted.sum(dim=(1, 2, 3)) <= x.sum(dim=(1, 2, 3)) + 1e-4)
    assert torch.equal(random_shift(x, 0, torch.Generator()), x)


def test_cli_rejects_bad_arguments_and_missing_data(tmp_path):
    assert run_cli("unicorn").returncode == 2  # argparse: unknown model
    assert run_cli("classifier", "--max-steps", "0").returncode == 2
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    result = run_cli("classifier", "--data-dir", str(empty), "--out", str(tmp_path / "out"),
                     env={"MNIST_DIR": str(empty), "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert result.returncode == 1
    assert "python -m engine.data --download" in result.stderr  # tells the student what to do
    assert not (tmp_path / "out").exists()


@needs_mnist
def test_cli_smoke_run_writes_a_checkpoint_and_a_card(tmp_path):
    result = run_cli("classifier", "--max-steps", "3", "--epochs", "1", "--out", str(tmp_path), "--device", "cpu")
    assert result.returncode == 0, result.stderr
    card = checkpoints.read_card(tmp_path / "classifier")
    assert card["name"] == "classifier" and card["training"]["steps"] == 3
    assert card["data"]["n_train"] == 8000 and "8000-9999" in card["data"]["description"]
    assert card["rebuild"] == "python -m engine.train classifier"
    assert 0.0 <= card["metrics"]["heldout_accuracy"] <= 1.0
    model = build_classifier(card["config"])
    checkpoints.load_checkpoint(tmp_path / "classifier", model)


@needs_mnist
def test_shipped_classifier_reaches_98_percent_on_the_held_out_digits():
    """The acceptance bar of the shipped checkpoint, recomputed from the file (not read from its card)."""
    from engine.data.mnist import training_data

    model, card = checkpoints.load_pretrained("classifier", device="cpu")
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    data = training_data()
    result = evaluate(model, data.heldout_images, data.heldout_labels)
    assert result["accuracy"] >= 0.98
    assert result["accuracy"] == pytest.approx(card["metrics"]["heldout_accuracy"], abs=1e-9)  # the card is honest
    assert card["data"]["description"] == data.description
