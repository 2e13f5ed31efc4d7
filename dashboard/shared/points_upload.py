"""The 2D live sections' data picker: a named toy set or an uploaded CSV of points.

Shared by the GAN and diffusion pages. An upload that fails to parse shows its translated
``PointsError`` message (catalog namespace ``points``) and the section keeps training the data it
had, so a typo in a file never stops a running demonstration. Widget keys and the session
entries start with the section's ``key``; the selectbox's label, help and set names come from the
section's own catalog ``namespace`` (``<namespace>.data``, ``.data_help``, ``.datasets.<name>``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import streamlit as st

from dashboard.shared import drawn
from dashboard.shared.i18n import catalog, current_language, labeler, t
from dashboard.shared.links import LINK
from engine.data.points import PointsError

CSV = "csv"  # the data choice that shows the uploader
DRAWN = "drawn"  # the data choice of the points drawn on the compare page (dashboard.shared.drawn)
CSV_MAX_MB = 3  # just above engine.data.points.MAX_BYTES: a slightly larger file still gets the app's message


def csv_error(error: PointsError) -> str:
    """The translated message of a ``PointsError``, whatever detail it carries."""
    key = f"points.csv.errors.{error.code}"
    if key in catalog(current_language()):
        try:
            return t(key, **error.detail)
        except (KeyError, IndexError, ValueError):  # a detail the message does not expect: say less
            pass
    return t("points.csv.errors.other", code=error.code)


def choose_data(column, *, key: str, namespace: str, datasets: tuple[str, ...],
                named: Callable[[str], np.ndarray], parse: Callable[[bytes], np.ndarray]) -> tuple[tuple, np.ndarray]:
    """``(identity, (N, 2) points)``: the chosen set, or the previous one while an upload is missing or bad.

    ``named(name)`` draws a toy set; ``parse(bytes)`` turns an upload into points or raises
    ``PointsError``. The identity is ``(name,)`` or ``("csv", sha1 of the file)``: a trainer keyed
    on it restarts exactly when the data change.
    """
    state = st.session_state
    mine = drawn.get(state)  # points drawn (or uploaded) on the compare page: offered on every page
    named_label = labeler(f"{namespace}.datasets")
    name = column.selectbox(t(f"{namespace}.data"), datasets + ((DRAWN,) if mine is not None else ()) + (CSV,),
                            format_func=lambda n: t("points.drawn") if n == DRAWN else named_label(n),
                            bind=LINK, key=f"{key}_data", help=t(f"{namespace}.data_help"))
    if name == DRAWN and mine is not None:
        identity = (DRAWN, hashlib.sha1(mine.tobytes()).hexdigest())
        state[f"{key}_data_in_use"] = identity
        column.caption(t("points.drawn_caption", n=len(mine)))
        return identity, mine
    if name != CSV:
        state[f"{key}_data_in_use"] = (name,)
        return (name,), named(name)
    upload = column.file_uploader(t("points.csv.upload"), type=["csv", "txt"], key=f"{key}_csv",
                                  help=t("points.csv.help"), max_upload_size=CSV_MAX_MB)
    if upload is not None:
        content = upload.getvalue()
        try:
            points = parse(content)
        except PointsError as error:
            st.error(csv_error(error), icon=":material/error:")
        else:
            identity = (CSV, hashlib.sha1(content).hexdigest())
            state[f"{key}_csv_points"] = (identity, points)
            state[f"{key}_data_in_use"] = identity
            column.caption(t("points.csv.loaded", n=len(points)))
            return identity, points
    else:
        st.info(t("points.csv.prompt"), icon=":material/upload_file:")
    previous = state.get(f"{key}_data_in_use", (datasets[0],))  # keep training what was there
    stored = state.get(f"{key}_csv_points")
    if previous[0] == CSV and stored is not None and stored[0] == previous:
        return previous, stored[1]
    previous = previous if previous[0] not in (CSV, DRAWN) else (datasets[0],)
    return previous, named(previous[0])
