"""Grammar-constrained decoding: at each step, only tokens that keep the sequence valid.

One `Grammar` object per tokenization precomputes id sets per token type; one
`SequenceState` per sequence tracks where the piece is (bar, position, open notes) and
answers "which ids may come next". The rules enforce what the user asked for:
- structure: the tokenization's own order (Bar, TimeSig, [Harmony, model v2], Position,
  Program, Pitch, Duration for REMI; NoteOn/NoteOff/TimeShift for MIDILike), positions strictly rising
  inside a bar and inside the bar's length;
- meter: only the requested time signature (or each bar's own, for a piece being kept:
  `SequenceState.bar_meters`); with none requested, one of the meters a request can name
  (conditioning.controls.METERS);
- instruments: only the requested voice slots (drums only where drums were asked for);
- no pile-ups: a voice does not begin the same pitch twice at one position, nor more notes
  at once than its instrument can (conditioning.instruments.max_onsets: one for a flute,
  up to four for strings, ten for a piano or an unnamed voice); a model caught adding
  notes to one chord would otherwise run out of tokens there and drop the rest;
- length: no bar past the requested count; EOS only when that count is reached (or, with
  no count, after at least one bar), and never before the first note; every note is closed
  (REMI notes carry durations; MIDILike gets NoteOffs before EOS).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..conditioning.controls import METERS
from ..conditioning.instruments import DRUMS, MAX_ONSETS, max_onsets
from ..music.parts import REAL_PART_BAR_SHARE, REAL_PART_NOTES
from ..tokens.tokenizer import MusicTokenizer

POSITIONS_PER_BEAT = 8  # the tokenizers' finest beat resolution


def _positions_per_bar(meter: str) -> int:
    num = int(meter.split("/")[0])
    return num * POSITIONS_PER_BEAT


def _single_id(mask: np.ndarray) -> int | None:
    ids = np.flatnonzero(mask)
    return int(ids[0]) if len(ids) == 1 else None


class Grammar:
    """Id sets of a tokenizer's token types, as boolean masks over the vocabulary."""

    def __init__(self, tokenizer: MusicTokenizer) -> None:
        self.tok = tokenizer
        self.remi = tokenizer.name in ("REMI", "REMI+")
        V = tokenizer.vocab_size
        self.V = V
        self.type_of: list[str] = []
        self.value_of: list[str] = []
        for i in range(V):
            t = tokenizer.token(i)
            kind, _, value = t.partition("_")
            self.type_of.append(kind)
            self.value_of.append(value)
        self.masks: dict[str, np.ndarray] = {}
        for kind in set(self.type_of):
            m = np.zeros(V, dtype=bool)
            m[[i for i, k in enumerate(self.type_of) if k == kind]] = True
            self.masks[kind] = m
        self.position_id = {
            int(self.value_of[i]): i for i in range(V) if self.type_of[i] == "Position"
        }
        self.program_id = {
            int(self.value_of[i]): i for i in range(V) if self.type_of[i] == "Program"
        }
        self.timesig_id = {self.value_of[i]: i for i in range(V) if self.type_of[i] == "TimeSig"}
        self.pitch_of = {
            i: int(self.value_of[i])
            for i in range(V)
            if self.type_of[i] in ("Pitch", "NoteOn", "NoteOff", "PitchDrum", "DrumOn", "DrumOff")
        }
        self.timeshift_beats = {}
        for i in range(V):
            if self.type_of[i] in ("TimeShift", "Rest"):
                a, b, res = (int(x) for x in self.value_of[i].split("."))
                self.timeshift_beats[i] = a + b / res
        self.empty = np.zeros(V, dtype=bool)
        # The meters the model may choose itself: those a request can name. The vocabulary
        # also has 1/4 (a few Chinese songs of the Essen collection are written in it): an
        # 8-bar piece in it lasts 8 beats, and no request can name it back.
        named = [i for m, i in self.timesig_id.items() if m in METERS]
        self.free_meters = self.id_mask(named) if named else self.masks.get("TimeSig", self.empty)
        self.cache: dict[tuple, tuple] = {}  # REMI state key -> (allowed mask, forced id)
        self.eos_id, self.bar_id = tokenizer.eos_id, tokenizer.bar_id
        # Tokens the repetition penalty may touch: note content, never structure.
        self.penalizable = self.masks.get("Pitch", self.empty) | self.masks.get(
            "NoteOn", self.empty
        )

    def new_state(
        self,
        meter: str | None,
        instruments: list[int] | None,
        bars: int | None,
        max_bars: int,
    ) -> SequenceState:
        slots = None
        drums = True
        caps: dict[int, int] = {}
        if instruments:
            slots = [i for i, p in enumerate(instruments) if p != DRUMS]
            drums = DRUMS in instruments
            caps = {i: max_onsets(p) for i, p in enumerate(instruments) if p != DRUMS}
        return SequenceState(
            caps=caps,
            g=self,
            meter=meter,
            slots=slots,
            drums=drums,
            target_bars=bars,
            max_bars=bars or max_bars,
        )

    def id_mask(self, ids) -> np.ndarray:
        m = self.empty.copy()
        m[list(ids)] = True
        return m

    def bar_meters(self, ids) -> list[str]:
        """The meter of each bar of a REMI token sequence (the TimeSig after its Bar; a bar
        without one keeps the meter before it); empty for a vocabulary without meters."""
        out: list[str] = []
        if not self.timesig_id:
            return out
        for t in ids:
            kind = self.type_of[t]
            if kind == "Bar":
                out.append(out[-1] if out else "4/4")
            elif kind == "TimeSig" and out:
                out[-1] = self.value_of[t]
        return out


