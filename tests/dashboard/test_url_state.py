"""dashboard.shared.links without a browser: which link parameters were ignored, hiding, anchors, the link."""

from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard.shared import links

ROOT = Path(__file__).resolve().parents[2]
WIDGETS = re.compile(r"\.(slider|select_slider|selectbox|radio|toggle|checkbox|number_input|segmented_control|pills)\(")


def test_ignored_names_unknown_parameters_and_refused_values_but_not_defaults():
    state = {"t": 10, "lr": 0.001, "whole": False, "sampler": "ddim"}
    initial = {"lang": "ko", "t": "abc", "lr": "0.001", "whole": "false", "sampler": "ddim", "junk": "1"}
    now = {"lang": "ko", "junk": "1"}  # Streamlit dropped the bound ones: defaults and refused values alike
    assert links.ignored(initial, now, state) == (["junk"], ["t"])
    assert links.ignored({"t": "12"}, {"t": "12"}, {"t": 12}) == ([], [])  # kept: used
    # A live trainer's step count (?<key>_at=N): known when the page has that trainer, refused when not a count.
    live = {"live::mle": object()}
    assert links.ignored({"mle_at": "300"}, {"mle_at": "300"}, live) == ([], [])
    assert links.ignored({"mle_at": "abc"}, {"mle_at": "abc"}, live) == ([], ["mle_at"])
    assert links.ignored({"gan_live_at": "300"}, {"gan_live_at": "300"}, live) == (["gan_live_at"], [])


def test_same_compares_numbers_as_numbers():
    assert links.same(1.0, "1") and links.same(3, "3.0") and not links.same(3, "abc")
    assert links.same(True, "true") and links.same(False, "false") and not links.same(True, "false")
    assert links.same((2, 8), "8") and links.same("ddim", "ddim") and not links.same("ddim", "ddpm")


def test_hide_lists_keys_and_prose_and_ignores_what_is_not_a_key():
    names = links.hidden({"hide": "prose, gan_live_g_lr,,"})
    assert names == {"prose", "gan_live_g_lr"}
    css = links.hide_css(names | {"x;}body{display:none"})
    assert ".st-key-gan_live_g_lr {display: none !important;}" in css
    assert 'stMarkdown"]:not(:has(.katex-display))' in css and "body" not in css  # no CSS from the URL gets through
    assert links.hide_css(set()) == "" and links.hidden({}) == set()


def test_anchors_are_stable_and_links_keep_repeated_parameters():
    assert links.anchor("diffusion_live.step") == "diffusion-live-step"
    assert links.link("http://host:8501/gan", {"lang": "en", "range": ["1", "9"]}) == \
        "http://host:8501/gan?lang=en&range=1&range=9"
    assert links.link("http://host:8501/gan?old=1#x", {}) == "http://host:8501/gan"


def test_every_widget_of_every_page_is_bound_to_the_url():
    """A widget created without ``bind=LINK`` would silently fall out of the page's links (``bind=None`` marks
    the few that are the student's own and not the page's state: a claim's guessed answer)."""
    unbound = []
    for path in sorted((ROOT / "dashboard").rglob("*.py")):
        if path.name == "sidebar.py":  # the language radio keeps ?lang= itself (it runs before the pages)
            continue
        text = path.read_text()
        for match in WIDGETS.finditer(text):
            depth, end = 1, match.end()
            while depth:
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                end += 1
            call = text[match.start():end]
            if "bind=LINK" not in call and "bind=None" not in call:  # None: said on purpose (a claim's guess)
                unbound.append(f"{path.relative_to(ROOT)}:{text[:match.start()].count(chr(10)) + 1}")
    assert not unbound, f"widgets not bound to the URL: {unbound}"


def test_a_page_opened_from_a_link_takes_its_values(tmp_path):
    """Streamlit's binding seeds a widget from the query string (here in AppTest, on the diffusion page)."""
    app = AppTest.from_file(str(ROOT / "dashboard" / "Home.py"), default_timeout=120)
    app.query_params["lang"] = "en"
    app.run()
    app.switch_page("chapters/diffusion/page.py")
    app.query_params["diffusion_forward_t"] = "123"
    app.run()
    assert not app.exception
    assert app.slider(key="diffusion_forward_t").value == 123
