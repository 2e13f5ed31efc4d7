"""Live training in the browser: play / pause / step / reset for any ``engine.training`` trainer.

A long training loop inside one script run would be cut off by every widget change, so the
loop is turned inside out (see ../shared/DESIGN.md, "Live training"):

* the trainer lives in ``st.session_state`` (one per browser session and ``key``);
* while *playing*, a fragment re-runs itself every ``INTERVAL_S`` seconds; each run ("tick",
  :func:`advance`) trains for a time budget with ``trainer.step_for``, then redraws;
* the sessions of one process take turns to train (``dashboard.shared.turns``): one trainer at a
  time, first come first served, each turn the budget or, when many sessions play, a fair share of
  it, so everyone's picture keeps moving and nobody's steps depend on the thread scheduler;
  a page may give its own speed table and interval (``trainer_for(..., speeds=, interval_s=)``):
  the share of wall time spent training is about budget / interval, so a page whose model is
  cheap to draw and needs many steps to show anything (the GAN) trains longer per tick;
* the buttons are callbacks, so pressing one never loses a step;
* a trainer that stops itself (a NaN or inf in its metrics) pauses the loop and its reason is
  shown as a translated warning; the user changes a setting and presses play again, which
  rewinds to the last finite state (``trainer.resume()``) and carries on;
* one lock per trainer: a widget change starts a new script run while the previous one may still
  be inside a tick (Streamlit's fast reruns let the old run go on until its next ``st`` call), and
  two threads stepping one torch model and its optimiser at once corrupt memory (the GAN page
  crashed the server that way: ``free(): invalid pointer`` inside ``backward``). Every tick,
  callback and draw holds the slot's lock; a page touches its trainer outside them only through
  ``trainer_for(..., live=)`` (settings that change while training) or ``with locked(key)``.

Example (the page supplies the trainer factory and the drawing function)::

    from dashboard.shared import live_training as live
    from engine.mle import MLEConfig, MLETrainer

    config = MLEConfig(family="gaussian", lr=0.05)
    trainer = live.trainer_for("mle", config, lambda: MLETrainer(config, data))
    live.run("mle", draw=lambda tr: st.plotly_chart(figure_of(tr)))   # buttons, status, picture

Settings that change while training (a learning rate) are applied under the trainer's lock::

    trainer = live.trainer_for("mle", identity, factory, live=lambda tr: tr.set_lr(lr))

Other step buttons (the GAN's "step D only") are ``StepButton`` objects: ``run(key, draw, steps=[...])``.

:func:`advance` and the callbacks touch only ``session_state``-like mappings, so they are tested
without a browser (``tests/dashboard/test_live_training.py``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import streamlit as st

from dashboard.shared import model_files
from dashboard.shared.i18n import labeler, t
from dashboard.shared.links import LINK
from dashboard.shared.live_links import SLOT_PREFIX, link_steps, train_to
from dashboard.shared.turns import TURNS, Turns

# Per tick: (time budget in seconds, most steps). Small models take thousands of steps per
# second, too fast to watch; "slow" and "normal" cap the steps so a path can be followed.
SPEEDS = {"slow": (0.15, 2), "normal": (0.15, 20), "fast": (0.15, 100_000)}
INTERVAL_S = 0.35  # seconds between ticks: leaves the browser time to draw
# Keys of the live panel (one panel per page): play / pause, then the step buttons in order. "C" and "R"
# are Streamlit's own; a key is ignored while the student types in a field.
PLAY_KEY = "P"
STEP_KEYS = ("S", "Shift+S", "Alt+S")
IDLE_PAUSE_S = 15 * 60  # playing this long without a click (a forgotten tab): pause, free the share


@dataclass
class Slot:
    """What one live trainer needs between script runs."""

    trainer: Any
    config: Any  # the config the trainer was built from; a different one means a new trainer
    playing: bool = False
    speed: str = "normal"
    steps_per_second: float = 0.0  # while playing: steps per second of wall time, turns and drawing included
    last_metrics: list = field(default_factory=list)
    speeds: dict | None = None  # this key's {speed: (budget_s, max_steps)}; None: SPEEDS
    interval_s: float | None = None  # seconds between ticks; None: INTERVAL_S
    # Held by whoever steps, changes or reads the trainer (see the module docstring). Reentrant, so a
    # draw function may call helpers that take it again.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    touched: float = field(default_factory=time.perf_counter)  # the last click on its controls (play, step, reset)
    idle: bool = False  # paused by advance() after IDLE_PAUSE_S without a click
    page: str = ""  # the URL path of the page that built it (its link carries ``?<key>_at=``)
    ticked: float | None = None  # when the last tick of this play began (None: none yet)
    turn_id: object = field(default_factory=object, repr=False, compare=False)  # this slot in ``Turns``

    def speed_table(self) -> dict:
        return SPEEDS if self.speeds is None else self.speeds


@dataclass(frozen=True)
class StepButton:
    """A step button of :func:`controls`: ``run(trainer)`` takes the steps and returns their metrics.

    ``label`` is already translated; ``name`` makes the widget key (``f"{key}_{name}"``).
    """

    name: str
    label: str
    run: Callable[[Any], list]
    icon: str = ":material/skip_next:"
    help: str | None = None


def advance(s: Slot, clock=time.perf_counter, turns: Turns = TURNS) -> None:
    """One tick while playing: wait for this session's turn, train for the speed's budget (or the fair
    share of it), measure the rate, and pause if the trainer stopped itself or nobody has clicked for
    ``IDLE_PAUSE_S``. Does nothing while paused (also when paused while waiting for the turn)."""
    with s.lock:
        if not s.playing:  # read under the lock: a pause that came in while we waited wins
            return
        if clock() - s.touched > IDLE_PAUSE_S:  # nobody has clicked for a long while: stop using the server
            s.playing, s.idle = False, True
            turns.forget(s.turn_id)
            return
        budget_s, max_steps = s.speed_table()[s.speed]
        with turns.turn(s.turn_id, wanted=lambda: s.playing) as mine:
            if not mine:
                return
            start = clock()
            s.last_metrics = s.trainer.step_for(turns.budget(budget_s), max_steps)
            elapsed = clock() - start
        since = start - s.ticked if s.ticked is not None else elapsed  # one tick to the next: the rate seen
        s.ticked = start
        s.steps_per_second = len(s.last_metrics) / since if since > 0 else 0.0
        if s.trainer.stopped is not None:
            s.playing = False
            turns.forget(s.turn_id)


def _slot_key(key: str) -> str:
    return f"{SLOT_PREFIX}{key}"


def trainer_for(key: str, config, factory: Callable[[], Any], state: MutableMapping | None = None,
                speed: str = "normal", *, speeds: dict | None = None, interval_s: float | None = None,
                live: Callable[[Any], None] | None = None):
    """The session's trainer for ``key``; rebuilt (and paused) when ``config`` changed.

    ``speed`` is where a new session's speed control starts (models that need thousands of
    steps to show anything start at "fast"); later rebuilds keep the user's choice.
    ``speeds`` ({name: (budget_s, max_steps)}) and ``interval_s`` replace ``SPEEDS`` and
    ``INTERVAL_S`` for this key. ``live(trainer)`` applies the settings that change while it
    trains (a learning rate); it runs under the trainer's lock, never beside a running tick.
    """
    in_page, state = state is None, st.session_state if state is None else state
    slot = state.get(_slot_key(key))
    first = slot is None  # the first trainer of this key in the session: a link's step count applies
    if slot is None or slot.config != config:
        slot = Slot(trainer=factory(), config=config, speed=slot.speed if slot else speed,
                    page=urlparse(st.context.url).path if in_page else "")
        state[_slot_key(key)] = slot
    slot.speeds, slot.interval_s = speeds, interval_s
    slot.touched = time.perf_counter()  # this runs when the section reruns (a widget moved), never at a tick
    if slot.speed not in slot.speed_table():
        slot.speed = speed if speed in slot.speed_table() else next(iter(slot.speed_table()))
    if live is not None:
        with slot.lock:
            live(slot.trainer)
    if first and in_page and (asked := link_steps(key, st.query_params)):
        bar = st.progress(0.0, text=t("training.from_link", steps=asked))
        with slot.lock:
            train_to(slot.trainer, asked, lambda done: bar.progress(done, text=t("training.from_link", steps=asked)))
        bar.empty()
    model_files.apply_pending(key, slot, state)  # a model file to resume from, uploaded in the live panel
    return slot.trainer


def slot(key: str, state: MutableMapping | None = None) -> Slot:
    state = st.session_state if state is None else state
    return state[_slot_key(key)]


@contextmanager
def locked(key: str, state: MutableMapping | None = None) -> Iterator[Any]:
    """``with locked(key) as trainer:`` read or change the trainer where no tick can run beside it."""
    s = slot(key, state)
    with s.lock:
        yield s.trainer


# Button callbacks: run before the script, so a click is never lost to a rerun. Pausing first (a
# plain flag) lets a tick in flight see it; the lock then waits for that tick to finish.
def play(key: str, state: MutableMapping | None = None) -> None:
    s = slot(key, state)
    with s.lock:
        if s.trainer.stopped is not None:
            s.trainer.resume()  # the user saw the warning and pressed play: rewind to finite values, go on
        s.playing, s.idle, s.touched, s.ticked = True, False, time.perf_counter(), None


def pause(key: str, state: MutableMapping | None = None) -> None:
    s = slot(key, state)
    s.playing, s.touched = False, time.perf_counter()
    TURNS.forget(s.turn_id)


def step_once(key: str, steps: int = 1, state: MutableMapping | None = None) -> None:
    step_with(key, lambda trainer: trainer.step(steps), state)


def step_with(key: str, run: Callable[[Any], list], state: MutableMapping | None = None) -> None:
    """Callback of a :class:`StepButton`: pause, recover from a stop, and take ``run(trainer)``'s steps."""
    s = slot(key, state)
    s.playing, s.touched = False, time.perf_counter()
    with s.lock:
        if s.trainer.stopped is not None:
            s.trainer.resume()
        s.last_metrics = run(s.trainer)


