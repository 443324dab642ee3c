"""Chord guidance: pitch tokens pulled toward the chord of the bar being written.

A requested progression acts at sampling time, like the key guide (and with model v2 also
as the bar's chord token, which it writes: `_harmony_bias`): each pitch token's logit gets
a bonus when its pitch class is a
tone of the chord at the current bar and position and a penalty when it is not, scaled by
the metric weight of the position (full on the downbeat, less on other beats, least off
the beat, where passing tones belong). The lowest voice (the last voice slot of a
several-voice request) is pulled further toward the chord's bass note, which is what
makes a progression audible. Bars index the progression from the first bar of the piece.

With `complete` (a progression the user asked for), in a bar with one chord, the chord's
tones not yet begun in the bar get a further bonus: the model likes open fifths and
octaves, and the analysis reads a bar of A and E alone as A major (to the ear it is
ambiguous) where A minor was asked for (benchmarks/chords.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..music.chords import Chord
from .grammar import POSITIONS_PER_BEAT, Grammar, SequenceState

# Logit offsets at strength 1 on a beat; measured by benchmarks/chords.py (weaker settings
# left a third of the bars reading as a neighbouring chord, e.g. C for Am).
IN_CHORD = 4.5  # bonus for a chord tone
OUT_OF_CHORD = 6.0  # penalty for any other pitch class
ROOT = 2.25  # extra bonus for the root: it tells the chord from its neighbours (C / Am)
BASS = 7.5  # extra bonus for the chord's bass note in the lowest voice
COMPLETE = 3.0  # with `complete`: bonus for a chord tone the bar has not sounded yet
HARMONY_FORCE = 1e4  # a requested chord is written, not suggested
METRIC_WEIGHT = {"downbeat": 1.0, "beat": 1.0, "offbeat": 0.6}


class ChordGuide:
    """Biases for one progression; `apply` adds each row's current chord's bias."""

    def __init__(
        self,
        grammar: Grammar,
        bars: Sequence[Sequence[Chord]],
        bass_slot: int | None = None,
        strength: float = 1.0,
        complete: bool = False,
    ) -> None:
        if not bars or not any(bars):
            raise ValueError("a progression needs at least one chord")
        self.g = grammar
        self.bars = [list(b) for b in bars]
        self.bass_slot = bass_slot
        self.strength = strength
        self.complete = complete
        pitch_ids = [i for i, p in grammar.pitch_of.items() if grammar.type_of[i] == "Pitch"]
        self.pitch_ids = np.array(pitch_ids, dtype=np.int64)
        self.pitch_pcs = np.array([grammar.pitch_of[i] % 12 for i in pitch_ids], dtype=np.int64)
        self._bias: dict[tuple[Chord, str, bool, frozenset], np.ndarray] = {}
        # Model v2 writes each bar's chord as a Harmony token after its TimeSig: the
        # requested chord (the bar's first) is written there, so the model plans with it.
        self.harmony = {
            grammar.tok.token(i)[len("Harmony_") :]: i
            for i in grammar.tok.ids_with_prefix("Harmony_")
        }
        self._harmony: dict[int, np.ndarray | None] = {}

    def chord_at(self, bar: int, position: int, bar_len: int) -> Chord | None:
        """The chord at 0-based `bar` and `position` (of `bar_len` positions); None in a
        bar left free (an empty bar of the progression)."""
        chords = self.bars[bar % len(self.bars)]
        if not chords:
            return None
        k = min(len(chords) - 1, max(0, position) * len(chords) // max(bar_len, 1))
        return chords[k]

    def _bias_for(
        self, chord: Chord, level: str, bass: bool, missing: frozenset = frozenset()
    ) -> np.ndarray:
        key = (chord, level, bass, missing)
        bias = self._bias.get(key)
        if bias is None:
            w = self.strength * METRIC_WEIGHT[level]
            inside = np.isin(self.pitch_pcs, chord.pitch_classes)
            values = np.where(inside, IN_CHORD * w, -OUT_OF_CHORD * w)
            values = values + np.where(self.pitch_pcs == chord.root, ROOT * w, 0.0)
            if bass:
                values = values + np.where(self.pitch_pcs == chord.bass_pitch_class, BASS * w, 0.0)
            if missing:
                unsounded = np.isin(self.pitch_pcs, sorted(missing))
                values = values + np.where(unsounded, COMPLETE * w, 0.0)
            bias = np.zeros(self.g.V, dtype=np.float32)
            bias[self.pitch_ids] = values
            self._bias[key] = bias
        return bias

    def _harmony_bias(self, bar: int) -> np.ndarray | None:
        """A bias that writes bar `bar`'s requested chord as its Harmony token."""
        chords = self.bars[bar % len(self.bars)]
        if not chords:
            return None
        chord = chords[0]
        tid = self.harmony[f"{chord.root}:{chord.quality}"]
        if tid not in self._harmony:
            bias = np.zeros(self.g.V, dtype=np.float32)
            bias[tid] = HARMONY_FORCE
            self._harmony[tid] = bias
        return self._harmony[tid]

    def apply(self, logits: np.ndarray, states: Sequence[SequenceState]) -> np.ndarray:
        """Logits [rows, V] with each row's pitch tokens biased toward its current chord."""
        rows: list[np.ndarray | None] = []
        for s in states:
            if s.last == "TimeSig" and self.harmony and s.bar >= 1:
                rows.append(self._harmony_bias(s.bar - 1))
                continue
            if s.last != "Program" or s.bar < 1:  # only a pitch comes next after Program
                rows.append(None)
                continue
            position = max(s.position, 0)
            if position == 0:
                level = "downbeat"
            elif position % POSITIONS_PER_BEAT == 0:
                level = "beat"
            else:
                level = "offbeat"
            chord = self.chord_at(s.bar - 1, position, s.bar_len)
            if chord is None:
                rows.append(None)
                continue
            # completion reads the whole bar's notes: only where one chord fills the bar
            whole_bar = len(self.bars[(s.bar - 1) % len(self.bars)]) == 1
            missing = (
                frozenset(chord.pitch_classes) - s.bar_pcs
                if self.complete and whole_bar
                else frozenset()
            )
            rows.append(self._bias_for(chord, level, s.current_program == self.bass_slot, missing))
        if all(r is None for r in rows):
            return logits
        zero = np.zeros(self.g.V, dtype=np.float32)
        return logits + np.stack([zero if r is None else r for r in rows]).astype(logits.dtype)
