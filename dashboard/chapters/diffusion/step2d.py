"""Diffusion page, section 3 (2D half): one reverse step of one particle, every term.

A particle of the reverse film (picked by its number, or by clicking it in the figure) and a step t:
the page runs ``Diffusion2DTrainer.reverse_step`` (``engine.diffusion.p_sample`` with the sampling
network) on x_t and shows x_t, ε_θ(x_t, t), x̂_0, μ̃_t, z, σ_t z and x_{t-1} as numbers, as arrows,
and in Ho et al.'s update equations filled in with those numbers. The equations are mathematics
with numbers, the same in every language, so they are built here rather than in the catalog.
Widget keys start with ``diffusion_live_step_``.

Which noise predictor drives the reverse film, the score field and this step (``predictor``,
``predictor_switch``): an untrained network's chain throws particles thousands of units away, so until
the network has trained ``EXACT_UNTIL`` steps the page uses the exact noise predictor of the data
(``engine.diffusion.exact_eps``), and says so; the student's own choice in the switch then holds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.chapters.diffusion import live_plots as plots
from dashboard.shared import links
from dashboard.shared.charts import chart
from dashboard.shared.i18n import current_language, labeler, t, translate
from dashboard.shared.links import LINK
from dashboard.shared.sections import section

KEY = "diffusion_live_step"
PREDICTOR_KEY = "diffusion_live_predictor"  # the switch; it drives the film and field above as well
EXACT_UNTIL = 500  # steps: with the default EMA (0.995) the network's chain leaves the [-4, 4]^2 view below
#                    about 500 steps (swiss roll, T = 100: film max |x| 2,300 at 100 steps, 19 at 500)
PREDICTORS = ("exact", "network")
TERMS = ("x_t", "eps", "x0_hat", "mean", "z", "sigma_z", "x_prev")  # the table's rows, in the order computed
SYMBOLS = {"x_t": "x_t", "eps": "ε_θ(x_t, t)", "x0_hat": "x̂_0", "mean": "μ̃_t", "z": "z", "sigma_z": "σ_t z",
           "x_prev": "x_{t−1}"}
EPS_SYMBOL = {"network": "ε_θ(x_t, t)", "exact": "ε*(x_t, t)"}
EPS_LATEX = {"network": r"\varepsilon_\theta(x_t, t)", "exact": r"\varepsilon^*(x_t, t)"}
# The figure beside the table while both get 20rem (at 100% on a 1280 px screen: about 360 and 460 px),
# one above the other where not (at 150%, side by side, the plot had 170 px and the table lost a column).
ROW_CSS = "<style>.st-key-{key}_row [data-testid=\"stColumn\"] {{min-width: min(100%, 20rem);}}</style>"


def predictor(trainer) -> str:
    """The predictor in use: the student's pick, or (until they pick) exact below EXACT_UNTIL steps."""
    state = st.session_state
    if not state.get(f"{PREDICTOR_KEY}_picked") or state.get(PREDICTOR_KEY) not in PREDICTORS:
        state[PREDICTOR_KEY] = "exact" if trainer.step_count < EXACT_UNTIL else "network"
    return state[PREDICTOR_KEY]


def _picked() -> None:
    st.session_state[f"{PREDICTOR_KEY}_picked"] = True


def predictor_label(name: str, step: int) -> str:
    """What drives the chain, in words: the exact predictor (nothing trained yet, at step 0) or the network."""
    if name == "network":
        return t("diffusion_live.predictor.network_label", step=step)
    return t("diffusion_live.predictor.exact_label" if step == 0 else "diffusion_live.predictor.exact_label_trained",
             step=step)


def predictor_switch(trainer) -> str:
    """The switch (``predictor`` has set its state in this run) and what it means; returns the predictor."""
    chosen = predictor(trainer)
    st.radio(t("diffusion_live.predictor.switch"), PREDICTORS, bind=LINK, key=PREDICTOR_KEY, horizontal=True,
             format_func=labeler("diffusion_live.predictor.options"), on_change=_picked,
             help=t("diffusion_live.predictor.switch_help", until=EXACT_UNTIL))
    st.caption(t(f"diffusion_live.predictor.{chosen}_caption", points=len(trainer.exact_points),
                 step=trainer.step_count, until=EXACT_UNTIL))
    return chosen


