"""GANs: the minimax game made exact in 1D, live 2D training dynamics, and a DCGAN on MNIST.

The page is three sections, each in its own module of this package (``theory``, ``live``, ``mnist``,
with its figures beside it in ``*_plots``) and its own catalog namespace (``gan_theory``, ``gan_live``,
``gan_mnist``), so each stays small and readable.
"""

import streamlit as st

from dashboard.chapters.gan import live as gan_live
from dashboard.chapters.gan import mnist as gan_mnist
from dashboard.chapters.gan import theory as gan_theory
from dashboard.chapters.gan.claims import CLAIMS
from dashboard.shared import claims
from dashboard.shared.i18n import t

st.title(t("gan.title"), anchor=False)
st.markdown(t("gan.intro"))
claims.lecture("gan", CLAIMS)
gan_theory.section()
gan_live.section()
gan_mnist.section()
