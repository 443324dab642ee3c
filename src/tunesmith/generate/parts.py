"""Work on the parts of a piece: harmonize a melody, add a part, rewrite one part, and
write some bars anew.

The part operations keep some voices exactly (fixed.py) and let the model write the
others in one pass through the piece, under the piece's own meter, tempo and length (and
its key, or the one asked for). A v2 model (a tokenizer with infill tokens) also sees the
kept voices ahead of where it writes: the part-infill layout (tokens/layouts.py) puts
their notes before the texture, bar by bar from the window's first bar. Bar infill (v2
only) writes bars i..j with the bars before and after them in view and splices them in.
They return the controls and the generated sequences; turning them into Pieces and
choosing among candidates is the API's job.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import symusic

from ..conditioning.controls import MAX_VOICES, Controls, meter_control
from ..conditioning.instruments import DRUMS, register_centre
from ..errors import BadInputError
from ..music.chords import Chord, bar_harmony
from ..music.metrics import as_tick_score, bar_grid, compute_metrics
from ..tokens.layouts import (
    bar_infill_context,
    insert_harmony,
    part_context,
    part_notes,
    split_bars,
)
from .engine import ContextFn, Engine, GenerationResult
from .fixed import FixedParts
from .sampling import SamplingConfig
from .voicing import VoiceGuide

log = logging.getLogger(__name__)

DEFAULT_TEMPO = 100.0
GIVEN_SHARE = 4  # the given parts' notes may fill a quarter of the block (part infill)
BEFORE_SHARE = 0.6  # bar infill: the bars before the hole may fill 60 % of the room left
# Harmonization styles: the voices' GM programs, melody first, and the style word the
# model knows the texture by.
HARMONY_STYLES: dict[str, tuple[str, tuple[int, ...]]] = {
    "chorale": ("chorale", (52, 52, 52, 52)),  # choir
    "hymn": ("hymn", (19, 19, 19, 19)),  # church organ
    "quartet": ("quartet movement", (40, 40, 41, 42)),  # violin, violin, viola, cello
    "strings": ("quartet movement", (40, 41, 42, 43)),  # violin, viola, cello, bass
    "madrigal": ("madrigal", (52, 52, 52, 52)),
    "brass": ("chorale", (56, 56, 57, 58)),  # trumpets, trombone, tuba
}


@dataclass
class PartsRequest:
    """What `harmonize`, `add_part` and `rewrite_part` decided, for the caller."""

    controls: Controls
    results: list[GenerationResult]
    kept_slots: list[int]
    notice: str | None = None  # e.g. how a chordal "melody" was reduced to one line


def melody_line(score: symusic.Score) -> tuple[symusic.Score, str | None]:
    """The melody as a one-track score: the first pitched track with notes. Where notes
    overlap (a chordal line), the highest note of each onset is kept and later notes cut
    earlier ones (the skyline); the notice says so."""
    tracks = [t for t in score.tracks if len(t.notes) and not t.is_drum]
    if not tracks:
        raise BadInputError("the melody file holds no pitched notes")
    notice = None
    track = tracks[0]
    if len(tracks) > 1:
        notice = f"the file has {len(tracks)} parts; the first one is the melody"
    by_onset: dict[int, symusic.Note] = {}
    for n in track.notes:
        if n.time not in by_onset or n.pitch > by_onset[n.time].pitch:
            by_onset[n.time] = n
    onsets = sorted(by_onset)
    if len(onsets) < len(track.notes):
        notice = (notice + "; " if notice else "") + (
            f"the melody has chords: the top note of each was kept "
            f"({len(track.notes) - len(onsets)} lower notes dropped)"
        )
    line = symusic.Track(program=track.program, name="melody")
    for i, t in enumerate(onsets):
        n = by_onset[t]
        end = t + max(1, int(n.duration))
        if i + 1 < len(onsets):
            end = min(end, onsets[i + 1])
        line.notes.append(symusic.Note(t, end - t, n.pitch, n.velocity))
    out = symusic.Score(score.tpq)
    out.time_signatures = score.time_signatures.copy()
    out.tempos = score.tempos.copy()
    out.key_signatures = score.key_signatures.copy()
    out.tracks.append(line)
    return out, notice


def _bars_spanned(score: symusic.Score, bars_with_onsets: int) -> int:
    """Bars the piece spans: a last note held past the last bar in which a note starts
    (a final fermata after a pickup) needs its bar too, or it would be cut at the barline."""
    end = max((n.time + n.duration for t in score.tracks for n in t.notes), default=0)
    return max(bars_with_onsets, len(bar_grid(as_tick_score(score), max(int(end), 1))[0]))


def _piece_controls(
    score: symusic.Score, bars: int, key: str | None, meters: Sequence[str]
) -> Controls:
    """Tempo, key and length of an input piece, and the Meter control for its bars'
    `meters` (controls.meter_control)."""
    tempo = float(score.tempos[0].qpm) if len(score.tempos) else DEFAULT_TEMPO
    if key is None:
        key = compute_metrics(score).get("key")
    return Controls(
        meter=meter_control(meters),
        tempo=min(max(tempo, 20.0), 400.0),
        key=key,
        bars=bars,
    )


def _programs(tracks: Sequence[symusic.Track], kept: list[int]) -> list[int]:
    """The Program values the kept tracks have in the token stream: their voice slot, or
    the drum program for a drum track (the tokenizer keeps drums as drums)."""
    return [DRUMS if tracks[i].is_drum else i for i in kept]


def _generate(
    engine: Engine,
    controls: Controls,
    ids: Sequence[int],
    meters: Sequence[str],
    kept: list[int],
    text: str,
    n: int,
    sampling: SamplingConfig,
    chords: Sequence[Sequence[Chord]] | None,
    ordered: bool = False,
    register: Sequence[int] | None = None,
    centres: dict[int, float] | None = None,
) -> list[GenerationResult]:
    """The piece decoded with the `kept` slots' notes forced, each bar in its own meter
    (`meters`, of `ids`); `ordered`: the voice slots run from the top voice down (harmonize), so
    crossings and spacing are guarded too, and each written voice is a single line;
    `register`: the pitched slots from the highest part to the lowest (add or rewrite a
    part), so a written voice keeps to its place among the others (crossings guarded), and
    `centres` where each part lies, so a written voice keeps near its own."""
    sampling = sampling.with_(cadence="none")  # the kept parts end the piece as they do
    fixed = FixedParts.from_tokens(engine.grammar, ids, slots=kept, rows=n)
    if not fixed.notes:
        raise BadInputError("the parts to keep hold no notes")
    context = given_parts_context(engine, ids, kept)
    if context is not None:  # trained without a Section control
        controls = replace(controls, section=None)
    pitched = [s for s, p in enumerate(controls.instruments or []) if p != DRUMS]
    free = [s for s in pitched if s not in kept]
    voicing = None
    if sampling.voice_guidance > 0 and engine.grammar.remi and len(pitched) >= 2 and free:
        if register is not None:
            voicing = VoiceGuide(
                engine.grammar, register, free, sampling.voice_guidance, ordered=True,
                satb=False, centres=centres,
            )  # fmt: skip
        else:
            voicing = VoiceGuide(engine.grammar, pitched, free, sampling.voice_guidance, ordered)
    lines = {s: 1 for s in free} if ordered else None  # voices in order are single lines
    return engine.generate(
        controls, text, n, sampling, chords=chords, fixed=fixed, context=context,
        voicing=voicing, meters=meters, caps=lines,
    )  # fmt: skip


def given_parts_context(engine: Engine, ids: Sequence[int], kept: list[int]) -> ContextFn | None:
    """The part-infill context for the kept voice slots of a piece (None for a v1 model):
    from a window's first bar on, as many bars of their notes as fit in a quarter block."""
    tok = engine.tok
    if not tok.has_infill or tok.bar_id is None:
        return None
    given = [part_notes(tok, bar, kept) for bar in split_bars(ids, tok.bar_id)]
    room = engine.cfg.block_size // GIVEN_SHARE - 2

    def context(first_bar: int) -> list[int]:
        out: list[int] = []
        for notes in given[first_bar:]:
            if out and len(out) + len(notes) > room:
                break
            out += notes
        return part_context(tok, out[:room])

    return context


