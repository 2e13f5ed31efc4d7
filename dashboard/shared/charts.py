"""Every Plotly figure reaches the page through ``chart``: the projector view and the toolbar live here.

* Projector view (the sidebar toggle, ``?projector=true`` in a link): for a lecture hall, the figure
  is drawn from a copy with its type 1.5x larger and black, its lines and markers about twice as thick.
  Figures are built (and cached, shared by every session) at their normal size; only the copy sent
  to a projecting session is restyled, so one student's projector never changes another's page.
* Toolbar: the camera button downloads the figure as a PNG at twice the screen's resolution, or as an
  SVG (the sidebar's "Export figures" picks which: Plotly's toolbar has one image button, of one format).
* Numbers: every figure drawn on the page is remembered per session (one entry per chart key, the page's
  figures only), so the sidebar's "Export figures" offers the numbers behind any of them as a CSV
  (``figure_csv``), made when the download is clicked.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from dashboard.shared.i18n import t
from dashboard.shared.links import LINK, TITLES

PROJECTOR = "projector"  # the session-state key (and URL parameter) of the projector toggle
FONT_SCALE = 1.5
LINE_SCALE = 2.0
MARKER_SCALE = 1.6
DEFAULT_FONT = 12
INK = "#111111"  # Plotly's default font size, for figures that do not set one
FORMAT = "figure_format"  # the session-state key (and URL parameter) of the toolbar's image format
FORMATS = ("PNG", "SVG")  # as the radio shows them and a link carries them (?figure_format=SVG)
COPIES = "charts_projected"  # session_state: one projected copy per chart key (bounded by the page's charts)
DRAWN = "charts_drawn"  # session_state: {chart key: (label, figure)} of the page's figures, for their numbers
CSV_COLUMNS = ("trace", "name", "type", "axes", "x", "y", "z")


def config() -> dict:
    """The toolbar: no Plotly logo; the camera button saves a PNG at twice the resolution, or an SVG."""
    image_format = st.session_state.get(FORMAT, FORMATS[0]).lower()
    image = {"format": image_format, "scale": 2} if image_format == "png" else {"format": image_format}
    return {"displaylogo": False, "toImageButtonOptions": image}


def projecting() -> bool:
    return bool(st.session_state.get(PROJECTOR, False))


def _scaled(size, scale: float, default: float | None = None):
    return size * scale if isinstance(size, int | float) else (default * scale if default else size)


def projected(figure: go.Figure) -> go.Figure:
    """A copy of ``figure`` readable from the back of a hall: larger type, thicker lines and markers."""
    out = go.Figure(figure)
    layout = out.layout
    layout.font.size = _scaled(layout.font.size, FONT_SCALE, DEFAULT_FONT)
    layout.font.color = INK  # black type: grey ticks wash out on a projector
    base = layout.font.size / FONT_SCALE

    def axis(a) -> None:
        a.tickfont.size = _scaled(a.tickfont.size, FONT_SCALE, base)
        a.title.font.size = _scaled(a.title.font.size, FONT_SCALE, base)
        a.tickfont.color = a.title.font.color = INK

    out.for_each_xaxis(axis)
    out.for_each_yaxis(axis)
    layout.legend.font.size = _scaled(layout.legend.font.size, FONT_SCALE, base)
    for annotation in layout.annotations or ():
        annotation.font.size = _scaled(annotation.font.size, FONT_SCALE, base)
    for trace in out.data:
        line = getattr(trace, "line", None)
        if line is not None and hasattr(line, "width"):
            line.width = _scaled(line.width, LINE_SCALE, 2.0)
        marker = getattr(trace, "marker", None)
        if marker is not None and hasattr(marker, "size") and not isinstance(marker.size, tuple | list):
            marker.size = _scaled(marker.size, MARKER_SCALE, 6.0)
    height = layout.height
    if isinstance(height, int | float):
        layout.height = height * 1.15  # room for the larger type
    return out


def chart(figure: go.Figure, *, container=None, **kwargs):
    """``st.plotly_chart(figure, **kwargs)`` in ``container`` (default: where the code runs), restyled
    for the projector when the session projects.

    A live section sends the same (held) figure again at every tick; its projected copy is kept per
    chart key, so the copy is made once per figure and the browser sees an unchanged chart."""
    target = st if container is None else container
    if projecting():
        copies = st.session_state.setdefault(COPIES, {})  # chart key -> (figure, its projected copy)
        key = kwargs.get("key")
        held = copies.get(key) if key is not None else None
        if held is None or held[0] is not figure:
            held = (figure, projected(figure))
            if key is not None:
                copies[key] = held
        figure = held[1]
    key = kwargs.get("key")
    if key is not None:
        remember(key, figure)
    return target.plotly_chart(figure, config=config(), **kwargs)


def new_page() -> None:
    """Before a page runs in full: forget the figures of the page before (the export lists this page's)."""
    st.session_state[DRAWN] = {}


def remember(key: str, figure: go.Figure) -> None:
    drawn = st.session_state.setdefault(DRAWN, {})
    label = drawn[key][0] if key in drawn else _label(key, figure)
    drawn[key] = (label, figure)


def _label(key: str, figure: go.Figure) -> str:
    """How the export names a figure: its section's header, then its title, or else what its curves are
    called (the legend's first names), or else its key."""
    names = list(dict.fromkeys(trace.name for trace in figure.data if trace.name))
    title = figure.layout.title.text or ", ".join(names[:3]) + (", …" if len(names) > 3 else "") or key
    sections = list(st.session_state.get(TITLES, {}).values())
    return f"{sections[-1]} · {title}" if sections else title


def figure_csv(figure: go.Figure) -> str:
    """The numbers behind a figure, one row per plotted value: ``trace, name, type, axes, x, y, z``.

    Curves, markers and bars give their (x, y) points (a gap in a curve is an empty row of values);
    heatmaps and contours one row per grid cell with its z; a histogram its raw values (as x, or y
    when horizontal), since the bins are Plotly's."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for i, trace in enumerate(figure.data):
        axes = f"{getattr(trace, 'xaxis', None) or 'x'} {getattr(trace, 'yaxis', None) or 'y'}"
        head = (i, trace.name or "", trace.type, axes)
        for x, y, z in _values(trace):
            writer.writerow((*head, _cell(x), _cell(y), _cell(z)))
    return out.getvalue()


def _values(trace):
    x, y = getattr(trace, "x", None), getattr(trace, "y", None)
    z = getattr(trace, "z", None)
    if z is not None:  # a grid: z[row][column] at (x[column], y[row])
        grid = np.asarray(z, dtype=object)
        xs = np.arange(grid.shape[1]) if x is None else np.asarray(x, dtype=object)
        ys = np.arange(grid.shape[0]) if y is None else np.asarray(y, dtype=object)
        return ((xs[c], ys[r], grid[r, c]) for r in range(grid.shape[0]) for c in range(grid.shape[1]))
    if trace.type == "histogram":
        return ((v, None, None) for v in x) if x is not None else ((None, v, None) for v in (y or ()))
    if x is None and y is None:
        return iter(())
    n = len(y) if x is None else len(x)
    xs = range(n) if x is None else x
    ys = [None] * n if y is None else y
    return ((a, b, None) for a, b in zip(xs, ys))


def _cell(value) -> str:
    """A number as Python writes it (every digit kept); a missing value or a gap as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else repr(float(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def export_panel():
    """The sidebar's "Export figures", before the page: the toolbar's image format (read by the page's charts).
    Returns the popover; :func:`export_numbers` adds the figures the page drew."""
    popover = st.sidebar.popover(t("export.title"), icon=":material/download:", width="stretch")
    popover.radio(t("export.format"), FORMATS, horizontal=True, bind=LINK, key=FORMAT, help=t("export.format_help"))
    return popover


def export_numbers(popover) -> None:
    """After the page: any figure it drew, as a CSV of its numbers."""
    with popover:
        _numbers()


@st.fragment
def _numbers() -> None:
    drawn = st.session_state.get(DRAWN, {})
    if not drawn:
        st.caption(t("export.no_figures"))
        return
    key = st.selectbox(t("export.figure"), list(drawn), format_func=lambda k: drawn[k][0], bind=None,
                       key="export_figure")
    figure = drawn[key][1]
    st.download_button(t("export.csv"), data=lambda: figure_csv(figure), file_name=f"{key}.csv", mime="text/csv",
                       on_click="ignore", icon=":material/table_view:", key="export_csv", width="stretch")
