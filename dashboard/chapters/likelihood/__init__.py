"""Chapter 1, maximum likelihood: the page and its figures."""
