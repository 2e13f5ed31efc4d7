"""The whole Diffusion page through AppTest: every section draws together, in both languages, with
the shipped checkpoints (each section's own behaviour is tested in test_diffusion_<section>_section.py)."""

import re

import pytest

from dashboard.shared.i18n import translate

SECTIONS = ("diffusion_forward", "diffusion_live", "diffusion_mnist", "diffusion_inpaint")


pytestmark = pytest.mark.usefixtures("fresh_caches")  # tests/conftest.py


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_every_section_draws_in_order_without_errors(page_app, lang):
    at = page_app("diffusion", lang=lang)
    headers = [h.value for h in at.header]
    titles = [translate(lang, f"{name}.title") for name in SECTIONS]
    positions = [headers.index(title) for title in titles]  # ValueError if a section lost its header
    assert positions == sorted(positions)
    step_title = translate(lang, "diffusion_live.step.title")
    assert positions[1] < headers.index(step_title) < positions[2]  # "3. One reverse step" sits between 2 and 4
    assert at.title[0].value == translate(lang, "diffusion.title")
    assert not at.error, [e.value for e in at.error]  # shipped checkpoints load; nothing failed
    if lang == "ko":
        assert all(re.search(r"[\uac00-\ud7a3]", h) for h in headers)
