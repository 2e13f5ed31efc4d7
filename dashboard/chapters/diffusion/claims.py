"""The diffusion page's claims (see dashboard.shared.claims): the states that show them."""

import streamlit as st

from dashboard.chapters.diffusion.mnist import RESULT
from dashboard.shared.claims import Claim


def new_grid() -> None:
    """After "Show it": the MNIST grid is sampled again with the claim's sampler (not kept from before)."""
    st.session_state.pop(RESULT, None)


KEY = "diffusion_forward_"
CLAIMS = [
    # Ho et al.'s linear schedule, T = 1000, at t = T: alpha_bar_T ~ 4e-5, the data are gone.
    Claim("ends_gaussian", {KEY + "schedule": "linear", KEY + "T": 1000, KEY + "rescale": True, KEY + "t": 1000},
          section="diffusion_forward", answer=1),
    # The same per-step noise over T = 50 steps (tiny-diffusion's setting, not rescaled): x_T is still data.
    Claim("too_short", {KEY + "schedule": "linear", KEY + "T": 50, KEY + "rescale": False, KEY + "t": 50},
          section="diffusion_forward", answer=1),
    # DDIM with 10 steps on the shipped U-Net: 100x fewer network calls than DDPM's 1000, blurrier digits.
    Claim("ddim_fast", {"diffusion_mnist_sampler": "ddim", "diffusion_mnist_steps": 10}, section="diffusion_mnist",
          answer=1, then=new_grid),
    # RePaint regenerates the top half and leaves the bottom half exactly as it was.
    Claim("inpaint_keeps", {"diffusion_inpaint_mode": "preset", "diffusion_inpaint_preset": "top"},
          section="diffusion_inpaint", answer=1),
]
