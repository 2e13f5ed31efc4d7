"""Export in a real browser: a figure as SVG from its toolbar, its numbers as CSV, a live model as a file
that a fresh browser resumes from."""

from __future__ import annotations

import csv
import io

import pytest

from dashboard.shared.i18n import translate
from engine import trainer_files
from tests.e2e.conftest import OUTPUT
from tests.e2e.test_browser import assert_no_errors, wait_for_heading, wait_until_idle

pytestmark = pytest.mark.e2e


def open_page(page, url: str, heading_key: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    wait_for_heading(page, translate("en", heading_key))
    wait_until_idle(page)


def test_a_figure_downloads_as_svg_and_its_numbers_as_csv(page, streamlit_server):
    open_page(page, f"{streamlit_server}/divergences?lang=en&figure_format=SVG", "divergences.title")
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    chart.hover()
    with page.expect_download() as svg:
        chart.locator('.modebar-btn[data-title="Download plot"]').click()
    picture = svg.value.path().read_text()
    assert svg.value.suggested_filename.endswith(".svg") and picture.lstrip().startswith("<svg")

    page.get_by_role("button", name=translate("en", "export.title")).click()
    with page.expect_download() as table:
        page.get_by_role("button", name=translate("en", "export.csv")).click()
    rows = list(csv.DictReader(io.StringIO(table.value.path().read_text())))
    assert table.value.suggested_filename.endswith(".csv") and len(rows) > 100
    assert {"trace", "x", "y"} <= set(rows[0]) and all(float(r["x"]) == float(r["x"]) for r in rows[:50])
    assert_no_errors(page)


def test_a_downloaded_live_model_resumes_in_a_fresh_browser(browser, streamlit_server):
    first = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = first.new_page()
    open_page(page, f"{streamlit_server}/vae?lang=en&vae_live_beta=0.5", "vae.title")
    page.locator(".st-key-vae_step100 button").click()
    page.wait_for_function("() => document.body.innerText.includes('Paused at step 100')", timeout=60_000)
    page.get_by_role("button", name=translate("en", "training.file.title")).click()
    with page.expect_download() as saved:
        page.get_by_role("button", name=translate("en", "training.file.download")).click()
    model = OUTPUT / "vae-model.safetensors"
    saved.value.save_as(model)
    first.close()
    assert trainer_files.read(model.read_bytes()).step_count == 100

    fresh = browser.new_context(viewport={"width": 1400, "height": 900})  # another browser: no session, no link
    page = fresh.new_page()
    try:
        open_page(page, f"{streamlit_server}/vae?lang=en", "vae.title")
        page.get_by_role("button", name=translate("en", "training.file.title")).click()
        page.locator('.st-key-vae_file input[type="file"]').set_input_files(str(model))
        page.wait_for_function("() => document.body.innerText.includes('Paused at step 100')", timeout=60_000)
        page.get_by_text(translate("en", "training.file.resumed", steps=100)).wait_for(timeout=30_000)
        beta = page.locator(".st-key-vae_live_beta [data-testid='stSliderThumbValue']").inner_text()
        assert beta == "0.5" and "vae_live_beta=0.5" in page.url  # the controls took the file's values
        assert_no_errors(page)
        page.screenshot(path=str(OUTPUT / "screenshots" / "model-file-resumed.png"))
    finally:
        fresh.close()
