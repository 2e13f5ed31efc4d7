"""Home: the course as a map, and a card per chapter (an unbuilt chapter would say "coming soon")."""

import html

import streamlit as st

from dashboard.shared import links
from dashboard.shared.course import CHAPTERS
from dashboard.shared.i18n import t
from dashboard.shared.mnist import data_text
from dashboard.shared.models import HEADLINE, SHIPPED, metric_text, mnist_status, pretrained


def course_map_html() -> str:
    """The story line as boxes and labelled arrows: a row, or a column where a row does not fit."""
    parts = []
    for number, chapter in enumerate(CHAPTERS, start=1):
        if number > 1:
            label = html.escape(t(f"home.map.edge_{CHAPTERS[number - 2].key}"))
            parts.append(f'<div class="arrow"><span>{label}</span><b>&#10230;</b></div>')
        state = "ready" if chapter.view else "soon"
        title = html.escape(t(f"home.chapters.{chapter.key}.title"))
        parts.append(f'<div class="step {state}"><small>{number}</small>{title}</div>')
    return MAP_STYLE + '<div class="course-wrap"><div class="course-map">' + "".join(parts) + "</div></div>"


MAP_STYLE = """<style>
.course-wrap {container-type: inline-size; margin: 0.5rem 0 1rem;}
.course-map {display: flex; align-items: stretch; gap: 0.25rem;}
.course-map .step {flex: 1 1 0; min-width: min-content; padding: 0.6rem 0.5rem; border-radius: 0.7rem;
  display: flex; flex-direction: column; justify-content: center;
  text-align: center; font-weight: 600; font-size: 1rem; line-height: 1.25; word-break: keep-all;}
.course-map .step small {display: block; font-size: 0.8rem; font-weight: 400; opacity: 0.7;}
.course-map .ready {background: #dbeafe; border: 2px solid #2563eb;}
.course-map .soon {border: 2px dashed #94a3b8; color: #475569;}
.course-map .arrow {display: flex; flex-direction: column; justify-content: center; align-items: center;
  flex: 0 1 4.5rem; min-width: 3rem; color: #475569; font-size: 0.75rem; line-height: 1.2; text-align: center;
  word-break: keep-all; overflow-wrap: anywhere;}
.course-map .arrow b {font-size: 1.6rem; line-height: 1;}
/* Too narrow for a row of five (150% zoom, a phone, a half-screen window): the story runs down. */
@container (max-width: 40rem) {
  .course-map {flex-direction: column;}
  .course-map .step {flex: none;}
  .course-map .arrow {flex: none; flex-direction: row-reverse; justify-content: center; gap: 0.5rem;}
  .course-map .arrow b {transform: rotate(90deg);}
}
</style>"""


def chapter_card(number: int, chapter) -> None:
    prefix = f"home.chapters.{chapter.key}"
    with st.container(border=True):
        text, equation = st.columns([1, 1], vertical_alignment="center")
        with text:
            st.subheader(f"{number}. {t(prefix + '.title')}", anchor=False)
            if not chapter.view:  # a built chapter needs no badge: its "open" link says it
                st.badge(t("home.coming_soon"), icon=":material/schedule:", color="gray")
            st.markdown(t(prefix + ".blurb"))
            if chapter.view:
                st.page_link(chapter.view, label=t("home.open"), icon=":material/arrow_forward:")
        with equation:
            st.latex(t(prefix + ".equation"))


st.title(t("home.title"), anchor=False)
st.markdown(t("home.lead"))

links.header("home.map")
st.html(course_map_html())
st.caption(t("home.map.caption"))

for number, chapter in enumerate(CHAPTERS, start=1):
    chapter_card(number, chapter)

links.header("home.howto")
st.markdown(t("home.howto.body"))

links.header("home.models")
st.markdown(t("home.models.intro"))
for name in SHIPPED:
    loaded = pretrained(name)
    if loaded is not None:
        _, card = loaded
        metrics = ", ".join(f"{t(f'home.models.metric.{key}')} {metric_text(key, card['metrics'][key])}"
                            for key in HEADLINE[name]
                            if isinstance(card.get("metrics", {}).get(key), (int, float)))  # an older card may lack one
        st.success(t("home.models.ready", name=name, metrics=metrics, data=data_text(card["data"]),
                     device=card["device"]["kind"], seconds=card["training"]["wall_time_s"],
                     rebuild=card["rebuild"]), icon=":material/check_circle:")
found, problem = mnist_status()
if found:
    st.info(t("home.models.mnist_found", description=data_text(found)), icon=":material/dataset:")
else:
    st.warning(t("home.models.mnist_missing"), icon=":material/dataset:")
    with st.expander(t("home.models.details")):
        st.code(problem, language=None)
