"""The GAN page's claims (see dashboard.shared.claims): the states that show them."""

from dashboard.shared.claims import Claim

CLAIMS = [
    # p_g = N(0, 1) against two bumps: V(D*, G) and 2 JS - log 4 agree to rounding.
    Claim("d_star", {"gan_theory_data": "two_bumps", "gan_theory_mean": 0.0, "gan_theory_std": 1.0},
          section="gan_theory", answer=0),
    # p_g = N(4.5, 0.8), right of every bump: D* is about 0 on G's samples, where log(1 - D) is flat.
    Claim("saturating", {"gan_theory_data": "two_bumps", "gan_theory_mean": 4.5, "gan_theory_std": 0.8},
          section="gan_theory", answer=1),
]