def reset(key: str, state: MutableMapping | None = None) -> None:
    s = slot(key, state)
    s.playing, s.touched = False, time.perf_counter()
    with s.lock:
        s.trainer.reset()
        s.last_metrics = []


def same(a: tuple, b: tuple) -> bool:
    """Two versions of a figure's inputs are the same: element by element the same object, or equal
    numbers and strings. Arrays, films and history entries are compared by identity (never with ``==``,
    which compares arrays elementwise); an object's id is never kept, as Python reuses ids."""
    return len(a) == len(b) and all(x is y or (type(x) in (int, float, str, bool) and x == y) for x, y in zip(a, b))


def held(key: str, name: str, version: tuple, build: Callable[[], Any], *, hold_s: float = 1.0,
         state: MutableMapping | None = None, clock=time.monotonic):
    """``build()``, or the cached figure: for the same ``version``, or, while playing, one built less than
    ``hold_s`` ago for the same trainer (``version[0]``; a reset or new trainer is drawn at once).
    Versions are compared with :func:`same`; ``hold_s=0`` caches for the same version only.

    Streamlit gives a chart a new element id whenever its figure changes, and the browser then draws
    it from scratch. Slow-moving figures (training curves) are therefore sent again unchanged for a
    while during play: the same figure is the same element, which costs the browser nothing.
    """
    state = st.session_state if state is None else state
    cache_key = f"live::{key}::{name}"
    cached, now = state.get(cache_key), clock()
    playing = _slot_key(key) in state and slot(key, state).playing
    if cached is not None and (same(cached[0], version) or (playing and cached[0][0] is version[0]
                                                            and now - cached[1] < hold_s)):
        return cached[2]
    figure = build()
    state[cache_key] = (version, now, figure)
    return figure


