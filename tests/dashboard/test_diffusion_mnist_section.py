"""The MNIST DDPM section of the Diffusion page, run server-side with AppTest against the shipped checkpoint.

What the page shows is checked against the engine run independently: the grid against
``MNISTDiffusion.sample_ddim``, the one-step panels against ``engine.diffusion.p_sample``, the
table against the model card. Few DDIM steps and small grids keep the file fast.
"""

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
import torch

from dashboard.chapters.diffusion import mnist as section
from dashboard.shared import mnist as shared_mnist
from dashboard.shared import models
from dashboard.shared.i18n import translate
from engine import checkpoints
from engine import diffusion as dm
from engine.checkpoints import load_pretrained
from engine.diffusion.mnist import CLIP, DDIM_STEPS
from tests.dashboard.plotly_spec import chart, values

ASSETS = Path(checkpoints.ASSETS_DIR)


@pytest.fixture(autouse=True)
def fresh_caches():
    """Fresh checkpoints and data for every test, but the generated grids stay (``shared_runs``): the
    default 16-digit DDIM-50 grid is then sampled once for the whole file, as a server would."""
    st.cache_data.clear()
    models._pretrained.clear()
    shared_mnist._heldout.clear()
    yield
    st.cache_data.clear()
    models._pretrained.clear()
    shared_mnist._heldout.clear()


@pytest.fixture
def whole_page():
    """Requested by a test that needs every section of the page drawn (see ``only_this_section``)."""


@pytest.fixture(autouse=True)
def only_this_section(monkeypatch, request):
    """The page draws only this section: the others have their own test files (and the whole page
    has ``test_diffusion_page.py``), and this file reads images and tables by their position."""
    from dashboard.chapters.diffusion import forward as diffusion_forward
    from dashboard.chapters.diffusion import inpaint as diffusion_inpaint
    from dashboard.chapters.diffusion import live as diffusion_live

    if "whole_page" in request.fixturenames:
        return
    for other in (diffusion_forward, diffusion_live, diffusion_inpaint):
        monkeypatch.setattr(other, "section", lambda: None)


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    return load_pretrained("ddpm")[0]


def captions(at) -> list[str]:
    return [img.caption for element in at.get("image") for img in element.proto.imgs]


def urls(at) -> list[str]:
    return [img.url for element in at.get("image") for img in element.proto.imgs]


def ddpm_errors(at) -> list[str]:
    return [e.value for e in at.error if "ddpm" in e.value]


def table(at, lang: str = "en"):
    """The section's comparison table (the page has other tables; AppTest gives dataframes no key)."""
    column = translate(lang, "diffusion_mnist.samplers.columns.frechet")
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(found) == 1, [list(d.value.columns) for d in at.dataframe]
    return found[0]


def small_grid(at, n: int = 4, steps: int = 10, seed: int = 0):
    """Ask for a small DDIM grid and press Generate."""
    at.select_slider(key="diffusion_mnist_steps").set_value(steps)
    at.select_slider(key="diffusion_mnist_n").set_value(n)
    at.number_input(key="diffusion_mnist_seed").set_value(seed)
    at.button(key="diffusion_mnist_generate").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at.session_state[section.RESULT]


def test_default_grid_is_the_engines_ddim50_and_the_same_seed_gives_the_same_digits(page_app, model):
    at = page_app("diffusion")
    assert not ddpm_errors(at)
    result = at.session_state[section.RESULT]
    assert (result["sampler"], result["n"], result["steps"], result["eta"], result["seed"]) == ("ddim", 16, 50, 0.0, 0)
    expected = model.sample_ddim(16, 50, 0.0, 0).reshape(16, 28, 28).numpy()
    np.testing.assert_allclose(result["images"], expected, atol=1e-6)
    assert captions(at)[0].startswith("16 digits, DDIM, 50 steps") and " s of wall time" in captions(at)[0]
    classes = chart(at, "diffusion_mnist_classes")["data"][0]  # the classifier's histogram of these 16 digits
    assert np.isclose(values(classes["y"]).sum(), 100.0) and np.all(values(classes["y"]) * 16 / 100 % 1 < 1e-6)

    first = small_grid(at, seed=0)
    grid = urls(at)[0]
    small_grid(at, seed=1)
    assert urls(at)[0] != grid
    at.number_input(key="diffusion_mnist_seed").set_value(0).run()  # changed but not generated: a note, same grid
    assert translate("en", "diffusion_mnist.generate.stale") in [c.value for c in at.caption]
    section.shared_runs.clear()  # sample again rather than reuse the stored grid
    again = small_grid(at, seed=0)
    assert not again["reused"] and urls(at)[0] == grid
    np.testing.assert_array_equal(again["images"], first["images"])
    small_grid(at, seed=0)  # the same settings again: reused, and said so
    assert at.session_state[section.RESULT]["reused"] and "Reused" in captions(at)[0]


