"""Diffusion (DDPM): the forward process, a 2D model trained live, and a U-Net on MNIST.

The page is four sections, each in its own module under ``dashboard/ui`` with its own catalog
namespace: ``diffusion_forward`` (q(x_t | x_0) and the schedules), ``diffusion_live`` (a 2D DDPM
trained live, its reverse process and one reverse step with every term), ``diffusion_mnist``
(the shipped U-Net: samples, DDPM against DDIM, one step on a digit) and ``diffusion_inpaint``
(editing a digit so the new part fits its surroundings).
"""

import streamlit as st

from dashboard.ui import diffusion_forward, diffusion_inpaint, diffusion_live, diffusion_mnist
from dashboard.ui.i18n import t

st.title(t("diffusion.title"), anchor=False)
st.markdown(t("diffusion.intro"))
diffusion_forward.section()
diffusion_live.section()
diffusion_mnist.section()
diffusion_inpaint.section()
