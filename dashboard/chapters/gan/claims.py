"""The GAN page's claims (see dashboard.shared.claims): the states that show them."""

from dashboard.chapters.gan.controls import CONTROLS
from dashboard.chapters.gan.live import KEY, use_preset
from dashboard.shared.claims import Claim
from engine.gan.live import PRESETS


def preset_state(name: str) -> dict:
    """Every control of the live section at the preset's value, and the preset itself: the whole state is in
    the claim (and its link), and "Show it" then starts a fresh run from step 0 as the preset button does."""
    preset = PRESETS[name]
    return {f"{KEY}_preset": name, f"{KEY}_data": preset.dataset,
            **{control.key: control.default(preset.architecture, preset.settings) for control in CONTROLS}}


CLAIMS = [
    # p_g = N(0, 1) against two bumps: V(D*, G) and 2 JS - log 4 agree to rounding.
    Claim("d_star", {"gan_theory_data": "two_bumps", "gan_theory_mean": 0.0, "gan_theory_std": 1.0},
          section="gan_theory", answer=0),
    # p_g = N(4.5, 0.8), right of every bump: D* is about 0 on G's samples, where log(1 - D) is flat.
    Claim("saturating", {"gan_theory_data": "two_bumps", "gan_theory_mean": 4.5, "gan_theory_std": 0.8},
          section="gan_theory", answer=1),
    # G 100x faster than D with momentum: a clump circles the ring of 8, covering at most 3 modes.
    Claim("collapse", preset_state("collapse"), section="gan_live", answer=1, then=use_preset),
    # Balanced rates, beta1 = 0.5, packing 2: all 8 modes within a few thousand iterations.
    Claim("cure", preset_state("cover_all"), section="gan_live", answer=1, then=use_preset),
]
