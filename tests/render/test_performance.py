"""The performance layer: dynamics, accents, ghost notes, swing, articulation, pedal, humanize."""

from dataclasses import dataclass

import numpy as np
import pytest
import symusic

from tunesmith.arrange.arranger import arrange
from tunesmith.arrange.library import find_style
from tunesmith.conditioning.controls import Controls
from tunesmith.errors import BadInputError
from tunesmith.music.chords import analyse_chords
from tunesmith.music.tension import tension_curve
from tunesmith.render.performance import (
    DYNAMICS_SHIFT,
    GHOST_RANGE,
    VELOCITY_RANGE,
    check_options,
    feel_for,
    perform,
)
from tunesmith.render.piece import Piece

TPQ = 480
BAR = 4 * TPQ


def score_of(tracks, meter=(4, 4), tempo=120.0) -> symusic.Score:
    """A score from {(program, is_drum): [(time, duration, pitch), ...]}."""
    s = symusic.Score(TPQ)
    s.time_signatures.append(symusic.TimeSignature(0, *meter))
    s.tempos.append(symusic.Tempo(0, tempo))
    for (program, drum), notes in tracks.items():
        t = symusic.Track(program=program, is_drum=drum)
        for time, dur, pitch in notes:
            t.notes.append(symusic.Note(time, dur, pitch, 80))
        s.tracks.append(t)
    return s


