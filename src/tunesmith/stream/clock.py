"""Clocks for the player: the real one, and a fake one that tests advance by hand.

A clock also says how the stream runs on it: on the real clock the model decodes in a
thread of its own while the scheduler keeps time (`threaded`); on a fake clock both run in
one deterministic loop, and each model step costs `step_cost` fake seconds, during which
the session lets its scheduler act as that thread would (session.py `_spend`), so tests
can play a generator slower than real time.
"""

from __future__ import annotations

import time


class RealClock:
    """Monotonic wall-clock seconds."""

    threaded = True

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """Time that moves only when slept on: deterministic tests of timing and order."""

    threaded = False

    def __init__(self, start: float = 0.0, step_cost: float = 0.0) -> None:
        self.t = start
        self.step_cost = step_cost  # seconds each model step takes on this clock

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