def harmonize(
    engine: Engine,
    melody: symusic.Score,
    sampling: SamplingConfig,
    voices: int = 4,
    style: str = "chorale",
    key: str | None = None,
    chords: Sequence[Sequence[Chord]] | None = None,
    text: str = "",
    n: int = 1,
) -> PartsRequest:
    """`voices` - 1 voices under a melody kept exactly as the top voice."""
    if style not in HARMONY_STYLES:
        raise BadInputError(f"unknown style {style!r}; choose one of: {', '.join(HARMONY_STYLES)}")
    if not 2 <= voices <= 4:
        raise BadInputError("voices must be between 2 and 4 (the melody and 1-3 more)")
    line, notice = melody_line(melody)
    encoded = engine.tok.encode_music(line)
    word, programs = HARMONY_STYLES[style]
    ids = [int(i) for i in encoded.ids]
    meters = engine.grammar.bar_meters(ids)
    base = _piece_controls(line, _bars_spanned(line, len(encoded.bar_starts)), key, meters)
    controls = replace(
        base, style=word, instruments=list(programs[:voices]), section="start"
    ).validated()
    text = text or f"a {word} in {controls.key or 'its key'} for {voices} voices"
    results = _generate(engine, controls, ids, meters, [0], text, n, sampling, chords, ordered=True)
    return PartsRequest(controls, results, [0], notice)


