"""The arranger on a 4-bar C-Am-F-G in every style: drums, bass, comping where they
belong, every note in its instrument's range, the melody untouched; and the commands."""

from __future__ import annotations

import io

import mido
import pytest
import symusic
from tests.conftest import assert_one_line_error, run_cli, run_ok

from tunesmith.arrange.arranger import arrange, instrument_range, nearest_voicing, voicings
from tunesmith.arrange.library import load_library
from tunesmith.music.chords import ChordSpan, parse_symbol

TPQ = 480
PROGRESSION = ["C", "Am", "F", "G"]
STYLES = sorted(load_library())
NO_DRUMS = {"hymn", "classical"}  # a chorale and an Alberti accompaniment have no kit


def bar_ticks(meter: str) -> int:
    num, den = (int(x) for x in meter.split("/"))
    return num * 4 * TPQ // den


def melody_score(meter: str, bars: int = 4) -> symusic.Score:
    num, den = (int(x) for x in meter.split("/"))
    s = symusic.Score(TPQ)
    s.time_signatures.append(symusic.TimeSignature(0, num, den))
    s.tempos.append(symusic.Tempo(0, 100.0))
    t = symusic.Track(name="Melody", program=73)
    bar = bar_ticks(meter)
    for b in range(bars):
        for k, pitch in enumerate((72, 76, 79)):
            t.notes.append(symusic.Note(b * bar + k * bar // 3, bar // 3, pitch + b, 70 + k))
    s.tracks.append(t)
    return s


def spans(meter: str, symbols=PROGRESSION) -> list[ChordSpan]:
    bar = bar_ticks(meter)
    return [
        ChordSpan(i, None, i * bar, (i + 1) * bar, parse_symbol(c)) for i, c in enumerate(symbols)
    ]


def notes(track) -> list[tuple[int, int, int, int]]:
    return [(n.time, n.duration, n.pitch, n.velocity) for n in track.notes]


def track(score: symusic.Score, name: str):
    return next((t for t in score.tracks if t.name == name), None)


@pytest.fixture(scope="module", params=STYLES)
def arranged(request):
    style = load_library()[request.param]
    meter = style.meters[0]
    score = melody_score(meter)
    return style, meter, score, arrange(score, spans(meter), style)


def test_the_melody_is_kept_unchanged_and_first(arranged):
    _, _, score, out = arranged
    assert out.tracks[0].name == "Melody"
    assert notes(out.tracks[0]) == notes(score.tracks[0])
    assert len(out.tracks) >= 3


def test_drums_on_channel_ten_with_a_steady_pattern(arranged):
    style, meter, _, out = arranged
    drums = [t for t in out.tracks if t.is_drum]
    if style.name in NO_DRUMS:
        assert not drums
        return
    assert len(drums) == 1
    kit = drums[0]
    assert len({n.pitch for n in kit.notes}) >= 2
    midi = mido.MidiFile(file=io.BytesIO(out.dumps_midi()))
    on_ten = [
        m.note
        for tr in midi.tracks
        for m in tr
        if m.type == "note_on" and m.velocity and m.channel == 9
    ]
    assert sorted(on_ten) == sorted(n.pitch for n in kit.notes)  # the kit, and only the kit
    bar = bar_ticks(meter)
    per_bar = [
        {(n.time - b * bar, n.pitch) for n in kit.notes if b * bar <= n.time < (b + 1) * bar}
        for b in range(4)
    ]
    assert all(per_bar), "every bar has drums"
    assert per_bar[2] <= per_bar[0]  # the main bar again (bar 1 had the opening crash too)


def test_bass_on_the_roots_below_c3_at_the_chord_changes(arranged):
    _, meter, _, out = arranged
    bass = track(out, "Bass")
    assert bass is not None
    on_root = 0
    for span in spans(meter):
        starts = [n for n in bass.notes if n.time == span.start]
        assert span.chord is not None
        if any(n.pitch < 48 and n.pitch % 12 == span.chord.root for n in starts):
            on_root += 1
    assert on_root / 4 >= 0.7


def test_comping_sounds_at_least_three_chord_tones_per_chord(arranged):
    _, meter, _, out = arranged
    comping = track(out, "Comping")
    assert comping is not None
    for span in spans(meter):
        assert span.chord is not None
        heard = {n.pitch % 12 for n in comping.notes if span.start <= n.time < span.end}
        assert len(heard & set(span.chord.pitch_classes)) >= 3, span.chord.symbol
        assert heard <= set(span.chord.pitch_classes)


def test_every_note_in_range_in_time_and_dynamics_vary(arranged):
    _, meter, score, out = arranged
    end = 4 * bar_ticks(meter)
    for t in out.tracks[len(score.tracks) :]:
        low, high = instrument_range(-1 if t.is_drum else t.program)
        assert t.notes, t.name
        assert all(low <= n.pitch <= high for n in t.notes), t.name
        assert all(0 <= n.time and n.time + n.duration <= end for n in t.notes), t.name
        velocities = [n.velocity for n in t.notes]
        assert max(velocities) - min(velocities) > 0, t.name
        assert all(1 <= v <= 127 for v in velocities)


# -- details ----------------------------------------------------------------------------------
def test_voicings_move_to_the_nearest_inversion():
    c = nearest_voicing(parse_symbol("C"), 3, 52, 76, None)
    am = nearest_voicing(parse_symbol("Am"), 3, 52, 76, c)
    assert sum(abs(a - b) for a, b in zip(am, c, strict=True)) <= 2  # C E G -> C E A
    f = nearest_voicing(parse_symbol("F"), 3, 52, 76, am)
    g = nearest_voicing(parse_symbol("G"), 3, 52, 76, f)
    assert sum(abs(a - b) for a, b in zip(g, f, strict=True)) <= 6
    for v in voicings(parse_symbol("G7"), 3, 52, 76):
        assert 52 <= min(v) and max(v) <= 76 and len(set(p % 12 for p in v)) == 3


def test_two_chords_a_bar_and_no_chord():
    meter = "4/4"
    bar = bar_ticks(meter)
    chords = [
        ChordSpan(0, 0, 0, bar // 2, parse_symbol("C")),
        ChordSpan(0, 1, bar // 2, bar, parse_symbol("G7")),
        ChordSpan(1, None, bar, 2 * bar, None),
    ]
    out = arrange(melody_score(meter, 2), chords, "jazz-swing")
    bass = track(out, "Bass")
    assert {(n.time, n.pitch % 12) for n in bass.notes} >= {(0, 0), (bar // 2, 7)}
    assert not [n for t in out.tracks[1:] if not t.is_drum for n in t.notes if n.time >= bar]
    assert [n for n in track(out, "Drums").notes if n.time >= bar]  # the groove goes on


def test_a_style_in_another_meter_follows_the_piece_bars():
    out = arrange(melody_score("3/4"), spans("3/4"), "rock")
    bar = bar_ticks("3/4")
    bass = track(out, "Bass")
    assert [n.time for n in bass.notes if n.time % bar == 0] == [0, bar, 2 * bar, 3 * bar]
    assert max(n.time + n.duration for t in out.tracks for n in t.notes) <= 4 * bar


def test_roles_choose_the_instruments():
    out = arrange(melody_score("4/4"), spans("4/4"), "pop", roles={"bass": 32, "comping": [0]})
    assert [t.name for t in out.tracks] == ["Melody", "Bass", "Comping"]
    assert [t.program for t in out.tracks[1:]] == [32, 0]


# -- the commands and the API -------------------------------------------------------------------
def test_styles_command_lists_the_library():
    res = run_ok("styles")
    for name in STYLES:
        assert name in res.stdout
    rows = run_ok("styles", "--json").stdout.strip().splitlines()
    assert len(rows) == len(STYLES)


def test_an_unknown_style_is_one_line_naming_the_nearest(tmp_path):
    res = run_cli(
        "generate", "x", "-o", tmp_path / "o.mid", "--arrangement", "bosa-nova",
        "--model", tmp_path / "no-model-here", cwd=tmp_path,
    )  # fmt: skip
    assert_one_line_error(res, "bossa-nova")
    assert "(--arrangement)" in res.stderr


def test_generate_with_a_bossa_nova_band(tiny_run, tmp_path):
    out = tmp_path / "b.mid"
    res = run_ok(
        "generate", "a tune", "-o", out, "--model", tiny_run, "--bars", 4, "--seed", 1,
        "--arrangement", "bossa-nova",
    )  # fmt: skip
    assert "arranged as bossa-nova" in res.stdout
    score = symusic.Score(str(out))
    names = [t.name for t in score.tracks]
    assert {"Drums", "Bass", "Comping"} <= set(names)
    assert score.time_signatures[0].numerator == 4
    melody = [t for t in score.tracks if t.name not in ("Drums", "Bass", "Comping")]
    assert melody and all(t.program == 73 for t in melody)  # the model's flute line
    midi = mido.MidiFile(str(out))
    channels = {
        next((m.name for m in tr if m.type == "track_name"), ""): {
            m.channel for m in tr if m.type == "note_on"
        }
        for tr in midi.tracks
    }
    assert channels.pop("Drums") == {9}  # the side stick and the rest of the kit
    assert all(9 not in c for c in channels.values())  # and nothing else on channel 10


def test_the_api_default_keeps_a_plain_request_as_it_was(tiny_run, tmp_path):
    from tunesmith.api import Composer

    composer = Composer.load(tiny_run)
    plain = composer.generate("a tune", bars=2, seed=3, instruments=[40])
    again = composer.generate("a tune", bars=2, seed=3, instruments=[40], arrangement="none")
    assert [notes(t) for t in plain.score.tracks] == [notes(t) for t in again.score.tracks]
    theme = tmp_path / "theme.mid"
    plain.save(theme)
    longer = composer.continue_midi(theme, 3, seed=1, arrangement="reggae")
    names = [t.name for t in longer.score.tracks]
    assert {"Drums", "Bass", "Comping"} <= set(names)
    first = longer.score.tracks[0]
    kept = {(n.time, n.pitch) for n in plain.score.tracks[0].notes}
    assert kept <= {(n.time, n.pitch) for n in first.notes}
