"""The divergences page's claims (see dashboard.shared.claims): the states that show them."""

from dashboard.shared.claims import Claim

CLAIMS = [
    # P = U(-0.5, 0.5), Q = U(1.5, 2.5): KL = inf, JS = log 2, TV = 1, W1 = 2 (the gap between the centres).
    Claim("disjoint", {"p_kind": "uniform", "p_location": 0.0, "p_scale": 0.5,
                       "q_kind": "uniform", "q_location": 2.0, "q_scale": 0.5}, answer=1),
    # Two bumps 6 apart: the forward-KL Gaussian spans both, the reverse-KL one sits on the bump it starts near.
    Claim("modes", {"modes_separation": 6.0, "modes_weight": 0.5, "modes_std": 0.6, "modes_init": 2.0},
          section="divergences.modes", answer=1),
]
