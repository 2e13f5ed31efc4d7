"""The live GAN's settings panel, one table: every control's widget, its place and the field it sets.

Each row of :data:`CONTROLS` names a widget (key ``gan_live_<name>``, label ``gan_live.<label>``), the
``GANSettings`` (live: the running trainer is updated) or ``GANArchitecture`` (restart) field it sets,
the values it offers (the engine's default and every preset's value are added, so a preset is always
reachable) and the column of GAN Lab's top bar it sits in. Presets, defaults, the panel and the
config read back all go through the table: a new setting is one row here (plus its engine field and
its catalog strings).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from dashboard.shared.i18n import labeler, t
from dashboard.shared.links import LINK
from engine.gan import LOSSES
from engine.gan.live import OPTIMIZERS, PRESETS, GANArchitecture, GANSettings

KEY = "gan_live"
ARCH, SETTINGS = GANArchitecture(), GANSettings()
COLUMNS = ("game", "g", "d", "arch")  # the panel's columns, left to right
HEADINGS = {"game": "gan_live.game", "g": "gan_live.g_net", "d": "gan_live.d_net", "arch": "gan_live.networks"}


@dataclass(frozen=True)
class Control:
    name: str  # widget key gan_live_<name>
    part: str  # "settings": changes the running trainer; "arch": starts over
    field: str  # the GANSettings / GANArchitecture field it sets
    column: str  # one of COLUMNS
    label: str  # catalog key after "gan_live."
    help: str  # catalog key after "gan_live."
    widget: str = "slider"  # "slider" (select_slider), "select" (selectbox) or "number" (number_input)
    values: tuple = ()  # offered values (presets' and the default's are added); choices of a select
    names: str | None = None  # catalog prefix naming a select's choices
    loss: str | None = None  # shown only with this loss (a WGAN's clip, WGAN-GP's penalty weight)
    compact: bool = False  # values printed with :g (learning rates, penalty weights)

    @property
    def key(self) -> str:
        return f"{KEY}_{self.name}"

    def default(self, architecture: GANArchitecture, settings: GANSettings):
        return getattr(architecture if self.part == "arch" else settings, self.field)

    def options(self) -> tuple:
        if self.widget != "slider":
            return self.values
        used = {self.default(ARCH, SETTINGS)} | {self.default(p.architecture, p.settings) for p in PRESETS.values()}
        return tuple(sorted(set(self.values) | used))


LRS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
CONTROLS: tuple[Control, ...] = (
    Control("loss", "settings", "loss", "game", "loss", "loss_help", "select", LOSSES, "gan_live.losses"),
    Control("d_steps", "settings", "d_steps", "game", "d_steps", "d_steps_help", values=(1, 2, 3, 4, 5, 10)),
    Control("batch", "settings", "batch_size", "game", "batch", "live_help", values=(16, 32, 64, 128, 256, 512, 1024)),
    Control("pack", "settings", "pack", "game", "pack", "pack_help", values=(1, 2, 3, 4, 5)),
    Control("g_opt", "settings", "g_optimizer", "g", "optimizer", "live_help", "select", OPTIMIZERS,
            "gan_live.optimizers"),
    Control("g_lr", "settings", "g_lr", "g", "lr", "live_help", values=LRS, compact=True),
    Control("beta1", "settings", "beta1", "g", "beta1", "beta1_help", values=(0.0, 0.5, 0.9)),
    Control("d_opt", "settings", "d_optimizer", "d", "optimizer", "live_help", "select", OPTIMIZERS,
            "gan_live.optimizers"),
    Control("d_lr", "settings", "d_lr", "d", "lr", "live_help", values=LRS, compact=True),
    Control("clip", "settings", "clip", "d", "clip", "clip_help", values=(0.005, 0.01, 0.02, 0.05, 0.1), loss="wgan"),
    Control("gp", "settings", "gp_weight", "d", "gp", "gp_help", values=(0.1, 1.0, 10.0, 100.0), loss="wgan_gp",
            compact=True),
    Control("latent", "arch", "latent_dim", "arch", "latent", "restart_help", values=(1, 2, 3, 4, 8, 16)),
    Control("width", "arch", "width", "arch", "width", "restart_help", values=(8, 16, 32, 64, 128, 256)),
    Control("depth", "arch", "depth", "arch", "depth", "restart_help", values=(1, 2, 3, 4)),
    Control("seed", "arch", "seed", "arch", "seed", "restart_help", "number"),
)


def fill(architecture: GANArchitecture, settings: GANSettings, *, force: bool) -> None:
    """Put ``architecture`` and ``settings`` into the widgets' state (``force``: over what is there)."""
    state = st.session_state
    for control in CONTROLS:
        value = control.default(architecture, settings)
        if force:
            state[control.key] = value
        else:
            state.setdefault(control.key, value)


def read_config() -> tuple[GANArchitecture, GANSettings]:
    """The architecture and settings the widgets hold."""
    parts = {"arch": {}, "settings": {}}
    for control in CONTROLS:
        parts[control.part][control.field] = st.session_state[control.key]
    return GANArchitecture(**parts["arch"]), GANSettings(**parts["settings"])


def draw(control: Control) -> None:
    label, help_text = t(f"gan_live.{control.label}"), t(f"gan_live.{control.help}")
    if control.widget == "select":
        st.selectbox(label, control.values, format_func=labeler(control.names),
                     bind=LINK, key=control.key, help=help_text)
    elif control.widget == "number":
        st.number_input(label, 0, 9999, step=1, bind=LINK, key=control.key, help=help_text)
    else:
        st.select_slider(label, control.options(), bind=LINK, key=control.key, help=help_text,
                         format_func=(lambda v: f"{v:g}") if control.compact else str)


def settings_panel() -> None:
    """The model settings, GAN Lab's top bar: the game and both players (live), the networks (restart)."""
    with st.expander(t("gan_live.settings"), expanded=True, icon=":material/tune:"):
        loss = st.session_state.get(f"{KEY}_loss")
        for column, name in zip(st.columns(len(COLUMNS)), COLUMNS):
            with column:
                st.markdown(t(HEADINGS[name]))
                for control in CONTROLS:
                    if control.column == name and control.loss in (None, loss):
                        draw(control)