def test_ddim_frames_follow_the_engines_sampler(model):
    images, frames = model.sample_ddim_frames(3, 10, 0.0, seed=5)
    np.testing.assert_array_equal(images, model.sample_ddim(3, 10, 0.0, 5))
    assert sorted(frames, reverse=True) == dm.ddim_timesteps(model.schedule.T, 10)
    x_T = torch.randn((3, 1, 28, 28), generator=torch.Generator().manual_seed(5))
    T = torch.full((3,), model.schedule.T)
    x0 = dm.predict_x0(model.schedule, x_T, T, model.eps(x_T, T)).clamp(*CLIP)
    np.testing.assert_allclose(frames[model.schedule.T][1], (x0 + 1) / 2, atol=1e-6)  # x̂_0 of the first step
    np.testing.assert_array_equal(frames[0][0], images)


def test_ddpm_generation_keeps_every_20th_step_and_reports_progress():
    from engine.diffusion.mnist import MNISTDiffusion
    from engine.diffusion.unet import DDPMConfig

    tiny = MNISTDiffusion(DDPMConfig(steps=60, channels=(8, 8, 8), embedding=8)).eval()  # untrained, T = 60: fast
    calls = []
    result = section.generate(tiny, "ddpm", 2, steps=0, eta=0.0, seed=1, progress=calls.append)
    assert result["frame_steps"] == [60, 40, 20, 0] and result["calls"] == 60 and calls == list(range(1, 61))
    assert result["x_t"].shape == result["x0_hat"].shape == (4, 2, 28, 28)
    np.testing.assert_array_equal(result["x_t"][-1], section.as_bytes(torch.as_tensor(result["images"])))
    x_T = torch.randn((2, 1, 28, 28), generator=torch.Generator().manual_seed(1))
    np.testing.assert_array_equal(result["x_t"][0], section.as_bytes((x_T.clamp(-1, 1) + 1) / 2))


def test_scrub_slider_shows_the_kept_frames_and_one_step_is_engine_p_sample(page_app, model):
    at = page_app("diffusion")
    result = small_grid(at, n=4, steps=10)
    slider = at.select_slider(key="diffusion_mnist_frame")
    assert [int(s) for s in slider.options] == dm.ddim_timesteps(1000, 10) == result["frame_steps"]
    shown = {}
    for step in (1000, 500, 0):
        at.select_slider(key="diffusion_mnist_frame").set_value(step).run()
        assert captions(at)[1:3] == [f"x_t at t = {step}", f"x̂_0 predicted at t = {step}"]
        shown[step] = urls(at)[1:3]
        settling = chart(at, "diffusion_mnist_settling")
        assert settling["layout"]["shapes"][0]["x0"] == step
    assert shown[1000] != shown[0] and shown[1000][0] != shown[1000][1]
    settling = chart(at, "diffusion_mnist_settling")["data"]
    np.testing.assert_array_equal(values(settling[0]["x"]), result["frame_steps"])
    np.testing.assert_allclose(values(settling[1]["y"]), section.rms_to_final(result["x0_hat"]))
    assert values(settling[1]["y"])[-1] == 0 and values(settling[0]["y"])[0] > 0.2  # x_T is noise, x̂_0(0) the digits

    # one reverse step on digit 2 of this grid: every panel is engine.diffusion.p_sample's term
    at.number_input(key="diffusion_mnist_index_grid").set_value(2)
    at.slider(key="diffusion_mnist_t").set_value(400)
    at.number_input(key="diffusion_mnist_step_seed").set_value(3).run()
    assert not at.exception
    x0 = torch.as_tensor(result["images"][2]).reshape(1, 1, 28, 28) * 2 - 1
    x_t = dm.q_sample(model.schedule, x0, torch.tensor([400]), torch.randn(x0.shape,
                                                                           generator=torch.Generator().manual_seed(3)))
    ref = dm.p_sample(model.schedule, model.eps, x_t, 400, torch.Generator().manual_seed(4), clip=CLIP)  # z: seed + 1
    panels = [values(trace["z"]).reshape(28, 28) for trace in chart(at, "diffusion_mnist_step")["data"]]
    expected = [ref.x_t, ref.eps, ref.x0_hat, ref.mean, ref.sigma * ref.z, ref.x_prev]
    for shown, term in zip(panels, expected, strict=True):
        np.testing.assert_allclose(shown, term[0, 0].numpy(), atol=1e-5)
    np.testing.assert_allclose(panels[5], panels[3] + panels[4], atol=1e-5)  # x_{t-1} = mu + sigma z, as drawn
    sch = model.schedule
    assert ref.sigma == pytest.approx(np.sqrt(sch.posterior_variance[400])) and ref.sigma > 0
    latex = " ".join(x.body for x in at.latex)
    for number in (sch.posterior_mean_coef1[400], sch.posterior_mean_coef2[400], ref.sigma,
                   np.sqrt(1 - sch.alpha_bar[400]), ref.x_prev[0, 0, 14, 14].item()):
        assert f"{number:.4f}" in latex
    at.slider(key="diffusion_mnist_t").set_value(1).run()  # the last step adds no noise
    panels = [values(trace["z"]).reshape(28, 28) for trace in chart(at, "diffusion_mnist_step")["data"]]
    assert not np.any(panels[4]) and np.array_equal(panels[5], panels[3])


