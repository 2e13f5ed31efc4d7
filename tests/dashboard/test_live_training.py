"""The live-training component without a browser: its state machine, tick and stop handling.

AppTest does not tick ``run_every`` fragments (the browser drives them), so the pieces the
fragment calls are tested directly against a plain dict standing in for ``st.session_state``.
"""

import math

import numpy as np
import pytest

from dashboard.shared import live_training as live
from dashboard.shared.i18n import translate
from engine.mle import MLEConfig, MLETrainer
from engine.training import StopReason

DATA = np.random.default_rng(1).normal(0.5, 1.2, 300)


ADAM = MLEConfig(optimizer="adam", lr=0.05)


def make(state: dict, config: MLEConfig = ADAM):
    return live.trainer_for("mle", config, lambda: MLETrainer(config, DATA), state)


def test_trainer_is_kept_per_key_and_rebuilt_when_its_config_changes():
    state: dict = {}
    first = make(state)
    assert make(state) is first  # same config: same trainer, training progress kept
    other = make(state, MLEConfig(optimizer="sgd", lr=0.1))
    assert other is not first and live.slot("mle", state).trainer is other
    assert not live.slot("mle", state).playing  # a new trainer starts paused


def test_buttons_play_pause_step_and_reset():
    state: dict = {}
    trainer = make(state)
    live.step_once("mle", 10, state)
    assert trainer.step_count == 10 and len(live.slot("mle", state).last_metrics) == 10
    live.play("mle", state)
    assert live.slot("mle", state).playing
    live.pause("mle", state)
    assert not live.slot("mle", state).playing
    live.reset("mle", state)
    assert trainer.step_count == 0 and trainer.history == []


def test_advance_trains_for_the_speed_budget_only_while_playing():
    state: dict = {}
    trainer = make(state)
    s = live.slot("mle", state)
    live.advance(s)
    assert trainer.step_count == 0  # paused: a tick does nothing
    live.play("mle", state)
    s.speed = "slow"
    live.advance(s)
    assert trainer.step_count == live.SPEEDS["slow"][1]  # slow: a few steps a tick, to watch the path
    assert s.steps_per_second > 0 and s.playing
    s.speed = "fast"
    live.advance(s)
    assert trainer.step_count > 10 * live.SPEEDS["slow"][1]  # fast: as many as the time budget allows


def test_a_diverging_run_pauses_with_a_translated_reason_and_play_recovers():
    state: dict = {}
    trainer = make(state, MLEConfig(optimizer="sgd", lr=100.0))
    live.play("mle", state)
    s = live.slot("mle", state)
    for _ in range(20):
        live.advance(s)
        if not s.playing:
            break
    assert not s.playing and trainer.stopped is not None and trainer.stopped.code == "non_finite"
    for lang in ("en", "ko"):
        message = translate(lang, f"training.stop.{trainer.stopped.code}", step=trainer.stopped.step,
                            **trainer.stopped.detail)
        assert "100" in message and str(trainer.stopped.step) in message
    # The student lowers the learning rate and presses play: training resumes from finite values.
    trainer.set_lr(0.05)
    live.play("mle", state)
    assert trainer.stopped is None and s.playing
    live.advance(s)
    assert trainer.stopped is None and math.isfinite(trainer.history[-1]["loss"])


def test_stepping_after_a_stop_also_recovers():
    state: dict = {}
    trainer = make(state, MLEConfig(optimizer="sgd", lr=100.0))
    live.step_once("mle", 200, state)
    assert trainer.stopped is not None
    trainer.set_lr(0.01)
    live.step_once("mle", 5, state)
    assert trainer.stopped is None and len(live.slot("mle", state).last_metrics) == 5


@pytest.mark.parametrize("code", ["non_finite"])
def test_every_stop_code_has_a_message_in_both_languages(code):
    detail = {"metric": "loss", "value": "nan", "lr": 3.0, "optimizer": "sgd", "family": "gaussian"}
    for lang in ("en", "ko"):
        assert "nan" in translate(lang, f"training.stop.{code}", step=7, **detail)


def test_a_key_can_have_its_own_speed_table_and_interval():
    state: dict = {}
    speeds = {"crawl": (0.05, 3), "run": (0.2, 100_000)}
    trainer = live.trainer_for("own", ADAM, lambda: MLETrainer(ADAM, DATA), state, speed="crawl", speeds=speeds,
                               interval_s=0.5)
    s = live.slot("own", state)
    assert s.speed == "crawl" and s.speed_table() is speeds and s.interval_s == 0.5
    live.play("own", state)
    live.advance(s)
    assert trainer.step_count == 3  # the key's own "crawl": at most 3 steps a tick
    assert live.slot("mle", {"live::mle": live.Slot(trainer, ADAM)}).speed_table() is live.SPEEDS  # others unchanged
    # A speed the table lacks (a slot built before the table was given) falls back to the default.
    other = {"live::old": live.Slot(MLETrainer(ADAM, DATA), ADAM, speed="normal")}
    live.trainer_for("old", ADAM, lambda: None, other, speed="run", speeds=speeds)
    assert other["live::old"].speed == "run"


