"""A session left playing without a click pauses itself (a forgotten tab stops using the server)."""

from __future__ import annotations

import numpy as np

from dashboard.shared import live_training as live
from engine.mle import MLEConfig, MLETrainer

DATA = np.random.default_rng(2).normal(0.0, 1.0, 200)


def trainer_slot(state: dict, key: str):
    config = MLEConfig(optimizer="adam", lr=0.01)
    live.trainer_for(key, config, lambda: MLETrainer(config, DATA), state, speed="fast")
    live.play(key, state)
    return live.slot(key, state)


def test_a_session_left_playing_without_a_click_pauses_itself_and_says_why():
    state: dict = {}
    s = trainer_slot(state, "idle")
    s.touched -= live.IDLE_PAUSE_S + 1
    before = s.trainer.step_count
    live.advance(s)
    assert not s.playing and s.idle and s.trainer.step_count == before
    live.play("idle", state)
    assert s.playing and not s.idle
