"""GAN page, section: live (being built)."""

import streamlit as st

from dashboard.ui.i18n import t


def section() -> None:
    st.header(t("gan_live.title"), anchor=False)
