"""Clocks for the player: the real one, and a fake one that tests advance by hand."""

from __future__ import annotations

import time


class RealClock:
    """Monotonic wall-clock seconds."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """Time that moves only when slept on: deterministic tests of timing and order."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
