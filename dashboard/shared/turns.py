"""Fair shares of one server process for the live trainers of every session: one trains at a time.

Streamlit runs each browser session as a thread of one process. When several students press Play,
their ticks (``live_training.advance``) used to train at the same time, each for a fixed stretch of
wall time: the threads then fought over the GIL, a step took longer the more sessions played, and
who got how many steps depended on the thread scheduler (measured with 4 sessions: the slowest got
0.59 of the fastest, with 8 sessions 0.32, and the process trained less in total than with one).

``Turns`` makes training a queue instead of a scramble:

* one trainer trains at a time, in the order the ticks asked (first come, first served), so a
  turn's wall time is spent on its own steps and equal turns give equal steps;
* the length of a turn adapts to how many sessions are playing: ``min(budget, CYCLE_S / n)``
  (never below ``MIN_TURN_S``), so with n sessions every one still gets a turn, and a frame, about
  every ``CYCLE_S`` (plus drawing) instead of waiting n full budgets;
* a session counts as playing while it has asked for a turn within the last ``PLAYING_WINDOW_S``;
* a session waiting in the queue gives its place up as soon as it is paused (``wanted()`` turns
  false), so a Pause is not held up by the other sessions' turns.

One ``Turns`` serves the whole process (``TURNS``, created at import, never per session); the
classroom server's workers each have their own. Nothing here knows about Streamlit, so it is tested
with plain threads (``tests/dashboard/test_turns.py``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

CYCLE_S = 0.6  # with n sessions playing, each trains about CYCLE_S / n per turn
MIN_TURN_S = 0.04  # a turn never shrinks below this (fixed costs per tick would dominate)
PLAYING_WINDOW_S = 2.0  # a session that asked for a turn this recently counts as playing
POLL_S = 0.05  # how often a waiting session checks whether it still wants its turn


class Turns:
    def __init__(self, cycle_s: float = CYCLE_S, min_turn_s: float = MIN_TURN_S,
                 window_s: float = PLAYING_WINDOW_S, clock: Callable[[], float] = time.monotonic):
        self.cycle_s, self.min_turn_s, self.window_s, self._clock = cycle_s, min_turn_s, window_s, clock
        self._changed = threading.Condition()
        self._queue: deque[object] = deque()  # tickets, first come first served
        self._seen: dict[object, float] = {}  # who -> when it last asked for a turn

    def playing(self) -> int:
        """Sessions that asked for a turn within the last ``window_s`` seconds (at least 1)."""
        with self._changed:
            now = self._clock()
            for who in [w for w, at in self._seen.items() if now - at > self.window_s]:
                del self._seen[who]
            return max(1, len(self._seen))

    def budget(self, budget_s: float) -> float:
        """This turn's length for a trainer that wants ``budget_s`` when alone."""
        return min(budget_s, max(self.min_turn_s, self.cycle_s / self.playing()))

    @contextmanager
    def turn(self, who: object, wanted: Callable[[], bool] = lambda: True) -> Iterator[bool]:
        """``with turns.turn(slot, lambda: slot.playing) as mine:`` train only ``if mine``.

        Waits until every earlier ticket has had its turn. ``mine`` is False if ``wanted()`` turned
        false while waiting (the session was paused): its place in the queue is then given up.
        """
        ticket = object()
        with self._changed:
            self._seen[who] = self._clock()
            self._queue.append(ticket)
            while self._queue[0] is not ticket and wanted():
                self._changed.wait(POLL_S)
            mine = self._queue[0] is ticket
            if not mine:
                self._queue.remove(ticket)
                self._changed.notify_all()
        try:
            yield mine
        finally:
            if mine:
                with self._changed:
                    self._queue.popleft()
                    self._changed.notify_all()

    def forget(self, who: object) -> None:
        """``who`` stopped playing: it no longer counts toward the shares."""
        with self._changed:
            self._seen.pop(who, None)


TURNS = Turns()