def test_step_buttons_run_their_own_steps_and_recover_from_a_stop():
    state: dict = {}
    trainer = make(state, MLEConfig(optimizer="sgd", lr=100.0))
    live.step_once("mle", 200, state)
    assert trainer.stopped is not None
    trainer.set_lr(0.01)
    button = live.StepButton("three", "three steps", lambda tr: tr.step(3))
    live.play("mle", state)
    live.step_with("mle", button.run, state)
    s = live.slot("mle", state)
    assert not s.playing and trainer.stopped is None and len(s.last_metrics) == 3


def test_stop_message_takes_a_page_prefix_and_defaults():
    stop = StopReason("non_finite", 12, {"metric": "d_loss", "value": "nan", "loss": "hinge", "g_lr": 0.5,
                                         "d_lr": 0.1, "g_optimizer": "sgd", "d_optimizer": "adam"})
    names = {"loss_name": "Hinge", "g_opt_name": "SGD", "d_opt_name": "Adam"}
    message = live.stop_message(stop, "gan_live.stop", **names, g_lr=9.0)  # the stop's own detail wins
    assert "12" in message and "Hinge" in message and "0.5" in message and "9" not in message.replace("12", "")


def test_two_runs_of_one_session_never_step_one_trainer_at_once():
    """The server-killing race (a widget change's new run beside a tick still training), played out on
    a live GAN by two ticking threads and one editing thread for 4 s under faulthandler, in a child
    process so a crash is reported with every thread's stack. Without the locks it died in seconds."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    driver = Path(__file__).with_name("live_race.py")
    done = subprocess.run([sys.executable, "-X", "faulthandler", str(driver), "--seconds", "4"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:] + done.stdout[-2000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["errors"] == [] and counts["ticks"] >= 4 and counts["edits"] >= 2 and counts["steps"] > 100


def test_a_tick_waits_for_a_settings_change_in_flight():
    """While one run holds the trainer (applying settings), a tick from another run does not step it."""
    import threading

    state: dict = {}
    trainer = make(state)
    s = live.slot("mle", state)
    live.play("mle", state)
    ticked = threading.Event()
    with live.locked("mle", state):
        thread = threading.Thread(target=lambda: (live.advance(s), ticked.set()))
        thread.start()
        assert not ticked.wait(0.3)  # blocked on the lock
        assert trainer.step_count == 0
    thread.join(5)
    assert ticked.is_set() and trainer.step_count > 0


def test_live_settings_are_applied_under_the_lock():
    state: dict = {}
    seen = []
    make(state)
    s = live.slot("mle", state)
    live.trainer_for("mle", ADAM, lambda: None, state, live=lambda tr: seen.append(s.lock._is_owned()))
    assert seen == [True]


def test_a_held_figure_is_kept_while_playing_but_never_for_another_trainer():
    state: dict = {}
    trainer = make(state)
    live.play("mle", state)
    now = [0.0]
    built = []

    def figure(version):
        return live.held("mle", "curves", version, lambda: built.append(version) or len(built), hold_s=1.0,
                         state=state, clock=lambda: now[0])

    assert figure((trainer, 1)) == 1
    now[0] = 0.5
    assert figure((trainer, 2)) == 1  # same trainer, within the hold: the same figure (same element)
    other = live.trainer_for("mle", MLEConfig(optimizer="sgd", lr=0.1), lambda: MLETrainer(ADAM, DATA), state)
    live.play("mle", state)
    assert figure((other, 2)) == 2  # a new trainer is drawn at once
    now[0] = 2.0
    assert figure((other, 3)) == 3  # the hold ran out
    live.pause("mle", state)
    assert figure((other, 4)) == 4 and figure((other, 4)) == 4  # paused: rebuilt when the version moves, only then


def test_held_versions_compare_arrays_by_identity_never_elementwise():
    """A figure of the samples is cached on the samples array itself: the same array is the same figure,
    an equal copy is new data (``==`` on arrays would compare them elementwise and raise)."""
    state: dict = {}
    trainer = make(state)
    samples = np.zeros((4, 2))
    built = []

    def figure(version):
        return live.held("mle", "samples", version, lambda: built.append(version) or len(built), hold_s=0,
                         state=state)

    assert figure((trainer, samples, "en")) == 1
    assert figure((trainer, samples, "en")) == 1
    assert figure((trainer, samples.copy(), "en")) == 2
    assert figure((trainer, samples.copy(), "ko")) == 3
    assert live.same((1, "a", 0.5), (1, "a", 0.5)) and not live.same((1,), (1, 2))
