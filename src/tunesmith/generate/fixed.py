"""Fixed parts: notes of some voices that must come out exactly as given.

Harmonizing a melody, adding a part to a piece, or rewriting one part of it all decode
the piece from its start with the kept voices' notes fed in where they belong: at each
position, a kept note's Program, Pitch and Duration tokens are forced, and the model
decides everything else (the other voices' notes, and when to move on). The rules, on top
of the grammar (REMI only):

- the piece may not move past a position, a bar or the end while a kept note before it
  is still to come, so every kept note is met at its own bar and position;
- within a position, voices come in slot order, as in training: before a kept note of
  slot s only free voices of lower slots may play, then the kept note is forced;
- free voices never take a kept slot.

The model sees the kept voices up to the current position (it decodes left to right), so
the kept voices lead and the free voices follow them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .grammar import Grammar, SequenceState

PITCH_KINDS = ("Pitch", "PitchDrum")  # a drum hit's pitch is a PitchDrum token


@dataclass(frozen=True)
class FixedNote:
    bar: int  # 1-based, as SequenceState.bar counts the bars started
    position: int
    slot: int
    pitch_id: int
    duration_id: int


class FixedParts:
    """The kept notes of one request and, per row, how many have been written."""

    def __init__(self, grammar: Grammar, notes: Iterable[FixedNote], rows: int = 1) -> None:
        if not grammar.remi:
            raise ValueError("fixed parts need a REMI tokenization")
        self.g = grammar
        self.notes = sorted(notes, key=lambda n: (n.bar, n.position, n.slot))
        self.slots = {n.slot for n in self.notes}
        self.next = [0] * rows

    @classmethod
    def from_tokens(
        cls,
        grammar: Grammar,
        ids: Sequence[int],
        slots: Iterable[int] | None = None,
        slot_map: dict[int, int] | None = None,
        rows: int = 1,
    ) -> FixedParts:
        """The notes of `slots` (all when None) in a REMI token sequence, each moved to
        slot `slot_map[slot]` when a map is given."""
        keep = set(slots) if slots is not None else None
        g = grammar
        notes = []
        bar, position, program, pitch = 0, 0, None, None
        for t in ids:
            kind = g.type_of[t]
            if kind == "Bar":
                bar, position = bar + 1, 0
            elif kind == "Position":
                position = int(g.value_of[t])
            elif kind == "Program":
                program = int(g.value_of[t])
            elif kind in PITCH_KINDS:
                pitch = t
            elif kind == "Duration" and pitch is not None and program is not None:
                if keep is None or program in keep:
                    slot = slot_map.get(program, program) if slot_map else program
                    notes.append(FixedNote(bar, position, slot, pitch, t))
                pitch = None
        return cls(grammar, notes, rows)

    @property
    def bars(self) -> int:
        return max((n.bar for n in self.notes), default=0)

    def pending(self, row: int) -> FixedNote | None:
        i = self.next[row]
        return self.notes[i] if i < len(self.notes) else None

    def select_rows(self, index: list[int]) -> None:
        self.next = [self.next[i] for i in index]

    def observe(self, row: int, state: SequenceState, token: int) -> None:
        """Account for `token` appended to `row` (`state`: the grammar before it)."""
        if state.last in PITCH_KINDS and state.current_program in self.slots:
            note = self.pending(row)
            if note is not None and self.g.type_of[token] == "Duration":
                self.next[row] += 1

    def rule(self, row: int, state: SequenceState) -> tuple | None:
        """A hashable description of what the kept notes allow next (None: anything the
        grammar allows); equal rules give equal masks, so masks are built once."""
        nxt, last = self.pending(row), state.last
        kept_voice = state.current_program in self.slots
        if nxt is not None and kept_voice and last == "Program":
            return ("pitch", nxt.pitch_id)
        if nxt is not None and kept_voice and last in PITCH_KINDS:
            return ("duration", nxt.duration_id)
        here = nxt is not None and nxt.bar == state.bar and nxt.position == state.position
        if last == "Position" or (last == "Duration" and here):
            return ("programs", nxt.slot if here and nxt is not None else None)
        if last == "TimeSig" and "Harmony" in self.g.masks:
            return None  # the bar's chord comes first (model v2)
        if last not in ("TimeSig", "Harmony", "Duration", "Rest"):
            return None
        if nxt is None:
            return ("free", last == "Duration")
        if nxt.bar == state.bar:
            return ("until", last == "Duration", state.position, nxt.position)
        return ("bar", last == "Duration")

    def mask(self, rule: tuple) -> np.ndarray:
        """The ids a rule allows."""
        g, kind = self.g, rule[0]
        if kind in ("pitch", "duration"):
            return g.id_mask([rule[1]])
        free = [s for s in g.program_id if s not in self.slots]
        if kind == "programs":
            slot = rule[1]
            programs = free if slot is None else [s for s in free if s < slot] + [slot]
            return g.id_mask([g.program_id[s] for s in programs])
        m = g.empty.copy()
        if rule[1] and free:  # after a Duration: another free voice at this position
            m |= g.id_mask([g.program_id[s] for s in free])
        if kind == "free":
            return m | ~g.masks["Program"]  # any structure; free voices only
        if kind == "until":  # the next kept note is later in this bar: go no further
            later = range(rule[2] + 1, rule[3] + 1)
            return m | g.id_mask([g.position_id[p] for p in later if p in g.position_id])
        m |= g.masks["Position"]  # the next kept note is in a later bar: this bar may end
        m[g.bar_id] = True
        return m
