"""Voice-leading guidance for part writing: keep free voices in order, in range and out of
parallel fifths and octaves while they are written.

Harmonizing a melody (parts.harmonize) writes the lower voices one pitch at a time, and
the model, trained mostly on a REMI stream of whole textures, crosses and doubles them
freely: benchmarks/harmonize.py counted 1.9 faults per bar against Bach's 0.3, most of
them crossings and parallels. Within a position the voices come in slot order (the melody
first, the bass last), so when a free voice's pitch is chosen the voices above it at this
onset are already written. The guide penalises, in the logits of that pitch:

- a crossing: above the latest pitch of a higher voice, or below that of a lower one;
- spacing (four voices): more than an octave from the adjacent upper voice (S-A, A-T);
- range (four voices): outside the voice's textbook range (music/voice_leading.SATB_RANGES);
- parallels: the same perfect fifth or octave (unison) with a voice that moved at this
  onset, reached by similar motion, as music/voice_leading counts them.

It reads each row's tokens (no state of its own), so forks, rewinds and windows need
nothing from it. Penalties are logit offsets at strength 1: a fault stays possible when
the model is sure of it, as in Bach.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..music.voice_leading import SATB_RANGES
from .grammar import Grammar, SequenceState

CROSSING = 4.0
SPACING = 2.0
RANGE = 3.0
PARALLEL = 4.0
REGISTER_SPAN = 12  # semitones a placed voice may stray from its part's centre unpenalised
LOOK_BACK = 600  # tokens scanned back for each voice's latest notes


class VoiceGuide:
    """Penalties for the pitch of a free voice, from the voices around it."""

    def __init__(
        self,
        grammar: Grammar,
        slots: Sequence[int],
        free: Sequence[int],
        strength: float = 1.0,
        ordered: bool = True,
        satb: bool = True,
        centres: dict[int, float] | None = None,
    ) -> None:
        """`slots`: the pitched voice slots, top voice first when `ordered` (else only
        parallels are guarded: the voices' registers are not known); `free`: those the
        model writes (the guide never touches a kept voice's forced pitch); `satb`: four
        ordered voices are a chorale's (spacing and SATB ranges guarded too); `centres`:
        where a free voice's part belongs (slot -> pitch), so it keeps within an octave of it
        (a cello added under a tune stays in a cello's register)."""
        self.g = grammar
        self.slots = list(slots)
        self.order = {s: i for i, s in enumerate(self.slots)}
        self.free = set(free)
        self.strength = strength
        self.ordered = ordered
        self.four_part = ordered and satb and len(self.slots) == 4
        self.centres = dict(centres or {})
        ids = [i for i, p in grammar.pitch_of.items() if grammar.type_of[i] == "Pitch"]
        self.pitch_ids = np.array(ids, dtype=np.int64)
        self.pitches = np.array([grammar.pitch_of[i] for i in ids])
        self.kind = grammar.type_of
        self.slot_of = {i: int(grammar.value_of[i]) for i in grammar.program_id.values()}

    def _recent(self, row: Sequence[int]) -> dict[int, tuple[list[int], bool]]:
        """slot -> (its latest pitches, newest first, at most two; whether the newest
        sounds from the current onset), scanning `row` back from its end."""
        out: dict[int, tuple[list[int], bool]] = {}
        pending: int | None = None  # a pitch seen (backwards) before its Program
        same_onset = True
        for t in reversed(row[-LOOK_BACK:]):
            kind = self.kind[t]
            if kind == "Pitch":
                pending = self.g.pitch_of[t]
            elif kind == "Program":
                slot = self.slot_of[t]
                if pending is not None and slot in self.order:
                    pitches, now = out.get(slot, ([], same_onset))
                    if len(pitches) < 2:
                        out[slot] = ([*pitches, pending], now if pitches else same_onset)
                pending = None
            elif kind in ("Position", "Bar"):
                same_onset = False
            if len(out) == len(self.slots) and all(len(p) == 2 for p, _ in out.values()):
                break
        return out

    def penalty(self, row: Sequence[int], slot: int) -> np.ndarray:
        """The penalty (>= 0) of each pitch token (in `pitch_ids` order) for `slot`'s next
        pitch, given the row's tokens so far."""
        recent = self._recent(row)
        p = self.pitches
        pen = np.zeros(len(p))
        k = self.order[slot]
        own = recent.get(slot, ([], False))[0]
        before = own[0] if own else None  # this voice's previous pitch
        for other, (pitches, moved_now) in recent.items():
            if other == slot:
                continue
            j = self.order[other]
            q = pitches[0]
            if self.ordered:
                pen += CROSSING * ((p > q) if j < k else (p < q))
            if self.four_part and j == k - 1 and k <= 2:  # S-A and A-T spacing
                pen += SPACING * (q - p > 12)
            if moved_now and before is not None and len(pitches) == 2:
                q_before = pitches[1]
                was = (q_before - before) % 12
                if was in (0, 7):
                    similar = np.sign(p - before) == np.sign(q - q_before)
                    pen += PARALLEL * (((q - p) % 12 == was) & similar & (p != before))
        if self.four_part:
            low, high = SATB_RANGES[k]
            pen += RANGE * ((p < low) | (p > high))
        elif slot in self.centres:
            pen += RANGE * (np.abs(p - self.centres[slot]) > REGISTER_SPAN)
        return pen * self.strength

    def apply(
        self, logits: np.ndarray, states: Sequence[SequenceState], rows: Sequence[Sequence[int]]
    ) -> np.ndarray:
        """Logits [rows, V] with the free voices' pitch choices penalised (see above)."""
        out = logits
        for b, s in enumerate(states):
            if s.last != "Program" or s.done or s.current_program not in self.free:
                continue
            pen = self.penalty(rows[b], s.current_program)
            if not pen.any():
                continue
            if out is logits:
                out = logits.copy()
            out[b, self.pitch_ids] -= pen.astype(out.dtype)
        return out
