"""The band checks (arrange/checks.py, which benchmarks/arrangement.py reports) on every
style as users get it (arranged, then played by the performance layer), and the checks
themselves: a kit that changes every bar is not steady, ghost notes do not count."""

from __future__ import annotations

import random

import pytest
import symusic

from tunesmith.arrange.arranger import arrange, instrument_range
from tunesmith.arrange.checks import (
    bass_root_share,
    chord_tone_counts,
    drum_steadiness,
    mean_pitch,
)
from tunesmith.arrange.library import load_library
from tunesmith.music.chords import ChordSpan, parse_symbol
from tunesmith.music.metrics import bar_grid
from tunesmith.render.performance import perform

TPQ = 480
PROGRESSION = ["C", "Am", "F", "G7", "C/E", "Dm", "G", "C"]  # 8 bars: fills, both cycles
STYLES = sorted(load_library())


def bar_ticks(meter: str) -> int:
    num, den = (int(x) for x in meter.split("/"))
    return num * 4 * TPQ // den


def score_with_melody(meter: str, pitches: tuple[int, ...], bars: int = 8) -> symusic.Score:
    num, den = (int(x) for x in meter.split("/"))
    s = symusic.Score(TPQ)
    s.time_signatures.append(symusic.TimeSignature(0, num, den))
    s.tempos.append(symusic.Tempo(0, 100.0))
    t = symusic.Track(name="Melody", program=73)
    bar = bar_ticks(meter)
    for b in range(bars):
        for k, pitch in enumerate(pitches):
            t.notes.append(symusic.Note(b * bar + k * bar // len(pitches), bar // len(pitches),
                                        pitch, 80))  # fmt: skip
    s.tracks.append(t)
    return s


def spans(meter: str) -> list[ChordSpan]:
    bar = bar_ticks(meter)
    return [
        ChordSpan(i, None, i * bar, (i + 1) * bar, parse_symbol(c))
        for i, c in enumerate(PROGRESSION)
    ]


def grid(score: symusic.Score) -> tuple[list[int], list[int]]:
    end = max(n.time + n.duration for t in score.tracks for n in t.notes)
    starts, lengths = bar_grid(score, end)
    return starts.tolist(), lengths.tolist()


@pytest.fixture(scope="module", params=STYLES)
def performed(request):
    style = load_library()[request.param]
    meter = style.meters[0]
    written = arrange(score_with_melody(meter, (72, 76, 79)), spans(meter), style)
    return style, meter, perform(written, style=style, seed=3, chords=spans(meter))


def test_every_style_as_performed_passes_the_band_checks(performed):
    style, meter, out = performed
    by_name = {t.name: t for t in out.tracks}
    starts, lengths = grid(out)
    if style.drums is not None:
        steady = drum_steadiness(by_name["Drums"], starts, lengths, style.fill_every)
        assert steady["sounds"] >= 2
        assert steady["pulse"] == 1.0
        assert steady["cycle"] in (1, 2), steady
    share = bass_root_share(by_name["Bass"], spans(meter), TPQ)
    assert share is not None and share >= 0.7
    assert min(chord_tone_counts([by_name["Comping"]], spans(meter))) >= 3
    melody, comping = mean_pitch([by_name["Melody"]]), mean_pitch([by_name["Comping"]])
    assert melody is not None and comping is not None and melody > comping
    for t in out.tracks[1:]:
        low, high = instrument_range(-1 if t.is_drum else t.program)
        assert all(low <= n.pitch <= high for n in t.notes), t.name
        assert len({n.velocity for n in t.notes}) > 1, t.name


def kit_of(bars: list[set[tuple[int, int]]], bar: int, velocity: int = 92) -> symusic.Track:
    kit = symusic.Track(name="Drums", is_drum=True)
    for b, hits in enumerate(bars):
        for t, pitch in sorted(hits):
            kit.notes.append(symusic.Note(b * bar + t, 60, pitch, velocity))
    return kit