def num(value: float) -> str:
    """A number for LaTeX: 4 decimals, or a power of ten when that would hide it (|v| < 1e-3 or >= 1e5)."""
    value = float(value)
    if not np.isfinite(value):
        return r"\text{nan}" if np.isnan(value) else (r"\infty" if value > 0 else r"-\infty")
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4f}"
    exponent = int(np.floor(np.log10(abs(value))))
    return rf"{value / 10**exponent:.3f}\times 10^{{{exponent}}}"


def vec(v) -> str:
    a, b = np.asarray(v, dtype=np.float64).reshape(2)
    return rf"\begin{{pmatrix}}{num(a)}\\{num(b)}\end{{pmatrix}}"


def terms_of(step) -> dict[str, np.ndarray]:
    """The step's terms for one particle as float64 2-vectors; σ_t z is the product the engine added."""
    first = {name: getattr(step, attr)[0].double().numpy() for name, attr in
             (("x_t", "x_t"), ("eps", "eps"), ("x0_hat", "x0_hat"), ("mean", "mean"), ("z", "z"),
              ("x_prev", "x_prev"))}
    first["sigma_z"] = step.sigma * first["z"]
    return {name: first[name] for name in TERMS}


def equations(step, schedule, predictor: str = "network") -> list[str]:
    """Ho et al.'s eq. 15 (x̂_0), eq. 7 (μ̃_t) and algorithm 2's update, each filled in with the step's numbers.

    Each takes a few short lines (the symbols, then the numbers), so that it fits a 521 px column (150%
    zoom on a 1280 px screen) without scrolling sideways, even with four-digit coordinates."""
    k = step.t
    v = terms_of(step)
    a, a_prev = schedule.alpha_bar[k], schedule.alpha_bar_prev[k]
    c1, c2 = schedule.posterior_mean_coef1[k], schedule.posterior_mean_coef2[k]
    x0 = (rf"\begin{{aligned}} \hat{{x}}_0 &= \frac{{x_t - \sqrt{{1-\bar\alpha_t}}\,{EPS_LATEX[predictor]}}}"
          rf"{{\sqrt{{\bar\alpha_t}}}} \\ &= \frac{{{vec(v['x_t'])} - {num(np.sqrt(1 - a))}\,{vec(v['eps'])}}}"
          rf"{{{num(np.sqrt(a))}}} = {vec(v['x0_hat'])} \end{{aligned}}")
    coefficients = (rf"\begin{{gathered}} \begin{{aligned}}"
                    rf" c_1 &= \frac{{\sqrt{{\bar\alpha_{{t-1}}}}\,\beta_t}}{{1-\bar\alpha_t}} = {num(c1)}, \\"
                    rf" c_2 &= \frac{{\sqrt{{\alpha_t}}\,(1-\bar\alpha_{{t-1}})}}{{1-\bar\alpha_t}} = {num(c2)}"
                    rf" \end{{aligned}} \\[0.3em] (t = {k},\ \bar\alpha_t = {num(a)},"
                    rf"\ \bar\alpha_{{t-1}} = {num(a_prev)},\ \beta_t = {num(schedule.betas[k])}) \end{{gathered}}")
    mean = (rf"\begin{{aligned}} \tilde\mu_t &= c_1\,\hat{{x}}_0 + c_2\,x_t \\"
            rf" &= {num(c1)}\,{vec(v['x0_hat'])} + {num(c2)}\,{vec(v['x_t'])} \\ &= {vec(v['mean'])} \end{{aligned}}")
    update = (rf"\begin{{aligned}} x_{{t-1}} &= \tilde\mu_t + \sigma_t z \\"
              rf" &= {vec(v['mean'])} + {num(step.sigma)}\,{vec(v['z'])} = {vec(v['x_prev'])} \end{{aligned}}")
    return [x0, coefficients, mean, update]


