"""`prepare_midi_folder`: analysis, captions files, failures, resume and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import symusic

from tunesmith.conditioning.instruments import CELLO, DRUMS, PIANO, VIOLIN
from tunesmith.data.midi_folder import (
    density_word,
    match_captions,
    piece_ids,
    prepare_midi_folder,
    read_captions,
    style_from_genres,
)
from tunesmith.data.records import load_records
from tunesmith.errors import BadInputError

TPQ = 480
# One bar each of the C major tonic, subdominant, dominant and tonic triads.
_C_MAJOR_BARS = [(60, 64, 67), (65, 69, 72), (67, 71, 74), (72, 67, 64)]
_CELLO_ROOTS = [48, 53, 43, 48]


def c_major_waltz(bars: int = 8) -> symusic.Score:
    """Violin arpeggios over cello roots in 3/4 at 90 bpm: unmistakably C major."""
    score = symusic.Score(TPQ)
    score.time_signatures.append(symusic.TimeSignature(0, 3, 4))
    score.tempos.append(symusic.Tempo(0, 90.0))
    violin = symusic.Track(name="Violin", program=VIOLIN)
    cello = symusic.Track(name="Cello", program=CELLO)
    for b in range(bars):
        start = b * 3 * TPQ
        for i, pitch in enumerate(_C_MAJOR_BARS[b % 4]):
            violin.notes.append(symusic.Note(start + i * TPQ, TPQ, pitch, 80))
        cello.notes.append(symusic.Note(start, 3 * TPQ, _CELLO_ROOTS[b % 4], 70))
    score.tracks.extend([violin, cello])
    return score


def drum_groove(bars: int = 4) -> symusic.Score:
    """A 4/4 piano part with a busy drum track (sixteenth hi-hats, kick and snare)."""
    score = symusic.Score(TPQ)
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    score.tempos.append(symusic.Tempo(0, 120.0))
    drums = symusic.Track(name="Drums", program=0, is_drum=True)
    piano = symusic.Track(name="Piano", program=PIANO)
    for b in range(bars):
        start = b * 4 * TPQ
        for s in range(16):
            drums.notes.append(symusic.Note(start + s * TPQ // 4, TPQ // 4, 42, 90))
        for beat in range(4):
            drums.notes.append(
                symusic.Note(start + beat * TPQ, TPQ // 4, 36 if beat % 2 else 38, 100)
            )
            for pitch in (57, 60, 64):
                piano.notes.append(symusic.Note(start + beat * TPQ, TPQ, pitch, 70))
    score.tracks.extend([drums, piano])
    return score


@pytest.fixture
def midi_dir(tmp_path: Path) -> Path:
    """waltz.mid, grooves/Groove.MID, a corrupt and an empty file, and a non-MIDI file."""
    folder = tmp_path / "in"
    (folder / "grooves").mkdir(parents=True)
    c_major_waltz().dump_midi(str(folder / "waltz.mid"))
    drum_groove().dump_midi(str(folder / "grooves" / "Groove.MID"))
    (folder / "broken.mid").write_bytes(b"MThd this is not really a MIDI file")
    (folder / "empty.midi").write_bytes(b"")
    (folder / "notes.txt").write_text("not music")
    return folder


def _records(out: Path) -> dict[str, object]:
    return {r.id: r for r in load_records(out)}


def test_analysis_without_captions(midi_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = prepare_midi_folder(midi_dir, out, workers=1)
    assert report.midi_files == 4 and report.converted == 2
    assert report.failed == {"CorruptMidiError: not a valid MIDI file": 1}
    assert report.skipped == {"empty file (0 bytes)": 1}
    assert json.loads((out / "report.json").read_text())["captions_matched"] == 0

    records = _records(out)
    assert set(records) == {"waltz", "grooves_Groove"}
    waltz = records["waltz"]
    assert (waltz.key, waltz.meter, waltz.programs, waltz.voices) == ("C major", "3/4", [40, 42], 2)
    assert waltz.tempo == pytest.approx(90.0) and not waltz.tempo_estimated
    assert waltz.bars == 8 and waltz.duration_s == pytest.approx(16.0, abs=0.1)
    assert waltz.source == "midi" and waltz.split in ("train", "val", "test")
    assert waltz.extra["caption_source"] == "synthesised"
    text = " ".join(waltz.captions).lower()
    assert len(waltz.captions) >= 4
    assert "c major" in text and "violin" in text and "cello" in text
    assert "3/4" in text or "triple" in text or "three beats" in text
    assert "sparse" in text  # 4 notes per bar

    groove = records["grooves_Groove"]
    assert groove.programs == [DRUMS, PIANO] and groove.meter == "4/4" and groove.tempo == 120
    assert any("drum" in c.lower() for c in groove.captions)
    assert "dense" in " ".join(groove.captions)  # 23 notes per bar and more

    midi = symusic.Score(str(out / groove.midi_path))
    assert [t.is_drum for t in midi.tracks] == [True, False]
    assert [t.program for t in midi.tracks][1:] == [PIANO]


def test_resume_skips_finished_pieces(midi_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = prepare_midi_folder(midi_dir, out, workers=1)
    record_file = out / "records" / "waltz.json"
    stamp = record_file.stat().st_mtime_ns
    second = prepare_midi_folder(midi_dir, out, workers=1)
    assert second.already_done == first.converted == 2
    assert second.converted == 0 and second.n_failed == 1 and second.n_skipped == 1
    assert record_file.stat().st_mtime_ns == stamp
    assert second.pieces_in_index == 2


def test_output_inside_input_is_not_read_back(midi_dir: Path) -> None:
    out = midi_dir / "prepared"
    prepare_midi_folder(midi_dir, out, workers=1)
    again = prepare_midi_folder(midi_dir, out, workers=1)
    assert again.midi_files == 4 and again.already_done == 2


def test_jsonl_captions_override_analysis(midi_dir: Path, tmp_path: Path) -> None:
    rows = [
        {
            "location": "lmd_full/w/waltz.mid",  # another prefix: matched by file name
            "caption": "A gentle classical waltz for violin and cello in C major.",
            "genre": ["classical", "soundtrack"],
            "mood": ["calm"],
            "key": "C major",
            "time_signature": "3/4",
            "tempo": 92,
            "instrument_summary": ["Violin", "Cello"],
            "test_set": True,
        },
        {"location": "grooves/Groove.MID", "caption": "A driving rock groove.", "genre": ["rock"],
         "key": "A minor", "time_signature": "4/4", "tempo": 124},
        {"location": "missing.mid", "caption": "Not in the folder."},
    ]  # fmt: skip
    captions = tmp_path / "captions.jsonl"
    captions.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    report = prepare_midi_folder(midi_dir, tmp_path / "out", captions=captions, workers=1)
    assert (report.captions_rows, report.captions_matched) == (3, 2)

    records = _records(tmp_path / "out")
    waltz = records["waltz"]
    assert waltz.captions[0] == rows[0]["caption"] and len(waltz.captions) >= 4
    assert (waltz.form, waltz.key, waltz.meter, waltz.tempo) == ("classical", "C major", "3/4", 92)
    assert waltz.split == "test" and waltz.extra["mood"] == ["calm"]
    assert waltz.extra["caption_source"] == "captions file"
    assert any("classical" in c for c in waltz.captions[1:])
    groove = records["grooves_Groove"]
    assert (groove.form, groove.key, groove.tempo) == ("rock", "A minor", 124)
    assert groove.captions[0] == "A driving rock groove."


def test_csv_captions(midi_dir: Path, tmp_path: Path) -> None:
    captions = tmp_path / "captions.csv"
    captions.write_text(
        "location,caption,genre,key,time_signature,tempo\n"
        "waltz.mid,\"A hip-hop beat, oddly in 3/4.\",\"['hiphop', 'pop']\",Eb major,3/4,88\n"
    )
    prepare_midi_folder(midi_dir, tmp_path / "out", captions=captions, workers=1)
    waltz = _records(tmp_path / "out")["waltz"]
    assert waltz.captions[0] == "A hip-hop beat, oddly in 3/4."
    assert (waltz.form, waltz.key, waltz.tempo) == ("hip hop", "Eb major", 88)
    groove = _records(tmp_path / "out")["grooves_Groove"]
    assert groove.extra["caption_source"] == "synthesised" and groove.form is None


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.mkdir(), "is empty"),
        (lambda p: (p.mkdir(), (p / "a.txt").write_text("x")), "no .mid or .midi files"),
    ],
)
def test_bad_folders(tmp_path: Path, setup, message: str) -> None:
    folder = tmp_path / "in"
    setup(folder)
    with pytest.raises(BadInputError, match=message):
        prepare_midi_folder(folder, tmp_path / "out", workers=1)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.jsonl", None, "cannot read"),
        ("bad.jsonl", '{"location": "a.mid"}\n{not json\n', "line 2"),
        ("bad.csv", "file,text\na.mid,hello\n", "no 'location' column"),
        ("nolocation.jsonl", '{"caption": "x"}\n', "no rows with a 'location'"),
        ("binary.jsonl", b"\xff\xfe\x00garbage", "cannot read"),
    ],
)
def test_unreadable_captions(midi_dir: Path, tmp_path: Path, name, content, message) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(BadInputError, match=message):
        prepare_midi_folder(midi_dir, tmp_path / "out", captions=path, workers=1)
    assert not (tmp_path / "out").exists()  # refused before any work


def test_matching_and_mapping_helpers(tmp_path: Path) -> None:
    rows = [{"location": "lmd/a/x.mid", "caption": "1"}, {"location": "lmd/b/x.mid", "caption": "2"},
            {"location": "y.mid", "caption": "3"}]  # fmt: skip
    matched = match_captions(["b/x.mid", "deep/y.mid", "z.mid"], rows)
    assert [m and m["caption"] for m in matched] == ["2", "3", None]
    assert style_from_genres(["experimental", "hiphop"]) == "hip hop"
    assert style_from_genres("['newage', 'classical']") == "ambient"
    assert style_from_genres(["Slip Jig"]) == "slip jig" and style_from_genres([]) is None
    assert piece_ids(["a b.mid", "a_b.midi", "c.mid"])[2] == "c"
    assert len(set(piece_ids(["a b.mid", "a_b.midi"]))) == 2
    assert (density_word(3), density_word(12), density_word(30)) == ("sparse", "", "dense")
    path = tmp_path / "c.json"
    path.write_text(json.dumps([{"location": "a.mid", "caption": "x", "all_chords": ["C"]}]))
    assert read_captions(path) == [{"location": "a.mid", "caption": "x"}]


def test_note_less_files_and_too_many_tracks(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    symusic.Score(TPQ).dump_midi(str(folder / "silent.mid"))
    big = symusic.Score(TPQ)
    for i in range(18):  # track i has i + 1 notes: the two sparsest go
        track = symusic.Track(name=f"t{i}", program=i)
        track.notes.extend(symusic.Note(j * TPQ, TPQ, 60 + i, 80) for j in range(i + 1))
        big.tracks.append(track)
    big.dump_midi(str(folder / "big.mid"))
    report = prepare_midi_folder(folder, tmp_path / "out", workers=1)
    assert report.skipped == {"no notes": 1} and report.converted == 1
    record = _records(tmp_path / "out")["big"]
    assert record.programs == list(range(2, 18)) and record.extra["dropped_tracks"] == 2
    assert record.meter is None and record.tempo == 120 and record.tempo_estimated
