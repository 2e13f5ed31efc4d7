"""Controls that return frozen configs: a page reads widgets once, then only handles the config."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from dashboard.shared.i18n import labeler, t
from dashboard.shared.links import LINK
from engine.distributions import Normal, Uniform, two_normal_mixture

KINDS = ("normal", "uniform", "mixture")


@dataclass(frozen=True)
class DistSpec:
    """A 1D distribution as the sliders describe it (hashable, so it can key a cache).

    ``scale`` is the std of a Normal, the half-width of a Uniform and the std of each
    component of the two-Normal mixture; ``weight`` and ``separation`` only matter for the
    mixture (weight of the left component, distance between the two means).
    """

    kind: str = "normal"
    location: float = 0.0
    scale: float = 1.0
    weight: float = 0.5
    separation: float = 3.0

    def build(self):
        if self.kind == "normal":
            return Normal(self.location, self.scale)
        if self.kind == "uniform":
            return Uniform(self.location - self.scale, self.location + self.scale)
        if self.kind == "mixture":
            return two_normal_mixture(self.location, self.scale, self.weight, self.separation)
        raise ValueError(f"unknown distribution kind {self.kind!r}; choose one of {', '.join(KINDS)}")


def distribution_controls(key: str, default: DistSpec) -> DistSpec:
    """Kind selector plus the sliders that kind uses; widget keys are prefixed with ``key``."""
    kind = st.segmented_control(
        t("controls.dist.kind"), KINDS, default=default.kind, bind=LINK, key=f"{key}_kind",
        format_func=labeler("controls.dist.kinds"),
    ) or default.kind  # segmented controls can be deselected; fall back rather than fail
    location = st.slider(t("controls.dist.location"), -5.0, 5.0, default.location, 0.1,
                         bind=LINK, key=f"{key}_location")
    scale = st.slider(
        t(f"controls.dist.scale_{kind}"), 0.1, 3.0, default.scale, 0.05, bind=LINK, key=f"{key}_scale",
        help=t("controls.dist.scale_help"),
    )
    weight, separation = default.weight, default.separation
    if kind == "mixture":
        weight = st.slider(t("controls.dist.weight"), 0.05, 0.95, default.weight, 0.05, bind=LINK, key=f"{key}_weight")
        separation = st.slider(
            t("controls.dist.separation"), 0.0, 8.0, default.separation, 0.1, bind=LINK, key=f"{key}_separation"
        )
    return DistSpec(kind, location, scale, weight, separation)
