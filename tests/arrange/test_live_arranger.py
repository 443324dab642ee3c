"""The band bar by bar (arrange/live.py, for streams) is the band `arrange` lays under a
whole piece: the same notes, bar for bar, in every style of the library."""

from __future__ import annotations

import pytest
import symusic

from tunesmith.arrange.arranger import arrange, melody_pitch
from tunesmith.arrange.library import load_library
from tunesmith.arrange.live import TICKS, BarArranger
from tunesmith.music.chords import ChordSpan, parse_symbol

PROGRESSION = ["C", "Am", "Dm7", "G7", "C/E", "F", "G", "C", "Am"]  # 9 bars: two phrases, a fill


def bar_ticks(meter: str) -> int:
    num, den = (int(x) for x in meter.split("/"))
    return num * 4 * TICKS // den


def melody(meter: str, bars: int) -> symusic.Score:
    num, den = (int(x) for x in meter.split("/"))
    s = symusic.Score(TICKS)
    s.time_signatures.append(symusic.TimeSignature(0, num, den))
    t = symusic.Track(name="Melody", program=73)
    bar = bar_ticks(meter)
    for b in range(bars):
        t.notes.append(symusic.Note(b * bar, bar, 72 + b % 5, 80))
    s.tracks.append(t)
    return s


@pytest.mark.parametrize("name", sorted(load_library()))
def test_bar_by_bar_is_the_whole_piece_arrangement(name):
    style = load_library()[name]
    meter = style.meters[0]
    bar = bar_ticks(meter)
    chords = [parse_symbol(c) for c in PROGRESSION]
    spans = [ChordSpan(i, None, i * bar, (i + 1) * bar, c) for i, c in enumerate(chords)]
    score = melody(meter, len(chords))
    whole = arrange(score, spans, style)
    expected = {
        (t.name, n.time, n.duration, n.pitch, n.velocity) for t in whole.tracks[1:] for n in t.notes
    }

    live = BarArranger(style, melody=melody_pitch(list(score.tracks)))
    got = set()
    previous = None
    for i, chord in enumerate(chords):
        nxt = chords[i + 1] if i + 1 < len(chords) else None
        one = live.bar(i, bar / TICKS, chord, nxt, previous)
        previous = one.voicings
        for n in one.notes:
            start = i * bar + round(n.start * TICKS)
            got.add((live.parts[n.part].name, start, round(n.duration * TICKS), n.pitch,
                     n.velocity))  # fmt: skip
    assert got == expected
    assert [p.name for p in live.parts] == [t.name for t in whole.tracks[1:]]


def test_a_bar_without_a_chord_has_drums_only():
    live = BarArranger("pop")
    bar = live.bar(0, 4.0, None)
    roles = {live.parts[n.part].role for n in bar.notes}
    assert roles == {"drums"} and not bar.voicings


def test_the_crash_marks_the_first_bar_and_each_phrase_start():
    live = BarArranger("rock")
    crash = 49
    starts = [
        i
        for i in range(9)
        if any(n.pitch == crash and n.start == 0 for n in live.bar(i, 4.0, None).notes
               if live.parts[n.part].role == "drums")
    ]  # fmt: skip
    every = live.style.fill_every
    assert starts == [0, every, 2 * every]
