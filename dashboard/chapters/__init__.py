"""One package per chapter: ``page.py`` (what st.navigation runs) and its sections and figures.
No chapter imports another; what two chapters share lives in ``dashboard.shared``."""