def add_part(
    engine: Engine,
    score: symusic.Score,
    program: int,
    sampling: SamplingConfig,
    key: str | None = None,
    chords: Sequence[Sequence[Chord]] | None = None,
    text: str = "",
    n: int = 1,
) -> PartsRequest:
    """A new part (GM `program`, or DRUMS) written under the piece's existing parts,
    which are all kept exactly; the new part is the last voice slot."""
    tracks = [t for t in score.tracks if len(t.notes)]
    if not tracks:
        raise BadInputError("the MIDI holds no notes")
    if len(tracks) >= MAX_VOICES:
        raise BadInputError(f"the piece already has {len(tracks)} parts (at most {MAX_VOICES})")
    kept = list(range(len(tracks)))
    return _keep_parts(engine, score, tracks, kept, [program], sampling, key, chords, text, n)


def rewrite_part(
    engine: Engine,
    score: symusic.Score,
    part: int,
    sampling: SamplingConfig,
    key: str | None = None,
    chords: Sequence[Sequence[Chord]] | None = None,
    text: str = "",
    n: int = 1,
) -> PartsRequest:
    """Part `part` (0-based, in track order) written anew; every other part kept."""
    tracks = [t for t in score.tracks if len(t.notes)]
    if not 0 <= part < len(tracks):
        raise BadInputError(
            f"part {part + 1} does not exist; the piece has {len(tracks)} parts with notes"
        )
    if len(tracks) < 2:
        raise BadInputError("rewriting a part needs at least one other part to keep")
    kept = [s for s in range(len(tracks)) if s != part]
    return _keep_parts(engine, score, tracks, kept, [], sampling, key, chords, text, n)


def _keep_parts(
    engine: Engine,
    score: symusic.Score,
    tracks: list[symusic.Track],
    kept: list[int],
    new_programs: list[int],
    sampling: SamplingConfig,
    key: str | None,
    chords: Sequence[Sequence[Chord]] | None,
    text: str,
    n: int,
) -> PartsRequest:
    """The piece's parts (`kept` among them kept exactly) plus `new_programs` as new
    voices after them, under the piece's own meter, tempo, length and key."""
    encoded = engine.tok.encode_music(score)
    programs = [DRUMS if t.is_drum else int(t.program) for t in tracks] + new_programs
    ids = [int(i) for i in encoded.ids]
    meters = engine.grammar.bar_meters(ids)
    base = _piece_controls(score, _bars_spanned(score, len(encoded.bar_starts)), key, meters)
    controls = replace(base, instruments=programs, section="start").validated()
    where = _registers(tracks, programs)
    register = sorted(where, key=lambda s: (-where[s], s)) if where else None
    results = _generate(
        engine, controls, ids, meters, _programs(tracks, kept), text, n, sampling, chords,
        register=register, centres=where,
    )  # fmt: skip
    return PartsRequest(controls, results, kept)


def _registers(tracks: Sequence[symusic.Track], programs: list[int]) -> dict[int, float]:
    """Where each pitched voice slot's part lies: a kept part at its median pitch, a part
    written anew where it was (rewrite) or where its instrument usually plays (add: a cello
    under a flute, a violin over a cello); empty when a new part's instrument spans several
    registers (a piano, a harp), which has no one place."""
    where: dict[int, float] = {}
    for slot, program in enumerate(programs):
        if program == DRUMS:
            continue
        if slot < len(tracks):  # a part of the piece, kept or rewritten: where it is
            where[slot] = float(np.median([n.pitch for n in tracks[slot].notes]))
        else:
            centre = register_centre(program)
            if centre is None:
                return {}
            where[slot] = float(centre)
    return where if len(where) >= 2 else {}


