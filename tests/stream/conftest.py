"""Shared by the stream tests: a fake clock that acts on cue."""

from __future__ import annotations

from tunesmith.stream import FakeClock


class ScriptedClock(FakeClock):
    """A fake clock that runs `actions[t]()` once when time reaches t; `step_cost`: fake
    seconds per model step (a generator slower than real time when large)."""

    def __init__(self, actions=None, step_cost=0.0):
        super().__init__(step_cost=step_cost)
        self.actions = sorted((actions or {}).items())

    def sleep(self, seconds):
        super().sleep(seconds)
        while self.actions and self.actions[0][0] <= self.t:
            self.actions.pop(0)[1]()
