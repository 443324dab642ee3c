"""The player's clock work: notes in musical time, MIDI messages out at wall-clock time.

Notes arrive ahead of time (the look-ahead buffer) in quarter notes; a tempo map with one
anchor turns them into seconds, so a tempo change re-times everything not yet played.
Note-offs sort before note-ons at the same time (a repeated pitch re-attacks), a key that
is still sounding is released before it is struck again, and every sounding note is
tracked, so stop and panic leave nothing hanging. A key struck twice at the same instant
in one voice sounds once, to the later of the two ends.

A note whose note-on goes out late (the generator fell behind) keeps its written length
from the moment it sounds: its note-off moves by the same lateness, so a late note is
never a click with its note-off in the same instant. A note later than its whole written
length would have been over before it started: it is dropped, not played, and counted
(`dropped_late`).

`hold(beat, length)` inserts whole bars of time at a barline when the generator cannot
keep up (session.py decides when): everything queued from that barline on moves later by
`length`, and the notes still sounding at the barline are sustained through the hold. The
tempo map itself never changes, so the music on either side of a hold keeps the tempo the
user set, exactly.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

import mido

from ..conditioning.instruments import DRUMS
from .decoder import Note, channel_for
from .outputs import Output

ALL_NOTES_OFF = 123  # MIDI control change number
LATE_TOLERANCE_S = 0.02  # lateness below this is jitter: the note keeps its written end
SUSTAIN_EPS = 1 / 8  # quarter notes: a note ending this close before a hold is sustained


@dataclass
class _Scheduled:
    note: Note  # as written (its duration is the written length)
    channel: int
    on_beat: float  # where it sounds: its written start, later after a hold
    off_beat: float  # its end: moved by a late note-on or a hold
    on_sent: bool = False
    on_time: float | None = None  # when its note-on went out


class Scheduler:
    def __init__(self, outputs: list[Output], programs: list[int] | None, tempo: float) -> None:
        self.outputs = outputs
        self.programs = programs or []
        self.tempo = float(tempo)
        self.anchor_time: float | None = None  # wall time of anchor_beat
        self.anchor_beat = 0.0
        self.start_time = 0.0  # the stream's t = 0 for outputs
        # (beat, off=0/on=1, seq, id): an entry whose beat no longer matches its note's
        # on_beat/off_beat (moved by lateness or a hold), or whose note is gone, is stale.
        self._heap: list[tuple[float, int, int, int]] = []
        self._notes: dict[int, _Scheduled] = {}
        self._ids = itertools.count()
        self._seq = itertools.count()
        self._sounding: dict[tuple[int, int], int] = {}  # (channel, pitch) -> note id
        self._channels_ready: set[int] = set()
        self.sent_notes = 0
        self.max_late = 0.0  # seconds an event went out after its time
        self.late_tolerance = LATE_TOLERANCE_S
        self.dropped_late = 0  # notes later than their whole written length: not played
        self.late_notes = 0  # notes sent later than the tolerance (kept their length)
        self.sustained = 0  # notes held through a hold
        self.merged = 0  # a key struck twice at the same instant in one voice: sounded once

    # -- time ------------------------------------------------------------------------------
    @property
    def anchored(self) -> bool:
        return self.anchor_time is not None

    def anchor(self, beat: float, time: float) -> None:
        self.anchor_beat, self.anchor_time = beat, time

    def time_at(self, beat: float) -> float:
        assert self.anchor_time is not None, "anchor() the clock first"
        return self.anchor_time + (beat - self.anchor_beat) * 60.0 / self.tempo

    def beat_at(self, time: float) -> float:
        assert self.anchor_time is not None, "anchor() the clock first"
        return self.anchor_beat + (time - self.anchor_time) * self.tempo / 60.0

    def set_tempo(self, bpm: float, now: float) -> None:
        """Change speed from `now` on: notes already queued play at the new tempo."""
        if self.anchored:
            self.anchor(self.beat_at(now), now)
        self.tempo = float(bpm)

    # -- queue -----------------------------------------------------------------------------
    def _push(self, beat: float, is_on: int, nid: int) -> None:
        heapq.heappush(self._heap, (beat, is_on, next(self._seq), nid))

    def add(self, note: Note) -> None:
        nid = next(self._ids)
        end = note.start + note.duration
        self._notes[nid] = _Scheduled(note, channel_for(note.slot), note.start, end)
        self._push(note.start, 1, nid)
        self._push(end, 0, nid)

    def drop_from(self, beat: float) -> int:
        """Forget queued notes starting at or after `beat` (a rewind); returns how many."""
        gone = [nid for nid, s in self._notes.items() if not s.on_sent and s.on_beat >= beat - 1e-9]
        for nid in gone:
            del self._notes[nid]
        return len(gone)

    def hold(self, beat: float, length: float) -> list[dict]:
        """Insert `length` quarter notes of time at `beat` (a barline not yet played):
        notes from there on sound that much later, notes sounding across it are sustained
        through it. Returns the sustained notes already sounding, as {channel, pitch,
        extend_s}: how many seconds later each one's note-off now goes (a listener that
        timed the note from its note-on event, such as the web page, lengthens it)."""
        sustained: list[dict] = []
        for nid, s in self._notes.items():
            if not s.on_sent and s.on_beat >= beat - 1e-9:
                s.on_beat += length
                s.off_beat += length
                self._push(s.on_beat, 1, nid)
                self._push(s.off_beat, 0, nid)
            elif s.on_beat < beat and s.off_beat >= beat - SUSTAIN_EPS:
                old = s.off_beat
                s.off_beat = max(s.off_beat, beat) + length
                self._push(s.off_beat, 0, nid)
                self.sustained += 1
                if s.on_sent:  # (one still to sound says its length in its note event)
                    extend = (s.off_beat - old) * 60.0 / self.tempo
                    sustained.append(
                        {"channel": s.channel, "pitch": s.note.pitch, "extend_s": round(extend, 4)}
                    )
        return sustained

    def pending(self) -> int:
        return sum(1 for s in self._notes.values() if not s.on_sent)

    def _stale(self, beat: float, is_on: int, nid: int) -> bool:
        s = self._notes.get(nid)
        if s is None:
            return True
        if is_on:
            return s.on_sent or beat != s.on_beat
        return beat != s.off_beat

    def next_time(self) -> float | None:
        """Wall time of the next queued event."""
        while self._heap and self._stale(self._heap[0][0], self._heap[0][1], self._heap[0][3]):
            heapq.heappop(self._heap)
        return self.time_at(self._heap[0][0]) if self._heap and self.anchored else None

    def flush_due(self, now: float) -> int:
        """Send every event whose time has come; returns the number sent."""
        if not self.anchored:
            return 0
        sent = 0
        while self._heap:
            beat, is_on, _, nid = self._heap[0]
            if self._stale(beat, is_on, nid):
                heapq.heappop(self._heap)
                continue
            when = self.time_at(beat)
            if when > now + 1e-9:
                break
            heapq.heappop(self._heap)
            s = self._notes[nid]
            late = now - when
            if is_on and late > self.late_tolerance:
                length = s.note.duration * 60.0 / self.tempo
                if late >= length:  # it would be over before it starts
                    del self._notes[nid]
                    self.dropped_late += 1
                    continue
                # Keep its written length from now: move its note-off by the lateness.
                s.off_beat = s.on_beat + s.note.duration + late * self.tempo / 60.0
                self._push(s.off_beat, 0, nid)
                self.late_notes += 1
            self.max_late = max(self.max_late, late)
            if is_on:
                self._note_on(s, nid, now)
            else:
                self._note_off(s, nid, now)
                del self._notes[nid]
            sent += 1
        return sent

    # -- sending ---------------------------------------------------------------------------
    def _emit(self, msg: mido.Message, now: float) -> None:
        t = now - self.start_time
        for out in self.outputs:
            out.send(msg, t)

    def _prepare_channel(self, slot: int, channel: int, now: float) -> int:
        program = self.programs[slot] if 0 <= slot < len(self.programs) else 0
        if channel not in self._channels_ready:
            self._channels_ready.add(channel)
            if slot != DRUMS and program != DRUMS:
                self._emit(mido.Message("program_change", channel=channel, program=program), now)
        return -1 if slot == DRUMS or program == DRUMS else program

    def _note_on(self, s: _Scheduled, nid: int, now: float) -> None:
        n, ch = s.note, s.channel
        program = self._prepare_channel(n.slot, ch, now)
        key = (ch, n.pitch)
        if key in self._sounding:
            owner = self._notes.get(self._sounding[key])
            if owner is not None and owner.on_time == now:
                # Struck twice at once (a doubled note in one voice): sounding it twice
                # would be a note-off at a note-on's instant. One note, the longer end.
                s.on_sent = True
                self.merged += 1
                if s.off_beat > owner.off_beat:
                    owner.off_beat = s.off_beat
                    self._push(owner.off_beat, 0, self._sounding[key])
                return
            # still held by an earlier note: release it first
            self._emit(mido.Message("note_off", channel=ch, note=n.pitch), now)
        self._sounding[key] = nid
        s.on_time = now
        self._emit(mido.Message("note_on", channel=ch, note=n.pitch, velocity=n.velocity), now)
        s.on_sent = True
        self.sent_notes += 1
        event = {
            "t": round(now - self.start_time, 4),
            "pitch": n.pitch,
            "velocity": n.velocity,
            # how long it will sound: its written length (kept from now when it is late),
            # longer when it is sustained through a hold
            "duration": round(self.time_at(s.off_beat) - now, 4),
            "program": program,
            "channel": ch,
            "beat": round(s.on_beat, 4),
        }
        for out in self.outputs:
            out.note(event)

    def _note_off(self, s: _Scheduled, nid: int, now: float) -> None:
        if not s.on_sent:
            return
        key = (s.channel, s.note.pitch)
        if self._sounding.get(key) == nid:  # a later note on this key owns it now
            del self._sounding[key]
            self._emit(mido.Message("note_off", channel=s.channel, note=s.note.pitch), now)

    def sounding(self) -> list[tuple[int, int]]:
        return sorted(self._sounding)

    def all_notes_off(self, now: float) -> None:
        """Release every sounding note, then 'all notes off' on every channel used."""
        for ch, pitch in self.sounding():
            self._emit(mido.Message("note_off", channel=ch, note=pitch), now)
        self._sounding.clear()
        for ch in sorted(self._channels_ready):
            self._emit(mido.Message("control_change", channel=ch, control=ALL_NOTES_OFF), now)

    def clear(self) -> None:
        """Drop everything queued (after all_notes_off): a panic."""
        self._heap.clear()
        self._notes.clear()
