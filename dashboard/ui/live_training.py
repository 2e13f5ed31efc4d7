"""Live training in the browser: play / pause / step / reset for any ``engine.training`` trainer.

A long training loop inside one script run would be cut off by every widget change, so the
loop is turned inside out (see ../shared/DESIGN.md, "Live training"):

* the trainer lives in ``st.session_state`` (one per browser session and ``key``);
* while *playing*, a fragment re-runs itself every ``INTERVAL_S`` seconds; each run ("tick",
  :func:`advance`) trains for a fixed time budget with ``trainer.step_for``, then redraws;
* the buttons are callbacks, so pressing one never loses a step;
* a trainer that stops itself (a NaN or inf in its metrics) pauses the loop and its reason is
  shown as a translated warning; the user changes a setting and presses play again, which
  rewinds to the last finite state (``trainer.resume()``) and carries on.

Example (the page supplies the trainer factory and the drawing function)::

    from dashboard.ui import live_training as live
    from engine.mle import MLEConfig, MLETrainer

    config = MLEConfig(family="gaussian", lr=0.05)
    trainer = live.trainer_for("mle", config, lambda: MLETrainer(config, data))
    live.controls("mle")                       # play / pause, step, reset, speed
    live.run("mle", draw=lambda tr: st.plotly_chart(figure_of(tr)))

:func:`advance` and the callbacks touch only ``session_state``-like mappings, so they are tested
without a browser (``tests/dashboard/test_live_training.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from dashboard.ui.i18n import labeler, t

# Per tick: (time budget in seconds, most steps). Small models take thousands of steps per
# second, too fast to watch; "slow" and "normal" cap the steps so a path can be followed.
SPEEDS = {"slow": (0.15, 2), "normal": (0.15, 20), "fast": (0.15, 100_000)}
INTERVAL_S = 0.35  # seconds between ticks: leaves the browser time to draw


@dataclass
class Slot:
    """What one live trainer needs between script runs."""

    trainer: Any
    config: Any  # the config the trainer was built from; a different one means a new trainer
    playing: bool = False
    speed: str = "normal"
    steps_per_second: float = 0.0
    last_metrics: list = field(default_factory=list)


def advance(s: Slot, clock=time.perf_counter) -> None:
    """One tick while playing: train for the speed's time budget, measure the rate, and pause
    if the trainer stopped itself. Does nothing while paused."""
    if not s.playing:
        return
    start = clock()
    budget_s, max_steps = SPEEDS[s.speed]
    s.last_metrics = s.trainer.step_for(budget_s, max_steps)
    elapsed = clock() - start
    s.steps_per_second = len(s.last_metrics) / elapsed if elapsed > 0 else 0.0
    if s.trainer.stopped is not None:
        s.playing = False


def _slot_key(key: str) -> str:
    return f"live::{key}"


def trainer_for(key: str, config, factory: Callable[[], Any], state: MutableMapping | None = None,
                speed: str = "normal"):
    """The session's trainer for ``key``; rebuilt (and paused) when ``config`` changed.

    ``speed`` is where a new session's speed control starts (models that need thousands of
    steps to show anything start at "fast"); later rebuilds keep the user's choice.
    """
    state = st.session_state if state is None else state
    slot = state.get(_slot_key(key))
    if slot is None or slot.config != config:
        slot = Slot(trainer=factory(), config=config, speed=slot.speed if slot else speed)
        state[_slot_key(key)] = slot
    return slot.trainer


def slot(key: str, state: MutableMapping | None = None) -> Slot:
    state = st.session_state if state is None else state
    return state[_slot_key(key)]


# Button callbacks: run before the script, so a click is never lost to a rerun.
def play(key: str, state: MutableMapping | None = None) -> None:
    s = slot(key, state)
    if s.trainer.stopped is not None:
        s.trainer.resume()  # the user saw the warning and pressed play: rewind to finite values, go on
    s.playing = True


def pause(key: str, state: MutableMapping | None = None) -> None:
    slot(key, state).playing = False


def step_once(key: str, steps: int = 1, state: MutableMapping | None = None) -> None:
    s = slot(key, state)
    s.playing = False
    if s.trainer.stopped is not None:
        s.trainer.resume()
    s.last_metrics = s.trainer.step(steps)


def reset(key: str, state: MutableMapping | None = None) -> None:
    s = slot(key, state)
    s.playing = False
    s.trainer.reset()
    s.last_metrics = []


def stop_message(stop) -> str:
    """A translated sentence for an ``engine.training.StopReason``."""
    return t(f"training.stop.{stop.code}", step=stop.step, **stop.detail)


def controls(key: str, *, step_sizes=(1, 10)) -> None:
    """The button row: play or pause, single steps, reset, and the speed of play."""
    s = slot(key)
    columns = st.columns([1, 1, 1, 1, 2], vertical_alignment="bottom")
    if s.playing:
        columns[0].button(t("training.pause"), icon=":material/pause:", key=f"{key}_pause", on_click=pause,
                          args=(key,), width="stretch")
    else:
        columns[0].button(t("training.play"), icon=":material/play_arrow:", key=f"{key}_play", on_click=play,
                          args=(key,), type="primary", width="stretch")
    for column, n in zip(columns[1:3], step_sizes):
        column.button(t("training.step", n=n), icon=":material/skip_next:", key=f"{key}_step{n}",
                      on_click=step_once, args=(key, n), width="stretch")
    columns[3].button(t("training.reset"), icon=":material/restart_alt:", key=f"{key}_reset", on_click=reset,
                      args=(key,), width="stretch")
    s.speed = columns[4].select_slider(t("training.speed"), options=list(SPEEDS), value=s.speed,
                                       format_func=labeler("training.speeds"), key=f"{key}_speed")


def run(key: str, draw: Callable[[Any], None]) -> None:
    """Draw the trainer, and keep training it while playing (a self-rerunning fragment)."""
    s = slot(key)

    @st.fragment(run_every=INTERVAL_S if s.playing else None)
    def live_view() -> None:
        if s.playing:
            advance(s)
            if not s.playing:  # the trainer stopped itself during this tick
                st.rerun(scope="app")  # redraw the buttons as paused and stop the timer
        if s.trainer.stopped is not None:
            st.warning(stop_message(s.trainer.stopped), icon=":material/warning:")
        status = t("training.status_playing" if s.playing else "training.status_paused",
                   steps=s.trainer.step_count, rate=s.steps_per_second)
        st.caption(status)
        draw(s.trainer)

    live_view()