def stop_message(stop, prefix: str = "training.stop", **defaults) -> str:
    """A translated sentence for an ``engine.training.StopReason``.

    ``prefix`` picks a page's own messages (``f"{prefix}.{code}"``); ``defaults`` fill
    placeholders the stop's detail does not carry (the detail wins where both have a value).
    """
    return t(f"{prefix}.{stop.code}", **{**defaults, "step": stop.step, **stop.detail})


def step_key(i: int) -> str | None:
    """The keyboard shortcut of the i-th step button (None past the last key)."""
    return STEP_KEYS[i] if i < len(STEP_KEYS) else None


def controls(key: str, *, step_sizes=(1, 10), steps: list[StepButton] | None = None,
             files: Sequence[str] = ()) -> None:
    """The button row: play or pause, single steps, reset, the speed of play and, with ``files`` (the
    section's control keys), the model file to download or resume from (``dashboard.shared.model_files``).

    ``steps`` replaces the "step ×n" buttons (one per ``step_sizes``) with the page's own.
    """
    s = slot(key)
    n_steps = len(step_sizes) if steps is None else len(steps)
    columns = st.columns([1] * (n_steps + 2) + [2], vertical_alignment="bottom")
    if s.playing:
        columns[0].button(t("training.pause"), icon=":material/pause:", key=f"{key}_pause", on_click=pause,
                          args=(key,), width="stretch", shortcut=PLAY_KEY)
    else:
        columns[0].button(t("training.play"), icon=":material/play_arrow:", key=f"{key}_play", on_click=play,
                          args=(key,), type="primary", width="stretch", shortcut=PLAY_KEY)
    if steps is None:
        for i, (column, n) in enumerate(zip(columns[1:], step_sizes)):
            column.button(t("training.step", n=n), icon=":material/skip_next:", key=f"{key}_step{n}",
                          on_click=step_once, args=(key, n), width="stretch", shortcut=step_key(i))
    else:
        for i, (column, button) in enumerate(zip(columns[1:], steps)):
            column.button(button.label, icon=button.icon, key=f"{key}_{button.name}", help=button.help,
                          on_click=step_with, args=(key, button.run), width="stretch", shortcut=step_key(i))
    columns[-2].button(t("training.reset"), icon=":material/restart_alt:", key=f"{key}_reset", on_click=reset,
                       args=(key,), width="stretch")
    s.speed = columns[-1].select_slider(t("training.speed"), options=list(s.speed_table()), value=s.speed,
                                        format_func=labeler("training.speeds"), bind=LINK, key=f"{key}_speed")
    if files:  # under the row: a seventh column would wrap onto a line of its own at a laptop's width
        model_files.panel(key, s, files)


