"""Chapter 2, divergences: the page and its figures."""
