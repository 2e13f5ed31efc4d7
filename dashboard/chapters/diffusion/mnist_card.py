"""Diffusion page, section 4 (continued): what the shipped DDPM's model card records.

The card's DDPM-vs-DDIM table (Fréchet distance against the real-vs-real floor, classes covered,
milliseconds per digit) with its chart, and the training record behind an expander. Nothing here
samples: every number comes from the card that ``python -m engine.train ddpm`` wrote.
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from dashboard.chapters.diffusion import mnist_plots as plots
from dashboard.shared.charts import chart
from dashboard.shared.i18n import t
from dashboard.shared.mnist import data_text
from engine.diffusion.mnist import DDIM_STEPS


def sampler_label(sampler: str, calls: int) -> str:
    return t(f"diffusion_mnist.generate.label_{sampler}", steps=calls)


def sampler_rows(card: dict) -> list[dict]:
    """The card's samplers in order DDPM, DDIM-10 ... DDIM-100 (those present), with their network calls."""
    table = card.get("evaluation", {}).get("samplers", {})
    T = card.get("config", {}).get("steps", 1000)
    rows = []
    for name in ["ddpm"] + [f"ddim{s}" for s in DDIM_STEPS]:
        if name in table and isinstance(table[name], dict) and "frechet" in table[name]:
            calls = T if name == "ddpm" else int(name[4:])
            rows.append({"key": name, "name": sampler_label("ddpm" if name == "ddpm" else "ddim", calls),
                         "calls": calls, **table[name]})
    return rows


def samplers_part(card: dict, labels: dict) -> None:
    st.subheader(t("diffusion_mnist.samplers.title"), anchor=False)
    st.markdown(t("diffusion_mnist.samplers.body"))
    st.latex(t("diffusion_mnist.samplers.ddim_equation"))
    rows = sampler_rows(card)
    floor = card.get("metrics", {}).get("frechet_floor_same_size")
    n = card.get("evaluation", {}).get("n_samples", "?")
    if not rows:
        st.info(t("diffusion_mnist.samplers.none"), icon=":material/info:")
        return
    c = {key: t(f"diffusion_mnist.samplers.columns.{key}") for key in
         ("sampler", "calls", "frechet", "floor", "ratio", "entropy", "covered", "confidence", "ms")}
    frame = pd.DataFrame([{c["sampler"]: r["name"], c["calls"]: r["calls"], c["frechet"]: r["frechet"],
                           c["floor"]: floor, c["ratio"]: r["frechet"] / floor if floor else None,
                           c["entropy"]: r.get("class_entropy"), c["covered"]: r.get("classes_covered"),
                           c["confidence"]: r.get("mean_confidence"),
                           c["ms"]: 1000 * r["seconds_per_digit"] if "seconds_per_digit" in r else None}
                          for r in rows])
    st.dataframe(frame, hide_index=True, key="diffusion_mnist_table",
                 column_config={c["frechet"]: st.column_config.NumberColumn(format="%.1f"),
                                c["floor"]: st.column_config.NumberColumn(format="%.1f"),
                                c["ratio"]: st.column_config.NumberColumn(format="%.2f"),
                                c["entropy"]: st.column_config.NumberColumn(format="%.3f"),
                                c["confidence"]: st.column_config.NumberColumn(format="%.3f"),
                                c["ms"]: st.column_config.NumberColumn(format="%.1f")})
    st.caption(t("diffusion_mnist.samplers.caption", n=n, max=math.log(10)))
    missing = [s for s in ["ddpm"] + [f"ddim{s}" for s in DDIM_STEPS] if s not in {r["key"] for r in rows}]
    if missing:
        st.info(t("diffusion_mnist.samplers.partial", missing=", ".join(missing), rebuild=card.get("rebuild", "")),
                icon=":material/info:")
    chart(plots.sampler_figure(rows, floor, labels=labels), key="diffusion_mnist_samplers")


def number(value, fmt: str = ".1f") -> str:
    return format(value, fmt) if isinstance(value, int | float) else "—"


def card_part(card: dict, labels: dict) -> None:
    with st.expander(t("diffusion_mnist.card.title"), icon=":material/description:"):
        m, training, config = card.get("metrics", {}), card.get("training", {}), card.get("config", {})
        entries = [("ddpm", number(m.get("ddpm_frechet"))), ("ddim50", number(m.get("ddim50_frechet"))),
                   ("floor", number(m.get("frechet_floor_same_size")))]
        for column, (key, value) in zip(st.columns(len(entries)), entries):
            column.metric(t(f"diffusion_mnist.card.{key}"), value, help=t("diffusion_mnist.card.frechet_help",
                          n=card.get("evaluation", {}).get("n_samples", "?")), border=True)
        st.markdown(t("diffusion_mnist.card.architecture", channels=", ".join(map(str, config.get("channels", []))),
                      embedding=config.get("embedding", "?"), T=config.get("steps", "?"),
                      schedule=config.get("schedule", "?"), parameters=card.get("parameters", 0)))
        st.markdown(t("diffusion_mnist.card.training", steps=training.get("steps", 0),
                      epochs=training.get("epochs", 0.0), seconds=training.get("wall_time_s", 0.0),
                      device=card.get("device", {}).get("kind", "?"), threads=training.get("threads", "?"),
                      batch=config.get("batch_size", "?"), lr=config.get("lr", "?"), warmup=config.get("warmup", "?"),
                      ema=config.get("ema", "?")))
        if "data" in card:
            st.markdown(t("diffusion_mnist.card.data", data=data_text(card["data"])))
        curve = training.get("loss_curve") or []
        if curve:
            chart(plots.loss_figure(curve, labels=labels), key="diffusion_mnist_loss")
            st.caption(t("diffusion_mnist.card.loss_caption"))
        st.caption(t("diffusion_mnist.card.rebuild"))
        st.code(card.get("rebuild", "python -m engine.train ddpm"), language="bash")
