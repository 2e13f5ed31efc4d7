"""Chapter 4, GANs: the page and one module per section (theory, live, mnist), each with its figures."""
