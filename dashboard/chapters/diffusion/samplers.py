"""Three samplers from the same noise: DDPM, DDIM and flow matching, the number of steps a slider.

All three use exact fields of one point set (``engine.flow.samplers``), so what differs is the sampler
alone, not how well a network was trained: DDPM adds fresh noise at every step, DDIM and the flow follow
an ODE, and DDIM is the flow's Euler method on another clock (the checkbox runs the flow on DDIM's clock,
and its samples become DDIM's, to rounding).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard.shared import links
from dashboard.shared import sampler_plots as plots
from dashboard.shared.charts import chart
from dashboard.shared.i18n import labeler, t
from dashboard.shared.links import LINK
from dashboard.shared.sections import section
from engine import toy2d

KEY = "diffusion_samplers"
DATASETS = ("moons", "eight_gaussians", "ring", "spiral")
STEPS = (1, 2, 3, 5, 10, 20, 50)
POINTS = 250  # the point set whose exact fields drive the samplers (cost O(particles x points) a step)
PARTICLES = 500
SHOWN = 40  # particles whose paths are drawn


@st.cache_data(max_entries=64, show_spinner=False)
def compare(name: str, steps: int, flow_sampler: str, on_ddim_clock: bool) -> dict:
    """The three samplers' paths and numbers (the same for every session: cached once per process)."""
    from engine.capacity import nearest_distances
    from engine.flow import straightness
    from engine.flow.samplers import three_samplers

    points = toy2d.sample(name, POINTS, 0)
    result = three_samplers(points, PARTICLES, steps, seed=1, flow_sampler=flow_sampler, on_ddim_clock=on_ddim_clock)
    rows = {kind: {"evaluations": result.evaluations[kind],
                   "off": float(np.median(nearest_distances(result.samples(kind), points))),
                   "straightness": float(np.median(straightness(path)))}
            for kind, path in result.paths.items()}
    return {"points": points, "paths": result.paths, "rows": rows,
            "ddim_gap": float(np.abs(result.samples("flow") - result.samples("ddim")).max())}


@section
def section() -> None:
    links.header(KEY)
    st.markdown(t(f"{KEY}.intro"))
    st.session_state.setdefault(f"{KEY}_steps", 10)
    a, b, c = st.columns([1, 2, 1])
    name = a.selectbox(t(f"{KEY}.data"), DATASETS, format_func=labeler("controls.toy2d"), bind=LINK,
                       key=f"{KEY}_data")
    steps = b.select_slider(t(f"{KEY}.steps"), STEPS, bind=LINK, key=f"{KEY}_steps", help=t(f"{KEY}.steps_help"))
    flow_sampler = c.radio(t(f"{KEY}.flow_sampler"), ("euler", "heun"), format_func=labeler(f"{KEY}.samplers"),
                           horizontal=True, bind=LINK, key=f"{KEY}_flow_sampler", help=t(f"{KEY}.flow_sampler_help"))
    on_clock = st.checkbox(t(f"{KEY}.ddim_clock"), bind=LINK, key=f"{KEY}_ddim_clock", help=t(f"{KEY}.ddim_clock_help"))
    with st.spinner(t(f"{KEY}.running")):
        result = compare(name, steps, flow_sampler, on_clock)
    st.latex(t(f"{KEY}.ddim_equation"))  # one under the other: side by side they overflow a laptop's column
    st.latex(t(f"{KEY}.flow_equation"))
    titles = {kind: t(f"{KEY}.titles.{kind}", n=result["rows"][kind]["evaluations"]) for kind in result["paths"]}
    labels = {name: t(f"{KEY}.series.{name}") for name in ("data", "paths", "noise", "samples")}
    chart(plots.samplers_figure(result["points"], result["paths"], SHOWN, titles=titles, labels=labels),
          key=f"{KEY}_figure")
    columns = st.columns(3)
    for column, (kind, row) in zip(columns, result["rows"].items()):
        column.metric(t(f"{KEY}.metric", name=t(f"{KEY}.names.{kind}")), f"{row['off']:.3f}",
                      help=t(f"{KEY}.metric_help"))
        column.caption(t(f"{KEY}.row", evaluations=row["evaluations"], straightness=row["straightness"]))
    if on_clock:
        st.success(t(f"{KEY}.same_as_ddim", gap=result["ddim_gap"]), icon=":material/check:")
    st.markdown(t(f"{KEY}.reading"))
