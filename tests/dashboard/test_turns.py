"""Sessions playing live training in one process take turns and share the training time fairly."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from dashboard.shared import live_training as live
from dashboard.shared.turns import ACTIVE_WINDOW_S, MIN_SHARE, Turns
from engine.mle import MLEConfig, MLETrainer

DATA = np.random.default_rng(2).normal(0.0, 1.0, 200)


def test_each_playing_session_gets_an_equal_share_of_the_budget_and_leaves_the_count_when_it_stops():
    now = [0.0]
    turns = Turns(clock=lambda: now[0])
    a, b, c = object(), object(), object()
    assert turns.share(a, 0.3) == pytest.approx(0.3)
    assert turns.share(b, 0.3) == pytest.approx(0.15)
    assert turns.share(c, 0.3) == pytest.approx(0.1) and turns.playing() == 3
    turns.forget(c)  # paused
    assert turns.share(a, 0.3) == pytest.approx(0.15)
    now[0] = ACTIVE_WINDOW_S + 0.5  # b stopped ticking (its tab closed): it drops out by itself
    assert turns.share(a, 0.3) == pytest.approx(0.3) and turns.playing() == 1
    many = [object() for _ in range(40)]
    assert min(turns.share(m, 0.3) for m in many) == pytest.approx(0.3 * MIN_SHARE)  # a floor per tick


def test_turns_are_served_first_come_first_served():
    turns = Turns()
    order, started = [], []
    first = threading.Event()

    def holder():
        with turns.turn():
            first.set()
            time.sleep(0.3)  # everyone else queues behind this turn, in the order they ask

    def waiter(i):
        started.append(i)
        with turns.turn():
            order.append(i)

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    first.wait()
    for i in range(6):
        thread = threading.Thread(target=waiter, args=(i,))
        thread.start()
        threads.append(thread)
        time.sleep(0.03)  # ask one after another
    for thread in threads:
        thread.join(5)
    assert order == started == list(range(6))


def test_a_turn_given_up_while_waiting_does_not_block_the_queue():
    turns = Turns()
    release, done = threading.Event(), []

    def holder():
        with turns.turn():
            release.wait(5)

    holding = threading.Thread(target=holder)
    holding.start()
    time.sleep(0.05)
    with turns._cond:  # a waiter whose wait raised (as an interrupted script run would): its ticket is abandoned
        ticket = turns._next_ticket
        turns._next_ticket += 1
        turns._abandoned.add(ticket)
    later = threading.Thread(target=lambda: (turns.turn().__enter__(), done.append(True)))
    later.start()
    release.set()
    holding.join(5)
    later.join(5)
    assert done == [True]


def trainer_slot(state: dict, key: str):
    config = MLEConfig(optimizer="adam", lr=0.01)
    live.trainer_for(key, config, lambda: MLETrainer(config, DATA), state, speed="fast")
    live.play(key, state)
    return live.slot(key, state)


def test_four_sessions_playing_at_once_share_the_training_fairly():
    """Four threads tick their own trainers as four browser sessions would: with turns, none starves
    (the slowest gets at least 0.7 of the fastest's steps) and each tick's budget is a quarter."""
    turns = Turns()
    slots = [trainer_slot({}, f"s{i}") for i in range(4)]
    stop = time.perf_counter() + 3.0

    def play(s):
        while time.perf_counter() < stop:
            live.advance(s, turns=turns)
            time.sleep(0.02)  # the browser's interval between ticks

    threads = [threading.Thread(target=play, args=(s,)) for s in slots]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    steps = [s.trainer.step_count for s in slots]
    assert min(steps) > 0 and min(steps) / max(steps) >= 0.7, steps


def test_a_session_left_playing_without_a_click_pauses_itself_and_says_why():
    state: dict = {}
    s = trainer_slot(state, "idle")
    s.touched -= live.IDLE_PAUSE_S + 1
    before = s.trainer.step_count
    live.advance(s, turns=Turns())
    assert not s.playing and s.idle and s.trainer.step_count == before
    live.play("idle", state)
    assert s.playing and not s.idle