def test_a_one_bar_and_a_two_bar_groove_are_steady_a_new_bar_each_time_is_not():
    bar, n = 4 * TPQ, 8
    starts, lengths = [b * bar for b in range(n)], [bar] * n
    main = {(0, 36), (TPQ, 38), (2 * TPQ, 36), (3 * TPQ, 38)}
    variation = {(0, 36), (TPQ, 38), (5 * TPQ // 2, 36), (3 * TPQ, 38)}
    one = drum_steadiness(kit_of([main] * n, bar), starts, lengths, 4)
    assert one["cycle"] == 1 and one["one_bar"] == 1.0
    two = drum_steadiness(kit_of([main, variation] * (n // 2), bar), starts, lengths, 4)
    assert two["cycle"] == 2 and two["share"] == 1.0 and two["one_bar"] < 0.75
    rng = random.Random(0)
    wandering = [
        {(rng.randrange(16) * TPQ // 4, rng.choice((36, 38, 42))) for _ in range(5)}
        for _ in range(n)
    ]
    none = drum_steadiness(kit_of(wandering, bar), starts, lengths, 4)
    assert none["cycle"] is None and none["share"] < 0.75
    silent = [main, main, main, main, set(), set(), main, main]
    assert drum_steadiness(kit_of(silent, bar), starts, lengths, 4)["pulse"] < 1.0


def test_ghost_notes_and_the_crash_are_not_the_pattern():
    bar, n = 4 * TPQ, 8
    starts, lengths = [b * bar for b in range(n)], [bar] * n
    main = {(0, 36), (TPQ, 38), (2 * TPQ, 36), (3 * TPQ, 38)}
    kit = kit_of([main] * n, bar)
    rng = random.Random(1)
    for b in range(n):  # a ghost snare somewhere new in every bar, a crash on bar 0 and 4
        kit.notes.append(symusic.Note(b * bar + rng.randrange(1, 16) * TPQ // 4, 30, 38, 34))
    for b in (0, 4):
        kit.notes.append(symusic.Note(b * bar, 60, 49, 100))
    assert drum_steadiness(kit, starts, lengths, 4)["cycle"] == 1
    loud = kit_of([main] * n, bar)
    for b in range(n):  # the same wandering hit played loud is part of the pattern
        loud.notes.append(symusic.Note(b * bar + (b * 5 % 15 + 1) * TPQ // 4, 30, 38, 90))
    assert drum_steadiness(loud, starts, lengths, 4)["cycle"] is None


@pytest.mark.parametrize("name", ["waltz", "reggae", "salsa", "pop"])
def test_the_chords_lie_under_a_low_melody(name):
    style = load_library()[name]
    meter = style.meters[0]
    high = arrange(score_with_melody(meter, (72, 76, 79)), spans(meter), style)
    low = arrange(score_with_melody(meter, (60, 62, 64)), spans(meter), style)
    comp_high = next(t for t in high.tracks if t.name == "Comping")
    comp_low = next(t for t in low.tracks if t.name == "Comping")
    assert mean_pitch([comp_low]) < 62  # under the tune
    assert mean_pitch([comp_low]) < mean_pitch([comp_high])
    assert min(n.pitch for n in comp_low.notes) >= 40  # and not below a guitar's low E
    unfitted = arrange(score_with_melody(meter, (60, 62, 64)), spans(meter), style, fit=False)
    comp_unfitted = next(t for t in unfitted.tracks if t.name == "Comping")
    assert {n.pitch for n in comp_unfitted.notes} == {n.pitch for n in comp_high.notes}
    # the same chord tones, only lower
    assert chord_tone_counts([comp_low], spans(meter)) == chord_tone_counts(
        [comp_high], spans(meter)
    )


def test_a_third_the_melody_leaves_open_follows_the_key_signature():
    from tunesmith.arrange.arranger import key_chords, score_key

    bar = bar_ticks("4/4")
    s = symusic.Score(TPQ)
    s.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    tune = symusic.Track(name="Melody", program=4)
    # bar 0: C and G only (open); bar 1: C, E, G (the melody says major); bar 2: G alone
    for b, pitches in enumerate(((72, 79), (72, 76, 79), (79,))):
        for k, p in enumerate(pitches):
            tune.notes.append(symusic.Note(b * bar + k * TPQ, TPQ, p, 80))
    s.tracks.append(tune)
    chords = [ChordSpan(i, None, i * bar, (i + 1) * bar, parse_symbol(c))
              for i, c in enumerate(("C", "C", "G"))]  # fmt: skip
    assert key_chords(s, chords) == chords  # no key signature: as analysed
    s.key_signatures.append(symusic.KeySignature(0, -3, 1))  # C minor
    assert score_key(s) == (0, True)
    fitted = [sp.chord.symbol for sp in key_chords(s, chords) if sp.chord]
    assert fitted == ["Cm", "C", "G"]  # V keeps its leading tone in minor
    out = arrange(s, chords, "hip-hop", roles={"comping": 4})
    comp = next(t for t in out.tracks if t.name == "Comping")
    first = {n.pitch % 12 for n in comp.notes if n.time < bar}
    assert 3 in first and 4 not in first  # E flat under the open bar, no E natural
    assert 4 in {n.pitch % 12 for n in comp.notes if bar <= n.time < 2 * bar}
    s.key_signatures[0] = symusic.KeySignature(0, 1, 0)  # G major: C is IV, major
    assert [sp.chord.symbol for sp in key_chords(s, chords) if sp.chord] == ["C", "C", "G"]
    s.key_signatures[0] = symusic.KeySignature(0, -2, 0)  # Bb major: C is ii, minor
    assert [sp.chord.symbol for sp in key_chords(s, chords) if sp.chord][0] == "Cm"


def test_voicings_reach_no_higher_than_just_above_the_tune():
    style = load_library()["pop"]  # comping written for 55-76
    out = arrange(score_with_melody("4/4", (67, 70, 72)), spans("4/4"), style)
    comp = next(t for t in out.tracks if t.name == "Comping")
    assert max(n.pitch for n in comp.notes) <= 72  # the tune's median 70, and a tone
    assert min(n.pitch for n in comp.notes) >= 55  # no octave lower: there is room
    assert min(chord_tone_counts([comp], spans("4/4"))) >= 3
