"""The VAE page's claims (see dashboard.shared.claims): the states that show them."""

from dashboard.shared.claims import Claim

CLAIMS = [
    # The bimodal point with a q on neither mode: log p(x) - ELBO = KL(q || posterior), to rounding.
    Claim("elbo_gap", {"vae_x1": 0.0, "vae_x2": 1.5, "vae_mu": 0.5, "vae_log_s": -0.5}, section="vae.toy", answer=0),
    # One Gaussian q between the posterior's two modes: the ELBO is ~1.9 nats short; L_1000 is within 0.01.
    Claim("iwae", {"vae_x1": 0.0, "vae_x2": 1.5, "vae_mu": 0.0, "vae_log_s": -0.3}, section="vae.toy", answer=0),
    # beta = 8 on the moons: the KL term wins, q(z|x) becomes the prior and the latent carries nothing.
    Claim("beta_collapse", {"vae_live_data": "moons", "vae_live_latent": 1, "vae_live_beta": 8.0},
          section="vae.live", answer=1),
    # The shipped autoencoder decodes N(0, I) codes into smudges (Frechet 984); the VAE's samples are digits (353).
    Claim("ae_generative", {}, section="vae.mnist", answer=1),
]
