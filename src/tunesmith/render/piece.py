"""`Piece`: what generation returns — a Score with the tokens and conditions behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import symusic

from ..conditioning.controls import Controls
from ..errors import BadInputError
from ..fileio import atomic_write_bytes
from ..music.chords import Chord, ChordSpan
from ..music.keys import key_signature
from ..tokens.tokenizer import MusicTokenizer

if TYPE_CHECKING:
    from .audio import AudioOptions
    from .performance import Groove

SHEET_FORMATS = (".svg", ".abc")  # sheet music (render/engrave.py) and ABC (render/abc.py)
FORMATS = (
    ".mid",
    ".midi",
    ".wav",
    ".musicxml",
    ".xml",
    ".json",
    ".flac",
    ".ogg",
    ".mp3",
    *SHEET_FORMATS,
)
AUDIO_EXTS = (".wav", ".flac", ".ogg", ".mp3")  # rendered through a soundfont (render/audio.py)
CHORD_TRACK_PROGRAM = 0  # acoustic grand piano: the chord track a DAW user mutes or swaps
CHORD_VELOCITY = 50


def _clip_to_bars(score: symusic.Score, bars: int) -> None:
    """End every note by the end of the last bar, so the piece stops where it was asked to."""
    if bars <= 0 or not len(score.time_signatures):
        return
    ts = score.time_signatures[0]
    end = ts.time + bars * int(ts.numerator * 4 / ts.denominator * score.ticks_per_quarter)
    for track in score.tracks:
        for note in track.notes:
            if note.time + note.duration > end:
                note.duration = max(1, end - note.time)


def _trim_overlaps(score: symusic.Score) -> None:
    """No doubled notes: one note per pitch and onset in a voice, and a note that its voice
    restarts at the same pitch ends where the repeat begins (one MIDI channel cannot sound
    a pitch twice at once: the first note-off would cut the second note)."""
    for track in score.tracks:
        notes = sorted(
            ((n.time, n.pitch, n.duration, n.velocity) for n in track.notes),
            key=lambda n: (n[0], n[1], -n[2]),
        )
        kept: list[list[int]] = []
        last_by_pitch: dict[int, list[int]] = {}
        for time, pitch, duration, velocity in notes:
            prev = last_by_pitch.get(pitch)
            if prev is not None and prev[0] == time:
                continue  # the same pitch struck twice at once: keep the longer
            if prev is not None and prev[0] + prev[2] > time:
                prev[2] = time - prev[0]
            note = [time, pitch, duration, velocity]
            kept.append(note)
            last_by_pitch[pitch] = note
        changed = len(kept) != len(notes) or any(
            k[2] != n[2] for k, n in zip(kept, notes, strict=True)
        )
        if changed:
            track.notes.clear()
            for time, pitch, duration, velocity in kept:
                track.notes.append(symusic.Note(time, duration, pitch, velocity))


@dataclass
class Piece:
    score: symusic.Score
    controls: Controls = field(default_factory=Controls)
    prompt: str = ""
    tokens: list[int] = field(default_factory=list)
    scores: dict = field(default_factory=dict)  # candidate scorer components, if any
    chords: list[list[Chord]] | None = None  # the requested progression, bar by bar
    notice: str | None = None  # what was done to the input that the user should know
    written: symusic.Score | None = None  # the score as written, when `score` is performed
    files: list[Path] = field(default_factory=list)  # what the last `save` wrote

    @classmethod
    def from_tokens(
        cls, tok: MusicTokenizer, ids: list[int], controls: Controls, prompt: str = ""
    ) -> Piece:
        tempo = controls.tempo
        score = tok.decode(ids, programs=controls.instruments, tempo=tempo)
        if tok.bar_id is not None:
            _clip_to_bars(score, sum(1 for i in ids if i == tok.bar_id))
        _trim_overlaps(score)
        if controls.key:  # the key asked for (or read from the input) as a signature
            sharps, minor = key_signature(controls.key)
            score.key_signatures = type(score.key_signatures)()
            score.key_signatures.append(symusic.KeySignature(0, sharps, minor))
        return cls(score=score, controls=controls, prompt=prompt, tokens=list(ids))

    def performed(
        self,
        mode: str = "auto",
        humanize: float = 0.0,
        seed: int = 0,
        style: str | Groove | None = None,
    ) -> Piece:
        """The piece as played (render/performance.py), in place: dynamics, accents, ghost
        notes, swing, articulation and pedal in its style (`style`: a style word or a
        groove-library style; default: the controls' style). `mode` "none": as written.
        Sheet music keeps the written grid (`written`); MIDI, audio and notes get the
        performance. Performing again starts from the written score."""
        from .performance import check_options, perform

        if check_options(mode, humanize) == "none":
            return self
        chords = self.chord_spans() if self.chords else None  # else the barlines
        self.written = written = self.written if self.written is not None else self.score
        self.score = perform(written, self.controls, style, humanize, seed, chords)
        return self

    # -- facts -------------------------------------------------------------------------
    def __repr__(self) -> str:
        """A one-line summary (the tokens and the score are too long to print)."""
        from ..conditioning.instruments import program_name

        c = self.controls
        parts = [
            "drums" if t.is_drum else program_name(int(t.program))
            for t in self.score.tracks
            if t.note_num()
        ]
        bars = c.bars if c.bars else "?"
        facts = [f"{bars} bars", c.key or "key ?", c.meter or "meter ?"]
        if c.tempo:
            facts.append(f"{c.tempo:g} bpm")
        facts.append(f"parts: {', '.join(parts) or 'none'}")
        return f"Piece({', '.join(facts)}; {self.num_notes} notes, {self.duration_s:.1f} s)"

    def notation_score(self, lead_sheet: bool = False) -> symusic.Score:
        """The score as written (not as performed) for notation; `lead_sheet`: its melody
        alone, the first pitched part with notes (the chord symbols go above it)."""
        score = self.written if self.written is not None else self.score
        if not lead_sheet:
            return score
        melody = next((t for t in score.tracks if len(t.notes) and not t.is_drum), None)
        if melody is None:
            raise BadInputError("a lead sheet needs a part with pitched notes")
        out = score.copy()
        out.tracks = type(out.tracks)()
        out.tracks.append(melody.copy())
        return out

    def chord_track(self, program: int = CHORD_TRACK_PROGRAM) -> symusic.Track:
        """The piece's chords (`chord_spans`) as held block chords on a track of their own:
        the bass note in the octave below middle C, the chord tones closely voiced above
        it, softly, so a DAW user hears and sees the harmony."""
        track = symusic.Track(program=program, name="Chords")
        for span in self.chord_spans():
            if span.chord is None or span.end <= span.start:
                continue
            pitches = {48 + span.chord.bass_pitch_class}
            pitches |= {60 + pc for pc in span.chord.pitch_classes}
            for pitch in sorted(pitches):
                track.notes.append(
                    symusic.Note(span.start, span.end - span.start, pitch, CHORD_VELOCITY)
                )
        return track

    def with_chord_track(self) -> symusic.Score:
        """A copy of the score with `chord_track` added as the last track."""
        from ..music.metrics import as_tick_score

        score = as_tick_score(self.score).copy()
        score.tracks.append(self.chord_track())
        return score

    def chord_spans(self) -> list[ChordSpan]:
        """The piece's chords: the requested progression laid on its bars (several chords
        in a bar share it equally), or, when none was requested, one per bar by analysis."""
        from ..music.chords import analyse_chords
        from ..music.metrics import as_tick_score, bar_grid

        if not self.num_notes:
            return []
        if not self.chords:
            return analyse_chords(self.score, "bar")
        score = as_tick_score(self.score)
        end = max(n.time + n.duration for t in score.tracks for n in t.notes)
        starts, lengths = bar_grid(score, end)
        spans = []
        for bar, (start, length) in enumerate(zip(starts.tolist(), lengths.tolist(), strict=True)):
            chords = self.chords[bar % len(self.chords)]
            cuts = [start + length * k // len(chords) for k in range(len(chords) + 1)]
            for k, chord in enumerate(chords):
                beat = None if len(chords) == 1 else k
                spans.append(ChordSpan(bar, beat, cuts[k], cuts[k + 1], chord))
        return spans

    @property
    def num_notes(self) -> int:
        return sum(len(t.notes) for t in self.score.tracks)

    @property
    def duration_s(self) -> float:
        return float(self.score.to("second").end()) if self.num_notes else 0.0

    def midi_bytes(self, chord_track: bool = False) -> bytes:
        """The piece as a standard MIDI file (with `chord_track`, the chords on a track
        of their own after the parts)."""
        import os
        import tempfile

        fd, tmp = tempfile.mkstemp(suffix=".mid")
        os.close(fd)
        try:
            (self.with_chord_track() if chord_track else self.score).dump_midi(tmp)
            return Path(tmp).read_bytes()
        finally:
            Path(tmp).unlink(missing_ok=True)

    # -- output ------------------------------------------------------------------------
    def save(
        self,
        path: str | Path,
        chord_track: bool = False,
        audio: AudioOptions | None = None,
        svg_pages: str = "split",
        lead_sheet: bool = False,
    ) -> Path:
        """Write .mid, .wav/.flac/.ogg/.mp3, .musicxml (or .json notes), chosen by the file
        extension. `chord_track`: a MIDI file also gets the chords as a track
        (`chord_track()`). `audio`: soundfont, reverb, loudness and rate of audio files.
        Sheet music: .svg (`svg_pages` "split": one file per page, name-1.svg, ...; a
        one-page score keeps the name; "single": one tall page) and .abc; `lead_sheet`: the
        notation (.musicxml, .svg, .abc) shows the melody alone under its chord symbols.
        Returns `path` (the first page for several); `files` lists every file written."""
        path = Path(path)
        ext = path.suffix.lower()
        if ext not in FORMATS:
            raise BadInputError(
                f"unknown output format {ext or '(none)'!r}; use one of: {', '.join(FORMATS)}"
            )
        if ext == ".svg":
            from .engrave import check_pages

            check_pages(svg_pages)  # before any work
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        self.files = [path]
        notation = self.notation_score(lead_sheet)
        if ext == ".svg":
            from .engrave import export_svg

            title, key, chords = self.prompt or "tunesmith", self.controls.key, self.chord_spans()
            self.files = export_svg(notation, path, title, key, chords, svg_pages)
            return self.files[0]
        if ext == ".abc":
            from .abc import export_abc

            title, key, chords = self.prompt or "tunesmith", self.controls.key, self.chord_spans()
            export_abc(notation, path, title, key, chords)
            return path
        if ext in (".mid", ".midi"):
            atomic_write_bytes(path, self.midi_bytes(chord_track))
        elif ext in AUDIO_EXTS:
            from .audio import render_file

            render_file(self.score, path, audio)
        elif ext in (".musicxml", ".xml"):
            from .notation import export_musicxml

            export_musicxml(
                notation,
                path,
                title=self.prompt or "tunesmith",
                key=self.controls.key,
                chords=self.chord_spans(),
            )
        else:
            import json

            from .notation import export_json_notes

            notes = export_json_notes(self.score, self.chord_spans())
            atomic_write_bytes(path, json.dumps(notes, indent=1).encode())
        return path

    def audio(self, sample_rate: int = 44100, options: AudioOptions | None = None):
        """The piece as stereo float32 audio (frames, 2); `options`: soundfont, reverb and
        loudness (their sample rate is replaced by `sample_rate`)."""
        from dataclasses import replace

        from .audio import AudioOptions, render_audio

        o = replace(options or AudioOptions(), sample_rate=sample_rate)
        return render_audio(self.score, o.sample_rate, o.soundfont, o.reverb, o.loudness)
