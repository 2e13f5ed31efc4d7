"""GANs: the minimax game made exact in 1D, live 2D training dynamics, and a DCGAN on MNIST.

The page is three sections, each in its own module under ``dashboard/ui`` (``gan_theory``,
``gan_live``, ``gan_mnist``) with its own catalog namespace, so each stays small and readable.
"""

import streamlit as st

from dashboard.ui import gan_live, gan_mnist, gan_theory
from dashboard.ui.i18n import t

st.title(t("gan.title"), anchor=False)
st.markdown(t("gan.intro"))
gan_theory.section()
gan_live.section()
gan_mnist.section()