def melody(bars=16, step=TPQ, climax=(10, 11), bar=BAR):
    """A line of even notes; the climax bars sit an octave higher and twice as busy."""
    notes = []
    for b in range(bars):
        every = step // 2 if b in climax else step
        for k in range(bar // every):
            pitch = 60 + (k * 2) % 7 + (12 if b in climax else 0)
            notes.append((b * bar + k * every, every, pitch))
    return notes


def drums(bars=4):
    """Kick on 1 and 3, snare on 2 and 4, closed hat on the eighths."""
    notes = []
    for b in range(bars):
        for beat in range(4):
            notes.append((b * BAR + beat * TPQ, 60, 38 if beat % 2 else 36))
        notes += [(b * BAR + k * TPQ // 2, 60, 42) for k in range(8)]
    return notes


def notes_of(track):
    return [(n.time, n.duration, n.pitch, n.velocity) for n in track.notes]


def pitches(score):
    return [sorted(n.pitch for n in t.notes) for t in score.tracks]


def onsets(track):
    return [n.time for n in track.notes]


# -- dynamics and accents -------------------------------------------------------------------
def test_velocities_vary_within_range_and_peak_near_the_tension_climax():
    score = score_of({(0, False): melody()})
    played = perform(score)
    vel = np.array([n.velocity for n in played.tracks[0].notes])
    assert vel.std() > 3 and VELOCITY_RANGE[0] <= vel.min() and vel.max() <= VELOCITY_RANGE[1]
    bars = np.array([n.time // BAR for n in played.tracks[0].notes])
    per_bar = [vel[bars == b].mean() for b in range(16)]
    climax = int(np.argmax(tension_curve(score)))
    assert climax in (9, 10, 11, 12)
    assert abs(int(np.argmax(per_bar)) - climax) <= 2
    assert per_bar[0] < per_bar[climax] - 8 and per_bar[-1] < per_bar[climax] - 8


def test_soft_and_loud_prompts_move_the_whole_level_within_the_range():
    """extra["dynamics"] (the prompt parser's reading of "gentle", "powerful") shifts every
    velocity by DYNAMICS_SHIFT; the phrase shape stays and clamping keeps the range."""
    score = score_of({(0, False): melody(), (0, True): drums(16)})
    vel = {}
    for mood in ("soft", None, "loud"):
        controls = Controls(extra={"dynamics": mood} if mood else {})
        played = perform(score, controls, style="rock")
        vel[mood] = np.array([n.velocity for n in played.tracks[0].notes])
        kit = [n.velocity for n in played.tracks[1].notes]
        assert VELOCITY_RANGE[0] <= min(kit) and max(kit) <= VELOCITY_RANGE[1], mood
    for mood, sign in (("soft", -1), ("loud", 1)):
        assert VELOCITY_RANGE[0] <= vel[mood].min() and vel[mood].max() <= VELOCITY_RANGE[1]
        assert sign * (vel[mood].mean() - vel[None].mean()) > 10, mood
        inside = (vel[mood] > VELOCITY_RANGE[0]) & (vel[mood] < VELOCITY_RANGE[1])
        moved = vel[mood][inside] - vel[None][inside]  # unclamped notes: exactly the shift
        assert set(moved.tolist()) == {DYNAMICS_SHIFT[mood]}, mood
    assert vel["soft"].std() > 3 and vel["loud"].std() > 3  # still phrased, not flattened


def test_downbeats_are_the_loudest_beat_of_every_bar():
    played = perform(score_of({(0, False): [(t, TPQ, 62) for t in range(0, 8 * BAR, TPQ)]}))
    vel = [n.velocity for n in played.tracks[0].notes]
    for b in range(8):
        beats = vel[4 * b : 4 * b + 4]
        assert beats[0] > max(beats[1:]), beats


def test_compound_meters_accent_dotted_quarter_beats():
    bar = 3 * TPQ  # 6/8
    eighths = [(t, TPQ // 2, 67) for t in range(0, 8 * bar, TPQ // 2)]
    played = perform(score_of({(40, False): eighths}, meter=(6, 8)))
    vel = np.array([n.velocity for n in played.tracks[0].notes]).reshape(8, 6)
    means = vel.mean(axis=0)
    assert means[0] > means[3] > max(means[[1, 2, 4, 5]])


def test_backbeat_styles_lean_on_the_snare_on_2_and_4():
    score = score_of({(0, True): drums(8)})
    for style, louder in (("rock", True), (None, False)):
        track = perform(score, style=style).tracks[0]
        snare = {n.time % BAR: n.velocity for n in track.notes if n.pitch == 38}
        kick = {n.time % BAR: n.velocity for n in track.notes if n.pitch == 36}
        assert (snare[TPQ] > kick[0]) is louder, style


# -- ghost notes ----------------------------------------------------------------------------
def test_ghost_notes_only_in_drum_tracks_of_styles_that_use_them():
    score = score_of(
        {(0, True): drums(8), (33, False): [(t, TPQ, 40) for t in range(0, 8 * BAR, TPQ)]}
    )
    before = notes_of(score.tracks[0])
    played = perform(score, style="hip hop", seed=1)
    kit = played.tracks[0]
    added = sorted(set(notes_of(kit)) - {(t, d, p, v) for t, d, p, v in before})
    ghosts = [n for n in kit.notes if n.velocity <= GHOST_RANGE[1]]
    assert len(kit.notes) > len(before) and len(ghosts) == len(kit.notes) - len(before)
    assert {n.pitch for n in ghosts} == {38}
    assert all(n.time % TPQ for n in ghosts)  # between the beats
    per_bar = np.bincount([n.time // BAR for n in ghosts], minlength=8)
    assert 1 <= per_bar.min() and per_bar.max() <= 2
    assert added and len(played.tracks[1].notes) == len(score.tracks[1].notes)
    assert notes_of(perform(score, style="hip hop", seed=1).tracks[0]) == notes_of(kit)
    assert notes_of(perform(score, style="hip hop", seed=2).tracks[0]) != notes_of(kit)
    for style in ("rock", "waltz", None):
        assert len(perform(score, style=style).tracks[0].notes) == len(before)


def test_density_sets_the_ghost_notes():
    """extra["density"]: "sparse" adds no ghost notes, "dense" two in every bar."""
    score = score_of({(0, True): drums(8)})

    def ghosts(density):
        controls = Controls(extra={"density": density} if density else {})
        kit = perform(score, controls, style="funk", seed=3).tracks[0]
        return [n for n in kit.notes if n.velocity <= GHOST_RANGE[1]]

    assert ghosts("sparse") == []
    dense = np.bincount([n.time // BAR for n in ghosts("dense")], minlength=8)
    assert dense.tolist() == [2] * 8
    assert 8 <= len(ghosts(None)) <= 16


def test_a_bar_with_its_own_ghost_notes_gets_no_more():
    funk = arrange(
        score_of({(61, False): melody(4, climax=())}),
        analyse_chords(score_of({(0, False): melody(4, climax=())}), "bar"),
        "funk",
    )
    kit = next(t for t in funk.tracks if t.is_drum)
    played = perform(funk, style=find_style("funk"))
    assert len(next(t for t in played.tracks if t.is_drum).notes) == len(kit.notes)


# -- swing ----------------------------------------------------------------------------------
def test_swing_delays_off_beat_eighths_by_the_ratio():
    eighths = [(t, TPQ // 2, 60 + (t // 240) % 5) for t in range(0, 4 * BAR, TPQ // 2)]
    score = score_of({(0, False): eighths})
    played = perform(score, style="jazz").tracks[0]
    for n in played.notes:
        rel = n.time % TPQ
        assert rel in (0, 320)
        assert n.duration == (320 if rel == 0 else 160)  # each pair still joins up
    assert onsets(perform(score, style="rock").tracks[0]) == onsets(score.tracks[0])

    @dataclass(frozen=True)
    class Groove:  # a library-like style with its own ratio
        name: str = "swung"
        feel: str = "swing"
        swing: float = 0.6
        swing_unit: int = 8

    swung = perform(score, style=Groove()).tracks[0]
    assert {n.time % TPQ for n in swung.notes} == {0, 288}
    assert feel_for(Groove(feel="straight")).swing == 0.5


def test_parts_the_arranger_swung_are_not_swung_again():
    line = score_of({(65, False): [(t, TPQ // 2, 64) for t in range(0, 4 * BAR, TPQ // 2)]})
    band = arrange(line, analyse_chords(line, "bar"), "jazz-swing")
    played = perform(band, style=find_style("jazz-swing"))
    for before, after in zip(band.tracks[1:], played.tracks[1:], strict=True):
        written = sorted(set(onsets(before)))
        assert sorted({n.time for n in after.notes if n.time in written}) == written
        extra = {n.time for n in after.notes} - set(written)
        assert all(n.velocity <= GHOST_RANGE[1] for n in after.notes if n.time in extra)
    assert {n.time % TPQ for n in played.tracks[0].notes} == {0, 322}  # the melody swings


# -- articulation and pedal -----------------------------------------------------------------
def test_articulation_by_style():
    quarters = [(t, TPQ, 60 + (t // TPQ) % 3) for t in range(0, 2 * BAR, TPQ)]
    score = score_of({(40, False): quarters})
    legato = perform(score, style="chorale").tracks[0].notes
    assert all(n.duration > TPQ for n in legato[:-1]) and legato[-1].duration == TPQ
    staccato = perform(score, style="march").tracks[0].notes
    assert all(n.duration == round(TPQ * 0.75) for n in staccato)
    plain = perform(score).tracks[0].notes
    assert all(n.duration == TPQ for n in plain)
    same_pitch = score_of({(40, False): [(t, TPQ, 60) for t in range(0, BAR, TPQ)]})
    tied = perform(same_pitch, style="hymn").tracks[0].notes
    assert all(a.time + a.duration <= b.time for a, b in zip(tied, tied[1:], strict=False))


def test_pedal_only_on_piano_tracks_at_barlines():
    line = [(t, TPQ, 60) for t in range(0, 4 * BAR, TPQ)]
    score = score_of({(0, False): line, (40, False): line, (0, True): drums(4)})
    played = perform(score)
    piano, violin, kit = played.tracks
    assert not len(violin.controls) and not len(kit.controls)
    pedal = [(c.time, c.value) for c in piano.controls if c.number == 64]
    assert pedal[0] == (0, 127) and pedal[-1] == (4 * BAR, 0)
    assert [t for t, v in pedal if v == 0][:-1] == [BAR, 2 * BAR, 3 * BAR]
    assert all(t > lift for (t, v), (lift, _) in zip(pedal[2::2], pedal[1::2], strict=False))
    assert not len(perform(score, style="march").tracks[0].controls)  # played dry


# -- humanize -------------------------------------------------------------------------------
def test_humanize_keeps_order_and_bars_and_is_reproducible():
    line = [(t, 120, 60 + (t // 120) % 12) for t in range(0, 4 * BAR, 120)]
    chords = [(t, TPQ, p) for t in range(0, 4 * BAR, TPQ) for p in (48, 52, 55)]
    score = score_of({(0, False): line, (0, True): drums(4), (24, False): chords})
    a = perform(score, humanize=20, seed=7)
    assert notes_of(a.tracks[0]) == notes_of(perform(score, humanize=20, seed=7).tracks[0])
    assert onsets(a.tracks[0]) != onsets(perform(score, humanize=20, seed=8).tracks[0])
    plain = perform(score)
    most = 20 / 1000 * 120 / 60 * TPQ  # 20 ms at 120 bpm in ticks
    moved = 0
    for before, after in zip(plain.tracks, a.tracks, strict=True):
        pairs = sorted(
            zip(sorted(before.notes, key=lambda n: (n.time, n.pitch)), after.notes, strict=True),
            key=lambda p: (p[0].time, p[0].pitch),
        )
        for (b0, a0), (b1, a1) in zip(pairs, pairs[1:], strict=False):
            assert (b0.time < b1.time) == (a0.time < a1.time)  # never reordered
        for b, h in pairs:
            assert b.pitch == h.pitch and h.time >= 0
            assert h.time // BAR == b.time // BAR and abs(h.time - b.time) <= most + 1
            moved += h.time != b.time
    assert moved > len(line)
    chord_onsets = [n.time for n in a.tracks[2].notes]
    assert len(set(chord_onsets)) == 16  # a chord's notes move together


# -- what never changes ---------------------------------------------------------------------
@pytest.mark.parametrize("style", [None, "jazz", "funk", "chorale", "march", "hip hop"])
def test_pitches_and_counts_stay_and_the_input_is_untouched(style):
    score = score_of(
        {(0, False): melody(8), (33, False): [(t, TPQ, 40) for t in range(0, 8 * BAR, TPQ)]}
    )
    copy = score.copy()
    played = perform(score, Controls(style=style), humanize=10)
    assert score == copy
    assert pitches(played) == pitches(score)


def test_piece_performed_none_is_as_written_and_musicxml_keeps_the_grid(tmp_path):
    score = score_of({(0, False): melody(8)})
    piece = Piece(score=score.copy(), controls=Controls(style="jazz"))
    assert piece.performed("none").score == score and piece.written is None
    piece.performed(humanize=5, seed=1)
    assert piece.written == score and piece.score != score
    again = piece.performed(humanize=5, seed=1).score
    assert notes_of(again.tracks[0]) == notes_of(
        perform(score, Controls(style="jazz"), humanize=5, seed=1).tracks[0]
    )


@pytest.mark.parametrize(
    ("mode", "humanize", "fragment"),
    [
        ("loud", 0, "unknown performance 'loud'"),
        ("auto", -1, "humanize must be between 0 and 50 ms"),
        ("auto", 500, "humanize must be between 0 and 50 ms"),
        ("none", 5, "cannot go with performance none"),
    ],
)
def test_bad_options_are_one_line_naming_the_option(mode, humanize, fragment):
    with pytest.raises(BadInputError, match=fragment) as e:
        check_options(mode, humanize)
    assert e.value.field in ("performance", "humanize")
    assert check_options(" AUTO ") == "auto"
