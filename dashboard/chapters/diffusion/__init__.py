"""Chapter 5, diffusion: the page and one module per section (forward, live, step2d, mnist, inpaint)."""
