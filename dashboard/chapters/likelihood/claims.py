"""The likelihood page's claims (see dashboard.shared.claims): the states that show them."""

from dashboard.shared.claims import Claim

CLAIMS = [
    # One Gaussian for the default two-bump data: cross-entropy = entropy + KL, and the ML Gaussian minimises KL.
    Claim("mle_kl", {"model_kind": "gaussian"}, section="likelihood.kl", answer=0),
    # Many Monte Carlo samples: the spread of the estimates shrinks as 1 / sqrt(n).
    Claim("mc_noise", {"mc_n": 500}, section="likelihood.mc", answer=0),
    # A KDE with h = 0.001 on 100 points: train log-likelihood soars, held-out collapses.
    Claim("memorise", {"memorise_h": 0.001, "data_n": 100}, section="likelihood.capacity", answer=1),
    # One Gaussian for two clusters 5 apart: worse held out than a mixture of two.
    Claim("underfit", {"model_kind": "gaussian", "data_kind": "mixture", "data_separation": 5.0},
          section="likelihood.data", answer=1),
]
