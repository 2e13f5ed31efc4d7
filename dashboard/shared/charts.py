"""Every Plotly figure reaches the page through ``chart``: the projector view and the toolbar live here.

* Projector view (the sidebar toggle, ``?projector=true`` in a link): for a lecture hall, the figure
  is drawn from a copy with its type 1.5x larger and black, its lines and markers about twice as thick.
  Figures are built (and cached, shared by every session) at their normal size; only the copy sent
  to a projecting session is restyled, so one student's projector never changes another's page.
* Toolbar: the camera button downloads the figure as a PNG at twice the screen's resolution.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

PROJECTOR = "projector"  # the session-state key (and URL parameter) of the projector toggle
FONT_SCALE = 1.5
LINE_SCALE = 2.0
MARKER_SCALE = 1.6
DEFAULT_FONT = 12
INK = "#111111"  # Plotly's default font size, for figures that do not set one
CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}
COPIES = "charts_projected"  # session_state: one projected copy per chart key (bounded by the page's charts)


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
    return target.plotly_chart(figure, config=CONFIG, **kwargs)