def test_table_shows_the_cards_numbers(page_app):
    card = checkpoints.read_card(ASSETS / "ddpm")
    at = page_app("diffusion")
    shown = table(at)
    col = lambda key: translate("en", f"diffusion_mnist.samplers.columns.{key}")  # noqa: E731
    samplers = card["evaluation"]["samplers"]
    present = [s for s in ["ddpm"] + [f"ddim{k}" for k in DDIM_STEPS] if s in samplers]
    assert len(shown) == len(present)
    floor = card["metrics"]["frechet_floor_same_size"]
    for (_, row), name in zip(shown.iterrows(), present):
        assert row[col("sampler")].startswith("DDPM" if name == "ddpm" else f"DDIM, {name[4:]} steps")
        assert row[col("frechet")] == pytest.approx(samplers[name]["frechet"])
        assert row[col("floor")] == pytest.approx(floor)
        assert row[col("ratio")] == pytest.approx(samplers[name]["frechet"] / floor)
        assert row[col("covered")] == samplers[name]["classes_covered"]
        assert row[col("ms")] == pytest.approx(1000 * samplers[name]["seconds_per_digit"])
    points, floor_line = chart(at, "diffusion_mnist_samplers")["data"]
    np.testing.assert_allclose(values(points["y"]), [samplers[name]["frechet"] for name in present])
    np.testing.assert_allclose(values(floor_line["y"]), [floor, floor])
    partial = [i.value for i in at.info if "missing:" in i.value]
    assert bool(partial) == (len(present) < 1 + len(DDIM_STEPS))
    assert "python -m engine.train ddpm" in [c.value for c in at.code]
    at.radio(key="diffusion_mnist_sampler").set_value("ddpm").run()  # DDPM: no steps or eta to choose
    assert not at.exception and all(s.key != "diffusion_mnist_steps" for s in at.select_slider)
    notes = [c.value for c in at.caption]
    assert translate("en", "diffusion_mnist.generate.ddpm_note", steps=1000) in notes
    assert translate("en", "diffusion_mnist.generate.stale") in notes
    assert any(f"{card['parameters']:,}" in m.value for m in at.markdown)
    loss = chart(at, "diffusion_mnist_loss")["data"][0]
    np.testing.assert_allclose(np.c_[values(loss["x"]), values(loss["y"])], card["training"]["loss_curve"])


@pytest.mark.parametrize("problem", ["missing", "tampered"])
def test_bad_checkpoint_is_an_error_box_and_the_page_still_works(page_app, tmp_path, monkeypatch, problem,
                                                                      whole_page):
    for path in ASSETS.glob("classifier.*"):  # the other sections may use it; only ddpm is broken
        shutil.copy(path, tmp_path)
    if problem == "tampered":
        shutil.copy(ASSETS / "ddpm.json", tmp_path)
        weights = bytearray((ASSETS / "ddpm.safetensors").read_bytes())
        weights[-1] ^= 0xFF
        (tmp_path / "ddpm.safetensors").write_bytes(bytes(weights))
    monkeypatch.setattr(checkpoints, "ASSETS_DIR", tmp_path)
    at = page_app("diffusion")
    assert any("python -m engine.train ddpm" in e for e in ddpm_errors(at)), [e.value for e in at.error]
    headers = [h.value for h in at.header]
    assert translate("en", "diffusion_mnist.title") in headers and translate("en", "diffusion_forward.title") in headers
    assert all(b.key != "diffusion_mnist_generate" for b in at.button)


