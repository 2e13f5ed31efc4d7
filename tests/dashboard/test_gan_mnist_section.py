"""The DCGAN section of the GAN page, run server-side with AppTest against the shipped checkpoint.

The charts are checked against the film file read independently with ``engine.gan.mnist``: what
the page draws at a snapshot must be that snapshot's numbers.
"""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from dashboard.chapters.gan.mnist_plots import D_EDGES
from dashboard.shared.i18n import translate
from engine import checkpoints
from engine.gan.mnist import load_film
from tests.dashboard.plotly_spec import chart, values

ASSETS = Path(checkpoints.ASSETS_DIR)


pytestmark = pytest.mark.usefixtures("fresh_caches")  # tests/conftest.py


def image_captions(at) -> list[str]:
    return [img.caption for element in at.get("image") for img in element.proto.imgs]


def image_urls(at) -> list[str]:
    return [img.url for element in at.get("image") for img in element.proto.imgs]


def dcgan_errors(at) -> list[str]:
    return [e.value for e in at.error if "dcgan" in e.value]


def test_film_slider_changes_the_grid_and_the_histograms(page_app):
    card = checkpoints.read_card(ASSETS / "dcgan")
    film = load_film(card)
    at = page_app("gan")
    assert not dcgan_errors(at)
    slider = at.select_slider(key="gan_mnist_frame")
    assert slider.value == int(film["steps"][-1])
    last_grid = image_urls(at)[0]
    for i in (0, len(film["steps"]) // 2):
        at.select_slider(key="gan_mnist_frame").set_value(int(film["steps"][i])).run()
        assert not at.exception, [e.value for e in at.exception]
        assert f"step {int(film['steps'][i])} " in image_captions(at)[0]
        hist = chart(at, "gan_mnist_d_hist")["data"]
        for trace, key in zip(hist, ("d_real", "d_fake")):  # real first, then generated; % of each set, shared bins
            expected, _ = np.histogram(film[key][i], bins=D_EDGES)
            np.testing.assert_allclose(values(trace["y"]), 100 * expected / len(film[key][i]), atol=1e-9)
            np.testing.assert_allclose(values(trace["x"]), (D_EDGES[:-1] + D_EDGES[1:]) / 2)
        classes = chart(at, "gan_mnist_classes")["data"]
        np.testing.assert_allclose(values(classes[0]["y"]), 100 * film["class_fractions"][i], rtol=1e-6)
        np.testing.assert_allclose(values(classes[1]["y"]), [10.0, 10.0])  # the uniform reference
    assert image_urls(at)[0] != last_grid  # an early frame is not the trained grid


def test_fresh_samples_button_draws_new_digits_and_interpolation_follows_the_seeds(page_app):
    at = page_app("gan")
    before = image_urls(at)
    at.button(key="gan_mnist_fresh").click().run()
    assert at.number_input(key="gan_mnist_seed").value == 1
    after = image_urls(at)
    assert after[2] != before[2] and after[:2] == before[:2]  # only the samples changed
    at.number_input(key="gan_mnist_seed").set_value(0).run()
    assert image_urls(at)[2] == before[2]  # the same seed gives the same digits
    at.number_input(key="gan_mnist_seed_b").set_value(7).run()
    assert image_urls(at)[1] != before[1] and "seed 7" in image_captions(at)[1]
    at.radio(key="gan_mnist_interp_mode").set_value("linear").run()
    assert not at.exception


def test_model_card_numbers_are_the_cards(page_app):
    card = checkpoints.read_card(ASSETS / "dcgan")
    at = page_app("gan")
    shown = {m.label: m.value for m in at.metric}
    m = card["metrics"]
    assert shown[translate("en", "gan_mnist.card.frechet")] == f"{m['samples_frechet_vs_half']:.1f}"
    assert shown[translate("en", "gan_mnist.card.floor")] == f"{m['frechet_floor_same_size']:.1f}"
    assert shown[translate("en", "gan_mnist.card.entropy")].startswith(f"{m['samples_class_entropy']:.2f} / 2.30")
    assert "python -m engine.train dcgan" in [c.value for c in at.code]


def test_korean_section_is_korean(page_app):
    at = page_app("gan", lang="ko")
    subheaders = [s.value for s in at.subheader]
    for key in ("film.title", "interp.title", "samples.title", "card.title"):
        assert translate("ko", f"gan_mnist.{key}") in subheaders
    assert re.search(r"[\uac00-\ud7a3]", image_captions(at)[0])
    assert at.button(key="gan_mnist_fresh").label == translate("ko", "gan_mnist.samples.button")


def test_missing_checkpoint_is_an_error_box_and_the_page_still_works(page_app, tmp_path, monkeypatch):
    shutil.copy(ASSETS / "classifier.json", tmp_path)  # the other sections may use it; only dcgan is missing
    shutil.copy(ASSETS / "classifier.safetensors", tmp_path)
    monkeypatch.setattr(checkpoints, "ASSETS_DIR", tmp_path)
    at = page_app("gan")
    assert any("python -m engine.train dcgan" in e for e in dcgan_errors(at)), [e.value for e in at.error]
    headers = [h.value for h in at.header]
    assert translate("en", "gan_mnist.title") in headers and translate("en", "gan_theory.title") in headers
    assert not at.get("select_slider") or all(s.key != "gan_mnist_frame" for s in at.get("select_slider"))


def test_tampered_film_hides_only_the_film(page_app, tmp_path, monkeypatch):
    for path in ASSETS.glob("*"):
        if path.name.startswith(("dcgan", "classifier")):
            shutil.copy(path, tmp_path)
    film = tmp_path / "dcgan_film.safetensors"
    raw = bytearray(film.read_bytes())
    raw[-1] ^= 0xFF
    film.write_bytes(bytes(raw))
    monkeypatch.setattr(checkpoints, "ASSETS_DIR", tmp_path)
    at = page_app("gan")
    errors = dcgan_errors(at)
    assert errors and "dcgan_film.safetensors" in errors[0] and "python -m engine.train dcgan" in errors[0]
    subheaders = [s.value for s in at.subheader]
    assert translate("en", "gan_mnist.film.title") not in subheaders
    assert translate("en", "gan_mnist.samples.title") in subheaders and len(image_urls(at)) == 2