def table(step, lang: str, predictor: str = "network") -> pd.DataFrame:
    symbols = dict(SYMBOLS, eps=EPS_SYMBOL[predictor])
    rows = [{translate(lang, "diffusion_live.step.term"): translate(lang, f"diffusion_live.step.terms.{name}"),
             translate(lang, "diffusion_live.step.symbol"): symbols[name], "x₁": value[0], "x₂": value[1]}
            for name, value in terms_of(step).items()]
    return pd.DataFrame(rows)


def pick_clicked() -> None:
    """Callback of the figure: a click on a particle of the cloud (trace 0) makes it the chosen one."""
    event = st.session_state.get(f"{KEY}_figure")
    points = (event or {}).get("selection", {}).get("points", [])
    chosen = [p for p in points if p.get("curve_number") == 0 and "point_index" in p]
    if chosen:
        st.session_state[f"{KEY}_particle"] = int(chosen[0]["point_index"])


@section
def section(trainer, film) -> None:
    """``trainer``: the live ``Diffusion2DTrainer``; ``film``: its ``ReverseFilm`` (every step kept), whose
    predictor (the network or the exact one) this step uses too."""
    chosen = film.predictor
    links.header("diffusion_live.step")
    st.markdown(t("diffusion_live.step.intro"))
    st.info(t("diffusion_live.step.using", model=predictor_label(chosen, trainer.step_count)),
            icon=":material/calculate:" if chosen == "exact" else ":material/model_training:")
    state, total, n = st.session_state, trainer.config.steps, film.frames.shape[1]
    state.setdefault(f"{KEY}_t", total // 2)
    state[f"{KEY}_t"] = min(max(1, int(state[f"{KEY}_t"])), total)  # T may have changed since
    state.setdefault(f"{KEY}_particle", 0)
    state[f"{KEY}_particle"] = min(int(state[f"{KEY}_particle"]), n - 1)
    state.setdefault(f"{KEY}_seed", 0)
    who, when, noise = st.columns([1, 2, 1])
    index = who.number_input(t("diffusion_live.step.particle"), 0, n - 1, step=1, bind=LINK, key=f"{KEY}_particle",
                             help=t("diffusion_live.step.particle_help"))
    step_t = when.slider(t("diffusion_live.step.t"), 1, total,
                         bind=LINK, key=f"{KEY}_t", help=t("diffusion_live.step.t_help"))
    seed = noise.number_input(t("diffusion_live.step.seed"), 0, 9999, step=1, bind=LINK, key=f"{KEY}_seed",
                              help=t("diffusion_live.step.seed_help"))
    cloud = film.at(step_t)  # (n, 2) x_t of every particle
    step = trainer.reverse_step(cloud[index][None], step_t, seed=seed, predictor=chosen)
    v = terms_of(step)
    lang = current_language()
    st.html(ROW_CSS.format(key=KEY))
    figure_col, numbers_col = st.container(key=f"{KEY}_row").columns([4, 5])
    with figure_col:
        whole = st.toggle(t("diffusion_live.step.whole"),
                          bind=LINK, key=f"{KEY}_whole", help=t("diffusion_live.step.whole_help"))
        labels = {name: translate(lang, f"diffusion_live.plot.{name}") for name in
                  ("particles", "eps", "to_x0", "sigma_z", "x_t", "x0_hat", "mean", "x_prev")}
        if chosen == "exact":
            labels["eps"] = translate(lang, "diffusion_live.plot.eps_exact")
        figure = plots.step_figure(cloud, v["x_t"], v["eps"], v["x0_hat"], v["mean"], v["sigma_z"], v["x_prev"],
                                   labels=labels, whole=whole)
        chart(figure, key=f"{KEY}_figure", on_select=pick_clicked, selection_mode="points")
        st.caption(t("diffusion_live.step.figure_caption"))
    with numbers_col:
        st.dataframe(table(step, lang, chosen), hide_index=True, key=f"{KEY}_table",
                     column_config={"x₁": st.column_config.NumberColumn(format="%.4f"),
                                    "x₂": st.column_config.NumberColumn(format="%.4f")})
        st.caption(t("diffusion_live.step.sigma_caption", sigma=step.sigma, t=step_t))
    for line in equations(step, trainer.schedule, chosen):
        st.latex(line)
    st.caption(t(f"diffusion_live.step.reading_{chosen}", step=trainer.step_count, points=len(trainer.exact_points)))
