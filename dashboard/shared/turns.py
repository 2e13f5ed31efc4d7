"""Fair shares of training time for every session playing live training in this server process.

Streamlit runs each browser session as a thread of one process. When several sessions played at
once, their ticks trained side by side: the threads fought over the GIL and the cores, one process
delivered less training with 4-8 sessions than with one, and unevenly (slowest/fastest 0.43). Here
ticks take turns: a ticket lock serves them in the order they asked (first come, first served, so no
session starves), and each tick trains for its page's budget divided by the number of sessions
playing right now, so a round of turns lasts about one tick of a session alone: every session keeps
getting frames while the process trains at its one-session rate.

    share = TURNS.share(owner, budget_s)   # this tick's budget; counts the owner as playing
    with TURNS.turn():                     # wait for this session's turn
        trainer.step_for(share, max_steps)

Only the training takes a turn; drawing runs beside other sessions' turns. A session counts as
playing while it has asked for a share within the last ``ACTIVE_WINDOW_S`` seconds, so a session
that pauses, closes its tab or whose browser stops its timers drops out of the count by itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

ACTIVE_WINDOW_S = 2.0  # asked for a share this recently: still playing (ticks come every ~0.35 s)
MIN_SHARE = 0.15  # a tick trains at least this fraction of its budget (a tick has fixed costs too)


class Turns:
    """A first-come-first-served ticket lock and the count of sessions that are playing."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._abandoned: set[int] = set()
        self._seen: dict[int, float] = {}  # id of a playing session's slot -> when it last asked

    def share(self, owner: object, budget_s: float) -> float:
        """This tick's training budget: ``budget_s`` split between the sessions playing now."""
        now = self._clock()
        with self._cond:
            self._seen[id(owner)] = now
            for who, last in list(self._seen.items()):
                if now - last > ACTIVE_WINDOW_S:
                    del self._seen[who]
            playing = len(self._seen)
        return budget_s * max(MIN_SHARE, 1.0 / playing)

    def playing(self) -> int:
        with self._cond:
            now = self._clock()
            return sum(now - last <= ACTIVE_WINDOW_S for last in self._seen.values())

    def forget(self, owner: object) -> None:
        """``owner`` paused: it no longer counts (its share goes to the others at their next tick)."""
        with self._cond:
            self._seen.pop(id(owner), None)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the process's training turn; turns are served in the order they were asked for."""
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            try:
                while self._serving != ticket:
                    self._cond.wait()
            except BaseException:  # never served: do not leave the queue stuck behind this ticket
                self._abandoned.add(ticket)
                self._skip_abandoned()
                raise
        try:
            yield
        finally:
            with self._cond:
                self._serving += 1
                self._skip_abandoned()

    def _skip_abandoned(self) -> None:
        while self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1
        self._cond.notify_all()


TURNS = Turns()  # one per server process: every session's live trainers take turns on it
