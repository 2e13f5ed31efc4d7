"""Turns: one live trainer trains at a time, first come first served, with a share that adapts."""

from __future__ import annotations

import threading
import time

import numpy as np

from dashboard.shared import live_training as live
from dashboard.shared.turns import Turns
from engine.mle import MLEConfig, MLETrainer


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_turn_shrinks_with_the_sessions_playing_and_grows_back_when_they_stop():
    clock = Clock()
    turns = Turns(cycle_s=0.6, min_turn_s=0.04, window_s=2.0, clock=clock)
    assert turns.budget(0.25) == 0.25  # alone: the whole budget
    for who in range(4):
        with turns.turn(who):
            pass
    assert turns.playing() == 4 and turns.budget(0.25) == 0.15  # 0.6 / 4
    for who in range(4, 30):
        with turns.turn(who):
            pass
    assert turns.budget(0.25) == 0.04  # never below the floor
    turns.forget(0)
    assert turns.playing() == 29
    clock.now = 2.5  # nobody asked for 2.5 s: nobody counts as playing
    assert turns.playing() == 1 and turns.budget(0.25) == 0.25


def test_one_trainer_at_a_time_and_every_session_gets_its_turn_in_rotation():
    turns = Turns()
    inside, most_inside, order = [0], [0], []
    guard = threading.Lock()
    stop = time.monotonic() + 1.0

    def session(i: int) -> None:
        while time.monotonic() < stop:
            with turns.turn(i) as mine:
                assert mine
                with guard:
                    inside[0] += 1
                    most_inside[0] = max(most_inside[0], inside[0])
                time.sleep(0.002)  # the training (releases the GIL, as torch does)
                with guard:
                    inside[0] -= 1
                order.append(i)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most_inside[0] == 1  # never two at once
    steady = order[8:-8]  # once all four are queued (not while threads start or leave)
    assert len(steady) > 40
    assert all(len(set(steady[k:k + 4])) == 4 for k in range(len(steady) - 3)), order  # a strict rotation


def test_a_session_paused_while_waiting_gives_its_place_up_at_once():
    turns = Turns()
    playing = threading.Event()
    playing.set()
    holder_in, release, got = threading.Event(), threading.Event(), []

    def holder() -> None:
        with turns.turn("a"):
            holder_in.set()
            release.wait(5)

    def waiter() -> None:
        start = time.monotonic()
        with turns.turn("b", wanted=playing.is_set) as mine:
            got.append((mine, time.monotonic() - start))

    first = threading.Thread(target=holder)
    first.start()
    holder_in.wait(5)
    second = threading.Thread(target=waiter)
    second.start()
    time.sleep(0.1)
    playing.clear()  # the student presses Pause while another session trains
    second.join(2)
    release.set()
    first.join(5)
    assert got and got[0][0] is False and got[0][1] < 0.5  # gave up without waiting for the other turn
    with turns.turn("c") as mine:  # and the queue still works
        assert mine


def test_live_ticks_of_several_sessions_share_the_process_fairly():
    """Four sessions' trainers ticking from four threads get about the same number of steps."""
    data = np.random.default_rng(0).normal(0.0, 1.0, 200)
    config = MLEConfig(optimizer="adam", lr=0.01)
    turns = Turns(cycle_s=0.08, min_turn_s=0.02)  # 20 ms turns: about 18 turns each in 1.5 s
    slots = []
    for _ in range(4):
        state: dict = {}
        live.trainer_for("mle", config, lambda: MLETrainer(config, data), state, speed="fast")
        live.play("mle", state)
        slots.append(live.slot("mle", state))
    stop = time.monotonic() + 1.5

    def session(s) -> None:
        while time.monotonic() < stop:
            live.advance(s, turns=turns)

    threads = [threading.Thread(target=session, args=(s,)) for s in slots]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    steps = [s.trainer.step_count for s in slots]
    assert min(steps) > 0 and min(steps) / max(steps) >= 0.7, steps
