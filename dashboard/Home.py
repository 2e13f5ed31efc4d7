"""Router: page config, the shared sidebar, and the list of pages. Each page is chapters/<chapter>/page.py.

`engine` and `dashboard` are imported as the installed project (`pip install -r requirements.txt`
installs it in place), not through sys.path."""

import streamlit as st

from dashboard.shared import charts, links, style
from dashboard.shared.course import HOME_VIEW, built_chapters
from dashboard.shared.i18n import t
from dashboard.shared.sidebar import device_panel, keyboard_help, language_switch, projector_toggle

link = st.query_params.to_dict()  # before any widget: what the link asked for (see dashboard.shared.links)
language_switch()
st.set_page_config(page_title=t("common.app_title"), page_icon="🎲", layout="wide")
projector_toggle()
style.inject()

pages = [st.Page(HOME_VIEW, title=t("home.nav"), icon=":material/map:", default=True)]
pages += [
    st.Page(chapter.view, title=t(f"home.chapters.{chapter.key}.title"), icon=chapter.icon, url_path=chapter.key)
    for chapter in built_chapters()
]
page = st.navigation(pages)
links.share_panel()
export = charts.export_panel()  # the figures' format; their numbers are listed after the page has drawn them
keyboard_help()
device_panel()
links.page_view()
charts.new_page()
page.run()
charts.export_numbers(export)
links.after_page(link)
