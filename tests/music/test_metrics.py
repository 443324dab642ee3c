"""Metrics on small handmade scores whose values can be worked out by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from symusic import Note, Score, Tempo, TimeSignature, Track

from tunesmith.errors import BadInputError
from tunesmith.music.keys import estimate_key, transpose_key
from tunesmith.music.metrics import (
    bar_grid,
    compute_metrics,
    metrics_for_file,
    note_density_ratio,
    velocity_similarity,
)

TPQ = 480
C_MAJOR_SCALE = [60, 62, 64, 65, 67, 69, 71]


def make_score(
    notes: list[tuple[float, float, int]],
    meters: tuple[tuple[float, int, int], ...] = ((0, 4, 4),),
    velocity: int = 80,
    drums: list[tuple[float, float, int]] | None = None,
) -> Score:
    """A score from (onset, duration, pitch) in quarter notes and (quarter, num, den) meters."""
    score = Score(TPQ)
    for q, num, den in meters:
        score.time_signatures.append(TimeSignature(round(q * TPQ), num, den))
    for part, is_drum in ((notes, False), (drums, True)):
        if part:
            track = Track(name="drums" if is_drum else "melody", program=0, is_drum=is_drum)
            for on, dur, pitch in part:
                track.notes.append(Note(round(on * TPQ), round(dur * TPQ), pitch, velocity))
            score.tracks.append(track)
    return score


def rhythm_bar(bar: int, positions: list[int], pitch: int = 60) -> list[tuple[float, float, int]]:
    """Sixteenth notes at the given 16-grid positions of a 4/4 bar."""
    return [(4 * bar + p / 4, 0.25, pitch) for p in positions]


# -- H1 / H4 -------------------------------------------------------------------------------
def test_c_major_scale_in_one_bar_has_entropy_log2_7():
    score = make_score([(i * 0.5, 0.5, p) for i, p in enumerate(C_MAJOR_SCALE)])
    m = compute_metrics(score)
    assert m["bars"] == 1
    assert m["H1"] == pytest.approx(math.log2(7))
    assert m["H4"] == pytest.approx(math.log2(7))  # window shrinks to the piece, as in MusDr


def test_entropy_counts_notes_and_octaves_fold():
    score = make_score([(0, 1, 60), (1, 1, 72), (2, 1, 64), (3, 1, 67)])  # C C E G
    assert compute_metrics(score)["H1"] == pytest.approx(1.5)


def test_h4_slides_one_bar_at_a_time():
    # One note per bar, five different pitch classes: each bar alone has zero entropy,
    # each 4-bar window (bars 0-3 and 1-4) holds four equally likely pitch classes.
    score = make_score([(4 * b, 4, 60 + 2 * b) for b in range(5)])
    m = compute_metrics(score)
    assert m["bars"] == 5
    assert m["H1"] == pytest.approx(0.0)
    assert m["H4"] == pytest.approx(2.0)


def test_empty_bars_are_left_out_of_the_entropy_mean():
    score = make_score([(0, 1, 60), (1, 1, 62), (12, 1, 60)])  # bars 1 and 2 are silent
    m = compute_metrics(score)
    assert m["bars"] == 4
    assert m["H1"] == pytest.approx(0.5)  # mean of 1 bit (bar 0) and 0 bits (bar 3)


def test_drums_do_not_count_for_pitch_metrics():
    melody = [(i * 0.5, 0.5, p) for i, p in enumerate(C_MAJOR_SCALE)]
    with_drums = make_score(melody, drums=[(q, 0.25, 36) for q in range(4)])
    m = compute_metrics(with_drums)
    assert m["H1"] == pytest.approx(math.log2(7))
    assert m["pitch_range"] == 11
    assert m["notes"] == 11 and m["tracks"] == 2


def test_drums_only_score_has_no_pitch_metrics():
    m = compute_metrics(make_score([], drums=[(q, 0.25, 36) for q in range(8)]))
    assert m["H1"] is None and m["key"] is None and m["pitch_range"] is None
    assert m["GS"] == pytest.approx(1.0)


# -- GS ------------------------------------------------------------------------------------
def test_same_rhythm_every_bar_gives_gs_1():
    notes = []
    for bar in range(4):  # same rhythm, different pitches
        notes += rhythm_bar(bar, [0, 3, 6, 8, 12], pitch=60 + bar)
    assert compute_metrics(make_score(notes))["GS"] == pytest.approx(1.0)


def test_differing_rhythms_give_hand_computed_gs():
    # Bar 0: {0,4,8,12}; bar 1: {0,8}; bar 2 is empty and ignored; bar 3: every eighth.
    # XOR counts: 0-1 -> 2, 0-3 -> 4, 1-3 -> 6, so GS = mean(14/16, 12/16, 10/16) = 0.75.
    notes = (
        rhythm_bar(0, [0, 4, 8, 12]) + rhythm_bar(1, [0, 8]) + rhythm_bar(3, list(range(0, 16, 2)))
    )
    m = compute_metrics(make_score(notes))
    assert m["bars"] == 4
    assert m["GS"] == pytest.approx(0.75)


def test_gs_grid_is_a_parameter():
    # Sixteenths 1 and 2 differ on a 16-grid but both round to eighth 1 on an 8-grid.
    notes = rhythm_bar(0, [0, 2]) + rhythm_bar(1, [0, 1])
    assert compute_metrics(make_score(notes), grid=16)["GS"] == pytest.approx(14 / 16)
    assert compute_metrics(make_score(notes), grid=8)["GS"] == pytest.approx(1.0)


def test_single_bar_has_no_gs():
    assert compute_metrics(make_score([(0, 1, 60), (1, 1, 62)]))["GS"] is None


def test_early_onset_rounds_to_the_next_downbeat():
    score = make_score(rhythm_bar(0, [0, 8]) + rhythm_bar(1, [0, 8]))
    # a performed downbeat two ticks early still belongs to bar 1, position 0
    score.tracks[0].notes[2].time -= 2
    assert compute_metrics(score)["GS"] == pytest.approx(1.0)


# -- bars and time signatures --------------------------------------------------------------
def test_three_four_changes_the_bar_count():
    quarters = [(q, 1, 60) for q in range(12)]
    assert compute_metrics(make_score(quarters))["bars"] == 3
    assert compute_metrics(make_score(quarters, meters=((0, 3, 4),)))["bars"] == 4


def test_no_time_signature_means_four_four():
    assert compute_metrics(make_score([(q, 1, 60) for q in range(12)], meters=()))["bars"] == 3


def test_time_signature_change_mid_piece():
    # Two bars of 4/4 (8 quarters), then 3/4: 6 more quarters fill two bars.
    score = make_score([(q, 1, 60) for q in range(14)], meters=((0, 4, 4), (8, 3, 4)))
    assert compute_metrics(score)["bars"] == 4
    starts, lengths = bar_grid(score, 14 * TPQ)
    assert starts.tolist() == [0, 1920, 3840, 5280]
    assert lengths.tolist() == [1920, 1920, 1440, 1440]


def test_change_inside_a_bar_starts_a_new_bar_and_repeats_do_not():
    meters = ((0, 4, 4), (2, 3, 4), (4, 3, 4))  # 3/4 from beat 3; the restatement is ignored
    score = make_score([(q, 1, 60) for q in range(9)], meters=meters)
    starts, _ = bar_grid(score, 9 * TPQ)
    assert starts.tolist() == [0, 960, 2400, 3840]


# -- other single-piece metrics ------------------------------------------------------------
def test_four_note_chord_has_polyphony_4():
    m = compute_metrics(make_score([(0, 4, p) for p in (60, 64, 67, 72)]))
    assert m["polyphony"] == pytest.approx(4.0)


def test_polyphony_is_time_averaged_over_sounding_time():
    # A 4-note chord for one beat, a rest, then one note for one beat: (4 + 1) / 2.
    notes = [(0, 1, p) for p in (60, 64, 67, 72)] + [(2, 1, 60)]
    assert compute_metrics(make_score(notes))["polyphony"] == pytest.approx(2.5)


def test_range_density_velocity_and_duration():
    score = make_score([(q, 1, 48 + 3 * q) for q in range(8)], velocity=90)
    score.tempos.append(Tempo(0, qpm=120))
    score.tempos.append(Tempo(4 * TPQ, qpm=60))
    m = compute_metrics(score)
    assert m["pitch_range"] == 21
    assert m["notes_per_bar"] == pytest.approx(4.0)
    assert m["velocity_mean"] == pytest.approx(90.0) and m["velocity_std"] == pytest.approx(0.0)
    assert m["duration_s"] == pytest.approx(2.0 + 4.0)  # 4 beats at 120 bpm, 4 at 60


def test_metrics_are_json_ready_with_the_documented_keys():
    m = compute_metrics(make_score([(i * 0.5, 0.5, p) for i, p in enumerate(C_MAJOR_SCALE)]))
    assert list(m) == [
        "bars", "duration_s", "tracks", "notes", "notes_per_bar", "H1", "H4", "GS",
        "pitch_range", "polyphony", "velocity_mean", "velocity_std", "key", "key_correlation",
    ]  # fmt: skip
    json.dumps(m, allow_nan=False)


# -- key estimate --------------------------------------------------------------------------
def c_major_cadence() -> list[tuple[float, float, int]]:
    scale = [(i, 1, p) for i, p in enumerate(C_MAJOR_SCALE + [72])]
    chords = [(60, 64, 67), (65, 69, 72), (67, 71, 74), (60, 64, 72)]  # I IV V I
    return scale + [(8 + 2 * i, 2, p) for i, chord in enumerate(chords) for p in chord]


def a_harmonic_minor() -> list[tuple[float, float, int]]:
    up = [57, 59, 60, 62, 64, 65, 68, 69]
    return [(i, 1, p) for i, p in enumerate(up)] + [(8, 2, p) for p in (57, 60, 64)]


def test_key_of_c_major_cadence():
    m = compute_metrics(make_score(c_major_cadence()))
    assert m["key"] == "C major"
    assert 0.7 < m["key_correlation"] <= 1.0


def test_key_of_c_major_scale():
    notes = [(i, 1, p) for i, p in enumerate(C_MAJOR_SCALE + [72])]
    assert compute_metrics(make_score(notes))["key"] == "C major"


def test_key_of_a_harmonic_minor():
    assert compute_metrics(make_score(a_harmonic_minor()))["key"] == "A minor"


@pytest.mark.parametrize("shift", [1, 2, 5, -3, 6])
def test_transposed_piece_gives_transposed_key(shift):
    for notes, key in ((c_major_cadence(), "C major"), (a_harmonic_minor(), "A minor")):
        score = make_score(notes).shift_pitch(shift)
        assert compute_metrics(score)["key"] == transpose_key(key, shift)


def test_key_weights_duration():
    # Short G-B-D passing notes, a long C-E-G chord: the long notes decide the key.
    notes = [(i * 0.25, 0.25, p) for i, p in enumerate([67, 71, 74, 78] * 2)]
    notes += [(2, 14, p) for p in (48, 60, 64, 67)]
    assert compute_metrics(make_score(notes))["key"] == "C major"


def test_flat_histogram_has_no_key():
    assert estimate_key(np.ones(12)) is None
    assert estimate_key(np.zeros(12)) is None


# -- files ---------------------------------------------------------------------------------
def test_metrics_for_file_round_trip(tmp_path):
    path = tmp_path / "scale.mid"
    make_score([(i * 0.5, 0.5, p) for i, p in enumerate(C_MAJOR_SCALE)]).dump_midi(str(path))
    m = metrics_for_file(path)
    assert m["H1"] == pytest.approx(math.log2(7)) and m["bars"] == 1


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, not a midi file\n", b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00"],
    ids=["empty", "text", "truncated"],
)
def test_corrupt_files_raise_bad_input(tmp_path, content):
    path = tmp_path / "bad.mid"
    path.write_bytes(content)
    with pytest.raises(BadInputError) as info:
        metrics_for_file(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_midi_without_notes_raises_bad_input(tmp_path):
    path = tmp_path / "silent.mid"
    make_score([]).dump_midi(str(path))
    with pytest.raises(BadInputError, match="no notes"):
        metrics_for_file(path)


def test_missing_file_and_folder_raise_bad_input(tmp_path):
    for path in (tmp_path / "missing.mid", tmp_path):
        with pytest.raises(BadInputError):
            metrics_for_file(path)


# -- pairwise ------------------------------------------------------------------------------
def test_note_density_ratio_is_min_over_max():
    sparse = make_score([(q, 1, 60) for q in range(0, 8, 2)])  # 2 notes per bar
    dense = make_score([(q, 1, 60) for q in range(8)])  # 4 notes per bar
    assert note_density_ratio(sparse, dense) == pytest.approx(0.5)
    assert note_density_ratio(dense, sparse) == pytest.approx(0.5)
    assert note_density_ratio(compute_metrics(dense), dense) == pytest.approx(1.0)


def test_velocity_similarity_is_histogram_overlap():
    notes = [(q, 1, 60) for q in range(4)]
    assert velocity_similarity(make_score(notes, velocity=80), make_score(notes, velocity=81)) == 1
    assert velocity_similarity(make_score(notes, velocity=40), make_score(notes, velocity=100)) == 0
    half = velocity_similarity([64, 64, 100, 100], [64, 64, 64, 64])
    assert half == pytest.approx(0.5)


def test_velocity_similarity_refuses_empty():
    with pytest.raises(BadInputError):
        velocity_similarity(make_score([]), [64])


# -- the vectorised code against a direct reading of the definitions -----------------------
def brute_force(score: Score, grid: int) -> dict[str, float | None]:
    """H1, H4, GS and polyphony computed note by note, pair by pair, tick by tick."""
    pitched = [n for t in score.tracks if not t.is_drum for n in t.notes]
    every = [n for t in score.tracks for n in t.notes]
    end = max(max(n.end for n in every), max(n.time for n in every) + 1)
    starts, lengths = bar_grid(score, end)
    n_bars = len(starts)

    def bar_of(tick: int) -> int:
        return max(i for i, s in enumerate(starts) if s <= tick)

    def entropy(window: int) -> float | None:
        window = min(window, n_bars)
        values = []
        for first in range(n_bars - window + 1):
            pcs = [n.pitch % 12 for n in pitched if first <= bar_of(n.time) < first + window]
            if pcs:
                p = np.bincount(pcs, minlength=12) / len(pcs)
                values.append(-sum(x * math.log2(x) for x in p if x > 0))
        return float(np.mean(values)) if values else None

    rows = np.zeros((n_bars, grid), dtype=int)
    for n in every:
        b = bar_of(n.time)
        pos = math.floor((n.time - starts[b]) * grid / lengths[b] + 0.5)
        if pos >= grid:
            b, pos = (b + 1, 0) if b + 1 < n_bars else (b, grid - 1)
        rows[b, pos] = 1
    rows = rows[rows.any(axis=1)]
    pairs = [(i, j) for i in range(len(rows)) for j in range(i + 1, len(rows))]
    gs = [1 - np.sum(rows[i] ^ rows[j]) / grid for i, j in pairs]

    sounding = [sum(n.time <= t < n.end for n in pitched) for t in range(end)]
    busy = [c for c in sounding if c > 0]
    return {
        "H1": entropy(1),
        "H4": entropy(4),
        "GS": float(np.mean(gs)) if gs else None,
        "polyphony": float(np.mean(busy)) if busy else None,
    }


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_metrics_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    score = Score(8)  # coarse ticks keep the tick-by-tick reference fast
    for tick, num, den in ((0, 4, 4), (40, 3, 4), (75, 6, 8), (130, 4, 4)):
        score.time_signatures.append(TimeSignature(tick, num, den))
    for is_drum in (False, False, True):
        track = Track(program=0, is_drum=is_drum)
        for _ in range(int(rng.integers(5, 40))):
            start = int(rng.integers(0, 200))
            track.notes.append(Note(start, int(rng.integers(0, 20)), int(rng.integers(30, 90)), 64))
        score.tracks.append(track)
    m = compute_metrics(score, grid=16)
    for name, expected in brute_force(score, 16).items():
        assert m[name] == pytest.approx(expected), name


def test_scores_in_other_time_units_are_converted():
    score = make_score(c_major_cadence())
    assert compute_metrics(score.to("quarter")) == pytest.approx(compute_metrics(score))


def test_bad_grid_is_refused():
    with pytest.raises(BadInputError):
        compute_metrics(make_score(c_major_cadence()), grid=0)
