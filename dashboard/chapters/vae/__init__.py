"""Chapter 3, latent variables and the VAE: the page and its figures."""