def test_missing_mnist_falls_back_to_the_grid(page_app, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    at = page_app("diffusion")
    at.radio(key="diffusion_mnist_source").set_value("heldout").run()
    assert not at.exception
    assert translate("en", "diffusion_mnist.step.no_data") in [w.value for w in at.warning]
    assert "digit 0 of the generated grid" in " ".join(c.value for c in at.caption)


@pytest.mark.skipif(not os.environ.get("MNIST_DIR"),
                    reason="set MNIST_DIR to a folder with the MNIST test split (CI uses ../shared/data/mnist)")
def test_held_out_digit_is_noised_with_q_sample(page_app, model):
    from engine.data.mnist import training_data

    at = page_app("diffusion")
    at.radio(key="diffusion_mnist_source").set_value("heldout").run()
    at.number_input(key="diffusion_mnist_index_heldout").set_value(7).run()
    x0 = training_data().heldout_images[7].reshape(1, 1, 28, 28).float() / 255 * 2 - 1
    x_t = dm.q_sample(model.schedule, x0, torch.tensor([300]), torch.randn(x0.shape,
                                                                           generator=torch.Generator().manual_seed(0)))
    shown = values(chart(at, "diffusion_mnist_step")["data"][0]["z"]).reshape(28, 28)
    np.testing.assert_allclose(shown, x_t[0, 0].numpy(), atol=1e-5)


def test_korean_section_is_korean(page_app):
    at = page_app("diffusion", lang="ko")
    subheaders = [s.value for s in at.subheader]
    for key in ("generate.title", "scrub.title", "step.title", "samplers.title"):
        assert translate("ko", f"diffusion_mnist.{key}") in subheaders
    assert re.search(r"[\uac00-\ud7a3]", captions(at)[0])
    assert at.button(key="diffusion_mnist_generate").label == translate("ko", "diffusion_mnist.generate.button")
    assert translate("ko", "diffusion_mnist.samplers.columns.ratio") in table(at, "ko").columns


def _parse_tick(text: str) -> float:
    """'0.02' -> 0.02, '10⁵' -> 1e5, '2·10⁻⁵' -> 2e-5: every label of ``plotting.log_ticks`` is a whole number."""
    digits = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
    if "10" in text and any(ch in text for ch in "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"):
        mantissa, _, power = text.rpartition("10")
        return float(mantissa.rstrip("·") or 1.0) * 10.0 ** int(power.translate(digits))
    return float(text)


@pytest.mark.parametrize("low, high", [(25.0, 160.0), (5.0, 1000.0), (0.05, 2059.0), (1e-6, 1.0), (0.4, 0.9),
                                       (1e-4, 1e6)])
def test_log_ticks_label_every_tick_with_its_own_value(low, high):
    from dashboard.shared.plotting import log_ticks

    ticks = log_ticks([low, high])
    shown = [(v, text) for v, text in zip(ticks["tickvals"], ticks["ticktext"]) if low <= v <= high]
    assert 3 <= len(shown) <= 8, shown
    for value, text in shown:  # no bare "2" or "5" standing for 200 or 5000, as plotly's minor labels do
        assert _parse_tick(text) == pytest.approx(value, rel=1e-12), (value, text)


def test_sampler_figure_has_room_for_the_ddim10_label_and_readable_log_ticks():
    from dashboard.chapters.diffusion import mnist_plots

    card = checkpoints.read_card(ASSETS / "ddpm")
    samplers, floor = card["evaluation"]["samplers"], card["metrics"]["frechet_floor_same_size"]
    rows = [{"key": key, "name": key, "calls": 1000 if key == "ddpm" else int(key[4:]), "frechet": s["frechet"]}
            for key, s in samplers.items()]
    labels = {name: name for name in ("calls", "frechet", "model", "floor")}
    spec = mnist_plots.sampler_figure(rows, floor, labels=labels).to_plotly_json()
    yaxis = spec["layout"]["yaxis"]
    low, high = (10.0 ** v for v in yaxis["range"])
    top = max(r["frechet"] for r in rows)
    assert low <= floor / 1.2 and high >= top * 1.5  # the floor off the edge, a label's height above the top point
    points = spec["data"][0]
    assert points["cliponaxis"] is False and "DDIM-10" in list(points["text"])
    shown = [(v, text) for v, text in zip(yaxis["tickvals"], yaxis["ticktext"]) if low <= v <= high]
    assert len(shown) >= 3 and all(_parse_tick(text) == pytest.approx(v) for v, text in shown)
    curve = np.asarray(card["training"]["loss_curve"], dtype=float)  # the card's own training loss
    yaxis = mnist_plots.loss_figure(curve, labels={"train_step": "s", "loss": "l"}).to_plotly_json()["layout"]["yaxis"]
    low, high = curve[:, 1].min(), curve[:, 1].max()
    shown = [(v, text) for v, text in zip(yaxis["tickvals"], yaxis["ticktext"]) if low <= v <= high]
    assert len(shown) >= 3 and all(_parse_tick(text) == pytest.approx(v) for v, text in shown)
