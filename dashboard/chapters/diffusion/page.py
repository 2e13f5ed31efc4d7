"""Diffusion (DDPM): the forward process, a 2D model trained live, and a U-Net on MNIST.

The page is five sections, each in its own module of this package with its own catalog namespace
(``diffusion_<module>``): ``forward`` (q(x_t | x_0) and the schedules), ``live`` (a 2D DDPM trained
live, its reverse process, and ``step2d``: one reverse step with every term), ``samplers`` (DDPM, DDIM and
flow matching from the same noise), ``mnist`` (the shipped
U-Net: samples, DDPM against DDIM, one step on a digit) and ``inpaint`` (editing a digit so the new
part fits its surroundings). Figures sit beside each in ``*_plots``.
"""

import streamlit as st

from dashboard.chapters.diffusion import forward as diffusion_forward
from dashboard.chapters.diffusion import inpaint as diffusion_inpaint
from dashboard.chapters.diffusion import live as diffusion_live
from dashboard.chapters.diffusion import mnist as diffusion_mnist
from dashboard.chapters.diffusion import samplers as diffusion_samplers
from dashboard.chapters.diffusion.claims import CLAIMS
from dashboard.shared import claims
from dashboard.shared.i18n import t

st.title(t("diffusion.title"), anchor=False)
st.markdown(t("diffusion.intro"))
claims.lecture("diffusion", CLAIMS)
diffusion_forward.section()
diffusion_live.section()
diffusion_samplers.section()
diffusion_mnist.section()
diffusion_inpaint.section()
