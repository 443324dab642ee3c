"""Key guidance: steer pitch choices toward the requested key, harder only while drifting.

By default the key is judged by the whole panel of key-finding profiles of music/keys.py
(Krumhansl-Kessler, Aarden-Essen, Temperley-Kostka-Payne, Bellman-Budge), not by one: with
Krumhansl-Kessler alone (`panel=False, panel_base=False`, the guide before model v2.1)
that profile matched 98 % of requests but the panel's majority only 77 %, since the guide
shaped the histogram to one profile's taste (benchmarks/key_panel.py). The description
below is of one profile; with the panel, `profile` is the mean of the four profiles' log
weights and the correction acts while two or more of them name another key, on the mean
of their differences.

The model sees the Key control token but follows it loosely: it tends to drift to the
relative or parallel major, and rare keys fare worst. The guide biases the logits of pitch
tokens in two parts, per batch row:

- a gentle, constant part, `strength * log(profile / mean(profile))`, where `profile` is
  the Krumhansl-Kessler profile of the requested key (the one the key estimator correlates
  with): each pitch's probability is multiplied by its profile weight to the power
  `strength`, favouring tonic, fifth and third over out-of-key notes;
- a corrective part that acts only while the piece is heard in another key. After every
  note, the running duration-weighted pitch-class histogram is correlated with the 24 key
  profiles; while the best match is some other key, a gain grows by `step` (up to
  `max_gain`) on the difference between the requested key's profile and that rival's.
  That difference favours exactly the notes that tell the two keys apart (for A minor vs
  C major: A, E and the leading tone G#; against them C, F), so it fixes the tonal centre
  without squeezing the melody onto the tonic. When the piece is back in its key the gain
  decays again by `release` per note (a slower release holds the key harder but flattens
  the melodies more; benchmarks/key_accuracy.py measures both).

benchmarks/key_accuracy.py measures accuracy and what the guide does to H1/H4/pitch range.
"""

from __future__ import annotations

import numpy as np

from ..music.keys import (
    AARDEN_MAJOR,
    AARDEN_MINOR,
    BB_MAJOR,
    BB_MINOR,
    KK_MAJOR,
    KK_MINOR,
    PANEL,
    PROFILES,
    TKP_MAJOR,
    TKP_MINOR,
    key_pitch_class,
    profile_correlations,
)
from .grammar import Grammar

PITCH_TYPES = ("Pitch", "NoteOn")


class KeyGuide:
    def __init__(
        self,
        grammar: Grammar,
        key: str,
        rows: int,
        strength: float,
        step: float = 1.5,
        max_gain: float = 5.0,
        min_notes: int = 3,
        release: float = 1.0,
        panel: bool = True,
        panel_base: bool = True,
    ) -> None:
        tonic, mode = key_pitch_class(key)
        self.target = tonic + (12 if mode == "minor" else 0)  # key_correlations' index
        # The judges: Krumhansl-Kessler alone, or the whole panel of music/keys.py, which
        # must name the key 3 times of 4 (with KK alone, once).
        self.judges = list(PANEL.values()) if panel else [PROFILES]
        self.dissent = 2 if panel else 1  # this many judges naming another key: correct
        if panel_base:  # the constant part: the mean of the panel's log profiles of the key
            raw = [_raw(name, mode) for name in PANEL]
            logs = [np.log(np.roll(r, tonic) / r.mean()) for r in raw]
            self.base = strength * np.mean(logs, axis=0)
        else:
            profile = np.roll(KK_MAJOR if mode == "major" else KK_MINOR, tonic)
            self.base = strength * np.log(profile / profile.mean())
        self.g = grammar
        self.step, self.max_gain, self.min_notes = step, max_gain, min_notes
        self.release = release  # how fast the correction lets go once back in key
        # Column 12 is a zero for tokens that are not pitches.
        pc_index = np.full(grammar.V, 12, dtype=np.int64)
        self.pc_of: dict[int, int] = {}
        for i, p in grammar.pitch_of.items():
            if grammar.type_of[i] in PITCH_TYPES:
                self.pc_of[i] = p % 12
                pc_index[i] = p % 12
        self.pc_index = pc_index
        self.gain = np.zeros(rows)
        self.contrast = np.zeros((rows, 12))
        self.hist = np.zeros((rows, 12))
        self.notes = np.zeros(rows, dtype=np.int64)
        self.pending: list[int | None] = [None] * rows  # REMI: pitch awaiting its Duration
        self.duration_beats = {
            i: _beats(grammar.value_of[i])
            for i in range(grammar.V)
            if grammar.type_of[i] == "Duration"
        }
        self._bias: np.ndarray | None = None

    def apply(self, logits: np.ndarray) -> np.ndarray:
        """Logits [rows, V] with each row's pitch tokens biased toward the key."""
        if self._bias is None:
            per_pc = self.base[None, :] + self.gain[:, None] * self.contrast
            per_pc = np.concatenate([per_pc, np.zeros((len(per_pc), 1))], axis=1)
            self._bias = per_pc.astype(logits.dtype)[:, self.pc_index]
        return logits + self._bias

    def observe(self, row: int, token: int) -> None:
        """Account for a token appended to `row` (call for every token, in order)."""
        pc = self.pc_of.get(token)
        if pc is not None:
            if self.g.remi:
                self.pending[row] = pc
                return
            self._add(row, pc, 1.0)
        else:
            pending = self.pending[row]
            if pending is not None and token in self.duration_beats:
                self._add(row, pending, self.duration_beats[token])
                self.pending[row] = None

    def select_rows(self, index: list[int]) -> None:
        """Keep rows `index` in that order (a repeated index forks a row)."""
        self.gain = self.gain[index]
        self.contrast = self.contrast[index]
        self.hist = self.hist[index]
        self.notes = self.notes[index]
        self.pending = [self.pending[i] for i in index]
        self._bias = None

    def _add(self, row: int, pc: int, weight: float) -> None:
        self.hist[row, pc] += weight
        self.notes[row] += 1
        if self.notes[row] < self.min_notes or not self.step:
            return
        # Each judge's best key; the corrective part acts on the mean difference between
        # the requested key's profile and each dissenting judge's choice.
        rivals = []
        for profiles in self.judges:
            best = int(np.argmax(profile_correlations(self.hist[row], profiles)))
            if best != self.target:
                rivals.append(profiles[self.target] - profiles[best])
        if len(rivals) >= self.dissent:
            self.contrast[row] = np.mean(rivals, axis=0)
            self.gain[row] = min(self.max_gain, self.gain[row] + self.step)
        else:
            self.gain[row] = max(0.0, self.gain[row] - self.release)
        self._bias = None


_RAW = {
    "Krumhansl-Kessler": (KK_MAJOR, KK_MINOR),
    "Aarden-Essen": (AARDEN_MAJOR, AARDEN_MINOR),
    "Temperley-Kostka-Payne": (TKP_MAJOR, TKP_MINOR),
    "Bellman-Budge": (BB_MAJOR, BB_MINOR),
}


def _raw(name: str, mode: str) -> np.ndarray:
    """A panel profile's raw weights (tonic first) for a mode."""
    return _RAW[name][0 if mode == "major" else 1]


def _beats(value: str) -> float:
    """'1.2.8' -> 1 + 2/8 beats (MidiTok's duration notation)."""
    a, b, res = (int(x) for x in value.split("."))
    return a + b / res
