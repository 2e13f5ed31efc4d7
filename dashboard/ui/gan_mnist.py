"""GAN page, section: mnist (being built)."""

import streamlit as st

from dashboard.ui.i18n import t


def section() -> None:
    st.header(t("gan_mnist.title"), anchor=False)
