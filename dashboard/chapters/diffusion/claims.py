"""The diffusion page's claims (see dashboard.shared.claims): the states that show them."""

from dashboard.shared.claims import Claim

KEY = "diffusion_forward_"
CLAIMS = [
    # Ho et al.'s linear schedule, T = 1000, at t = T: alpha_bar_T ~ 4e-5, the data are gone.
    Claim("ends_gaussian", {KEY + "schedule": "linear", KEY + "T": 1000, KEY + "rescale": True, KEY + "t": 1000},
          section="diffusion_forward", answer=1),
    # The same per-step noise over T = 50 steps (tiny-diffusion's setting, not rescaled): x_T is still data.
    Claim("too_short", {KEY + "schedule": "linear", KEY + "T": 50, KEY + "rescale": False, KEY + "t": 50},
          section="diffusion_forward", answer=1),
]