@dataclass
class BarsRequest:
    """What `infill_bars` decided: the results hold the whole piece, the new bars spliced
    between the kept ones; `first`..`last` are the bars written (1-based)."""

    controls: Controls
    results: list[GenerationResult]
    first: int
    last: int


def infill_bars(
    engine: Engine,
    score: symusic.Score,
    first: int,
    last: int,
    sampling: SamplingConfig,
    key: str | None = None,
    chords: Sequence[Sequence[Chord]] | None = None,
    text: str = "",
    n: int = 1,
) -> BarsRequest:
    """Bars `first`..`last` (1-based, inclusive) written anew with the bars before and
    after them in view (a v2 model's bar-infill layout); every other bar is kept exactly."""
    tok = engine.tok
    if not tok.has_infill or tok.bar_id is None:
        raise BadInputError(
            "this model was trained without infill (a v1 model): it can rewrite a part but "
            "not bars; use a v2 model"
        )
    tracks = [t for t in score.tracks if len(t.notes)]
    if not tracks:
        raise BadInputError("the MIDI holds no notes")
    encoded = tok.encode_music(score)
    ids = encoded.ids
    if tok.has_harmony:
        ids = insert_harmony(tok, ids, bar_harmony(score))
    bars = split_bars(ids.tolist(), tok.bar_id)
    if not 1 <= first <= last <= len(bars):
        raise BadInputError(
            f"bars {first}-{last} are outside the piece, which has {len(bars)} bars"
        )
    programs = [DRUMS if t.is_drum else int(t.program) for t in tracks]
    hole = last - first + 1
    meters = engine.grammar.bar_meters(ids.tolist())
    base = _piece_controls(score, hole, key, meters[first - 1 : last])  # the hole's meter
    controls = replace(base, instruments=programs).validated()
    prefix = tok.prefix_ids(controls)
    # Room for the bars around the hole, after an estimate of the new bars' length.
    mean_bar = sum(len(b) for b in bars) / len(bars)
    room = engine.cfg.block_size - len(prefix) - 4 - int(1.2 * mean_bar * hole)
    before: list[int] = []
    for bar in reversed(bars[: first - 1]):
        if len(before) + len(bar) > BEFORE_SHARE * room:
            break
        before = bar + before
    after: list[int] = []
    for bar in bars[last:]:
        if len(before) + len(after) + len(bar) > room:
            break
        after += bar
    context = bar_infill_context(tok, before, after)
    shifted = [list(chords[(first - 1 + i) % len(chords)]) for i in range(hole)] if chords else None
    results = engine.generate(
        controls,
        text,
        n,
        sampling.with_(cadence="none"),  # the bars after the hole end the piece
        chords=shifted,
        context=lambda _bar: context,
        meters=meters[first - 1 : last],
    )
    head = [t for bar in bars[: first - 1] for t in bar]
    tail = [t for bar in bars[last:] for t in bar]
    whole = replace(controls, bars=len(bars), meter=meter_control(meters))
    whole_prefix = tok.prefix_ids(whole)
    spliced = []
    for r in results:
        middle = [t for t in r.ids[r.music_start :] if t != tok.eos_id]
        ids_out = whole_prefix + head + middle + tail + [tok.eos_id]
        spliced.append(GenerationResult(ids_out, len(whole_prefix), r.logprob, r.n_sampled))
    return BarsRequest(whole, spliced, first, last)


def close_seams(score: symusic.Score, first: int, last: int) -> int:
    """Notes that start in bars `first`..`last` (1-based) end by the end of bar `last`
    (a new note may not hang into the kept bars after it); returns how many were cut."""
    starts, lengths = bar_grid(as_tick_score(score), max(1, int(score.end())))
    if last > len(starts):
        return 0
    begin = int(starts[first - 1])
    end = int(starts[last - 1] + lengths[last - 1])
    cut = 0
    for track in score.tracks:
        for note in track.notes:
            if begin <= note.time < end and note.time + note.duration > end:
                note.duration = end - note.time
                cut += 1
    return cut