@dataclass
class SequenceState:
    """Where one sequence is; `allowed()` gives the mask of valid next ids."""

    g: Grammar
    meter: str | None
    slots: list[int] | None  # allowed pitched voice slots (None: any)
    drums: bool
    target_bars: int | None
    max_bars: int
    last: str = "start"
    bar: int = 0  # bars started
    position: int = -1  # last Position in the current bar
    bar_len: int = 32  # positions in the current bar (REMI) / beats (MIDILike)
    notes: int = 0
    time_in_bar: float = 0.0  # MIDILike: beats since the current bar began
    beats_per_bar: float = 4.0
    current_program: int | None = None
    open_notes: set = field(default_factory=set)  # MIDILike (program, pitch)
    closing: bool = False  # MIDILike: finished, closing open notes before EOS
    done: bool = False
    force_end: bool = False  # the caller ran out of token budget: finish asap
    used: set = field(default_factory=set)  # voice slots that have played (REMI)
    # slot -> (notes, bars with an onset, last such bar) (REMI). Replaced, never changed
    # in place, so a shallow copy of the state (a fork, a rewind mark) keeps its own.
    played: dict = field(default_factory=dict)
    endless: bool = False  # a live stream: never EOS
    bar_pcs: frozenset = frozenset()  # pitch classes begun in the current bar (REMI, pitched)
    here: frozenset = frozenset()  # (slot, pitch id) begun at the current position (REMI)
    caps: dict = field(default_factory=dict)  # slot -> most onsets at once (else MAX_ONSETS)
    uncapped: frozenset = frozenset()  # slots exempt from the caps (kept parts: as given)
    # Each bar's meter (bar k: bar_meters[k - 1]; past the end, the last), for a piece whose
    # bars are kept (parts, bar infill): it may change meter, which `meter` cannot say.
    bar_meters: tuple[str, ...] | None = None

    def _full(self) -> frozenset:
        """Voice slots that have begun as many notes at this position as they can."""
        count: dict[int, int] = {}
        for slot, _ in self.here:
            count[slot] = count.get(slot, 0) + 1
        return frozenset(
            s for s, c in count.items()
            if c >= self.caps.get(s, MAX_ONSETS) and s not in self.uncapped
        )  # fmt: skip

    def _taken(self) -> frozenset:
        """Pitch ids the current voice has begun at this position already."""
        return frozenset(t for slot, t in self.here if slot == self.current_program)

    def _bar_meter(self) -> str | None:
        """The meter the current bar must take (None: the model chooses)."""
        if self.bar_meters:
            return self.bar_meters[min(max(self.bar, 1), len(self.bar_meters)) - 1]
        return self.meter

    # -- REMI ------------------------------------------------------------------------------
    def _remi_entry(self) -> tuple[np.ndarray, int | None]:
        """(mask, forced id) for the current state; identical states share one entry."""
        missing = self.missing_slots()
        can_end = self.notes > 0 and (
            self.target_bars is None
            or (self.bar >= self.target_bars and not missing)
            or self.force_end
        )
        can_new_bar = self.bar < self.max_bars and not self.force_end
        last_bar_missing = missing if self.bar >= self.max_bars and not self.force_end else ()
        key = (
            last_bar_missing,
            self.last,
            self.position,
            self.bar_len,
            can_end,
            can_new_bar,
            self.current_program == DRUMS,
            tuple(self.slots) if self.slots is not None else None,
            self.drums,
            self._bar_meter() if self.last == "Bar" else None,  # only the TimeSig step reads it
            self._taken() if self.last == "Program" else None,  # only the pitch step reads it
            self._full() if self.last in ("Position", "Chord", "Duration") else None,
        )
        entry = self.g.cache.get(key)
        if entry is None:
            mask = self._remi_mask(can_end, can_new_bar, last_bar_missing)
            entry = self.g.cache[key] = (mask, _single_id(mask))
        return entry

    def _remi_mask(self, can_end: bool, can_new_bar: bool, missing=()) -> np.ndarray:
        g = self.g
        m = g.empty.copy()
        if self.last == "start":
            m[g.bar_id] = True
        elif self.last == "Bar":
            meter = self._bar_meter()
            if meter:
                m[g.timesig_id[meter]] = True
            else:
                m |= g.free_meters
        elif self.last == "TimeSig" and "Harmony" in g.masks:
            m |= g.masks["Harmony"]  # model v2: every bar states its chord first
        elif self.last in ("TimeSig", "Harmony", "Duration", "Rest", "Chord", "Position"):
            if self.last == "Position" or self.last == "Chord":
                m |= self._program_mask(missing)
                if self.last == "Position" and "Chord" in g.masks:
                    m |= g.masks["Chord"]
            else:
                m |= self._later_positions()
                if can_new_bar:
                    m[g.bar_id] = True
                if self.last == "Duration":
                    m |= self._program_mask(missing)
                # not in a bar with no note yet: the last bar sounds, so the length holds
                if can_end and self.last in ("Duration", "Rest"):
                    m[g.eos_id] = True
        elif self.last == "Program":
            if self.current_program == DRUMS:
                m |= g.masks.get("PitchDrum", g.empty)
            else:
                m |= g.masks["Pitch"]
            m[list(self._taken())] = False
        elif self.last in ("Pitch", "PitchDrum"):
            m |= g.masks["Duration"]
        if not m.any():  # nothing fits (e.g. the last position of the last bar)
            m[g.eos_id] = True
        return m

    def _program_mask(self, missing=()) -> np.ndarray:
        """Programs (voice slots) allowed next; only `missing` ones when given (last bar)."""
        g = self.g
        if missing:
            return g.id_mask([g.program_id[s] for s in missing if s in g.program_id])
        if self.slots is None:
            m = g.masks["Program"].copy()
            if not self.drums:
                m[g.program_id[DRUMS]] = False
        else:
            ids = [g.program_id[s] for s in self.slots if s in g.program_id]
            if self.drums:
                ids.append(g.program_id[DRUMS])
            m = g.id_mask(ids)
        m[[g.program_id[s] for s in self._full() if s in g.program_id]] = False
        return m

    def _later_positions(self) -> np.ndarray:
        g = self.g
        ids = [
            g.position_id[p] for p in range(self.position + 1, self.bar_len) if p in g.position_id
        ]
        return g.id_mask(ids) if ids else g.empty.copy()

    def _remi_update(self, tid: int) -> None:
        g = self.g
        kind = g.type_of[tid]
        if kind == "Bar":
            self.bar += 1
            self.position = -1
            self.bar_pcs = frozenset()
            self.here = frozenset()
        elif kind == "TimeSig":
            self.bar_len = _positions_per_bar(g.value_of[tid])
        elif kind == "Position":
            self.position = int(g.value_of[tid])
            self.here = frozenset()
        elif kind == "Program":
            self.current_program = int(g.value_of[tid])
        elif kind in ("Pitch", "PitchDrum"):
            self.notes += 1
            self.here = self.here | {(self.current_program, tid)}
            self.used.add(self.current_program)
            notes, bars, last = self.played.get(self.current_program, (0, 0, -1))
            bars += last != self.bar
            self.played = {**self.played, self.current_program: (notes + 1, bars, self.bar)}
            if kind == "Pitch":
                self.bar_pcs = self.bar_pcs | {g.pitch_of[tid] % 12}
        self.last = kind

    # -- MIDILike --------------------------------------------------------------------------
    def _midilike_allowed(self) -> np.ndarray:
        g = self.g
        m = g.empty.copy()
        # `bar` counts bars started, so the requested bars are complete once it passes them.
        reached_end = self.target_bars is not None and self.bar > self.target_bars
        if self.force_end or reached_end or self.bar > self.max_bars:
            self.closing = True
        if self.last == "start":
            if self.meter:
                m[g.timesig_id[self.meter]] = True
            else:
                m |= g.free_meters
            return m
        if self.last == "Program":
            if self.current_program == DRUMS:
                on, off = g.masks.get("DrumOn", g.empty), g.masks.get("DrumOff", g.empty)
            else:
                on, off = g.masks["NoteOn"], g.masks["NoteOff"]
            open_here = [
                i for i in range(g.V)
                if off[i] and (self.current_program, g.pitch_of[i]) in self.open_notes
            ]  # fmt: skip
            if open_here:
                m[open_here] = True
            if not self.closing:
                m |= on
                closed = [
                    i for i in range(g.V)
                    if on[i] and (self.current_program, g.pitch_of[i]) in self.open_notes
                ]  # fmt: skip
                m[closed] = False  # no second NoteOn of a sounding pitch
            if not m.any():
                m |= off
            return m
        # Between events: a program (to start/stop a note), time, or the end.
        progs = self._program_mask()
        if self.closing:
            open_programs = {p for p, _ in self.open_notes}
            if open_programs:
                return g.id_mask([g.program_id[p] for p in open_programs])
            m[g.eos_id] = True
            return m
        m |= progs
        if self.notes > 0:
            m |= g.masks["TimeShift"]
        return m

    def _midilike_update(self, tid: int) -> None:
        g = self.g
        kind = g.type_of[tid]
        if kind == "TimeSig":
            num = int(g.value_of[tid].split("/")[0])
            self.beats_per_bar = float(num)
            self.bar = max(self.bar, 1)
        elif kind == "Program":
            self.current_program = int(g.value_of[tid])
        elif kind in ("NoteOn", "DrumOn"):
            self.open_notes.add((self.current_program, g.pitch_of[tid]))
            self.notes += 1
        elif kind in ("NoteOff", "DrumOff"):
            self.open_notes.discard((self.current_program, g.pitch_of[tid]))
        elif kind == "TimeShift":
            self.time_in_bar += g.timeshift_beats[tid]
            while self.time_in_bar >= self.beats_per_bar - 1e-9:
                self.time_in_bar -= self.beats_per_bar
                self.bar += 1
        self.last = kind

    # -- public ----------------------------------------------------------------------------
    def allowed(self) -> np.ndarray:
        if self.done:
            m = self.g.empty.copy()
            m[self.g.tok.pad_id] = True
            return m
        m = self._remi_entry()[0] if self.g.remi else self._midilike_allowed()
        if self.endless and m[self.g.eos_id]:
            m = m.copy()
            m[self.g.eos_id] = False
        return m

    def forced(self) -> int | None:
        """The only id the grammar allows next, or None when there is a choice.

        A forced token needs no sampling, so the engine appends it straight away and feeds
        it in the same forward pass as the token before it.
        """
        if self.done:
            return self.g.tok.pad_id
        if self.g.remi:
            return self._remi_entry()[1]
        return _single_id(self._midilike_allowed())

    def update(self, tid: int) -> None:
        if self.done:
            return
        if tid == self.g.eos_id:
            self.done = True
            return
        if self.g.remi:
            self._remi_update(tid)
        else:
            self._midilike_update(tid)

    def missing_slots(self) -> tuple[int, ...]:
        """Requested voices that have not played yet (REMI; empty when none were named).

        The piece may not end while one is missing, and in its last bar only missing
        voices may enter, so every requested instrument is heard.
        """
        if self.slots is None or not self.g.remi:
            return ()
        wanted = [*self.slots, DRUMS] if self.drums else self.slots
        return tuple(sorted(set(wanted) - self.used))

    def missing_program_ids(self) -> list[int]:
        return [self.g.program_id[s] for s in self.missing_slots() if s in self.g.program_id]

    def thin_slots(self) -> tuple[int, ...]:
        """Requested voices behind the pace of a real part (music/parts.py), the missing
        ones included: with onsets in fewer than half the bars begun so far, or fewer notes
        than their share of a phrase's worth (REMI; empty when no voices were named)."""
        if self.slots is None or not self.g.remi:
            return ()
        wanted = set([*self.slots, DRUMS] if self.drums else self.slots)
        total = max(self.target_bars or self.max_bars, 1)
        need = min(REAL_PART_NOTES, total) * min(1.0, self.bar / total)
        thin = []
        for slot in sorted(wanted):
            notes, bars, _ = self.played.get(slot, (0, 0, -1))
            if bars < REAL_PART_BAR_SHARE * self.bar or notes < need:
                thin.append(slot)
        return tuple(thin)

    def thin_program_ids(self) -> list[int]:
        return [self.g.program_id[s] for s in self.thin_slots() if s in self.g.program_id]

    def due_program_ids(self) -> list[int]:
        """Thin voices (thin_slots) with no onset yet in the bar being written."""
        return [
            self.g.program_id[s]
            for s in self.thin_slots()
            if s in self.g.program_id and self.played.get(s, (0, 0, -1))[2] != self.bar
        ]

    def at_last_bar(self) -> bool:
        """True inside the final requested bar (REMI), where EOS takes the place of Bar."""
        return self.g.remi and not self.done and self.bar >= self.max_bars

    def bars_done(self) -> int:
        return self.bar