def run(key: str, draw: Callable[[Any], None], *, message: Callable[[Any], str] | None = None,
        step_sizes=(1, 10), steps: list[StepButton] | None = None, files: Sequence[str] = ()) -> None:
    """The live panel: the button row (:func:`controls`), the status line and ``draw(trainer)``.

    The panel is a fragment, so a button press reruns the panel alone, not the page: pause shows
    within one tick wherever the panel sits (a whole-page rerun of the diffusion chapter takes
    seconds). While playing, the picture is a fragment nested inside it that reruns itself every
    interval; pausing reruns the panel without that child, and Streamlit then cancels the child's
    timer. Within the panel, elements of a run in flight are not dimmed: a tick replaces them within
    a fraction of a second, and fading them to a third of their opacity at every tick flickers.

    ``message(stop) -> str`` words a stop for this page (default :func:`stop_message`);
    ``step_sizes``, ``steps`` and ``files`` are :func:`controls`'s.
    """
    message = stop_message if message is None else message

    def picture(s: Slot) -> None:
        with s.lock:  # the tick and the picture of it: no other run of this session steps in between
            if s.playing:
                advance(s)
                if not s.playing:  # the trainer stopped itself during this tick
                    st.rerun(scope="app")  # redraw the buttons as paused; the ticking child goes away
            if s.trainer.stopped is not None:
                st.warning(message(s.trainer.stopped), icon=":material/warning:")
            elif s.idle:
                st.info(t("training.idle_paused", minutes=IDLE_PAUSE_S // 60), icon=":material/bedtime:")
            status = t("training.status_playing" if s.playing else "training.status_paused",
                       steps=s.trainer.step_count, rate=s.steps_per_second)
            st.caption(status)
            draw(s.trainer)

    @st.fragment
    def panel() -> None:
        s = slot(key)
        controls(key, step_sizes=step_sizes, steps=steps, files=files)
        with st.container(key=f"{key}_view"):
            # Two fragments of the same shape at the same place: the picture's elements are replaced in
            # place when play or pause switches between them (no second copy while the panel reruns),
            # and the one left out is dropped, which cancels its timer.
            if s.playing:
                @st.fragment(run_every=INTERVAL_S if s.interval_s is None else s.interval_s)
                def ticking() -> None:
                    picture(slot(key))

                ticking()
            else:
                @st.fragment
                def still() -> None:
                    picture(slot(key))

                still()

    with st.container(key=f"{key}_panel"):
        # Charts redrawn at every tick are laid out and painted on their own (CSS containment), so
        # Plotly's measurements of one chart do not re-lay out the rest of a long page.
        st.html(f"<style>.st-key-{key}_panel [data-stale='true'] {{opacity: 1 !important; "
                f"transition: none !important;}} .st-key-{key}_panel .stPlotlyChart {{contain: content;}}</style>")
        panel()
