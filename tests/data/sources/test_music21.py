"""Real conversions from music21's bundled corpus (a handful of pieces: seconds, not minutes)."""

from __future__ import annotations

import json

import pytest
import symusic

from tunesmith.conditioning import instruments as gm
from tunesmith.conditioning.controls import METERS, STYLES
from tunesmith.data.forms import form_from_text, region_from_origin
from tunesmith.data.records import load_records, split_for
from tunesmith.data.sources.music21 import (
    Music21Job,
    abc_jobs,
    convert_job,
    corpus_root,
    extract_music,
    list_jobs,
    prepare_music21,
    skip_reason,
    split_abc,
)
from tunesmith.music.keys import KEYS

REEL_ABC = """X:7
T:Test Tune, The
R:{rhythm}
M:{meter}
L:1/8
K:{key}
|:{bar}|{bar}|{bar}|{bar}:|
"""
BARS = {"C|": "ABcd efga", "C": "ABcd efga", "6/8": "ABc dBA", "9/8": "ABc dBA GEA", "2/4": "AB cA"}


@pytest.fixture(scope="module")
def jobs() -> dict[str, Music21Job]:
    return {j.id: j for j in list_jobs()[0]}


def test_bach_chorale_has_four_voice_tracks(jobs):
    score, record = convert_job(jobs["bach_bwv66.6"])
    assert len(score.tracks) == 4 and record.voices == 4
    assert set(record.programs) <= {gm.CHOIR_AAHS, gm.CHURCH_ORGAN}
    assert len(set(record.programs)) == 1
    assert [t.program for t in score.tracks] == record.programs
    assert record.meter == "4/4" and record.form == "chorale"
    assert record.key == "F# minor" and record.composer == "Johann Sebastian Bach"
    assert record.tune_id == "bach/bwv66.6" and record.split == split_for(record.tune_id)
    assert record.bars == 10 and record.duration_s > 10
    reloaded = symusic.Score.from_midi(score.dumps_midi())
    assert len(reloaded.tracks) == 4
    assert (reloaded.time_signatures[0].numerator, reloaded.time_signatures[0].denominator) == (
        4,
        4,
    )
    assert all(len(t.notes) > 20 for t in reloaded.tracks)
    assert len(record.captions) >= 4


def test_multi_tune_abc_file_yields_one_piece_per_tune(jobs):
    book = [j for j in jobs.values() if j.path == "oneills1850/0001-0050.abc"]
    assert [j.number for j in book] == list(range(1, 51))
    assert len({j.id for j in book}) == 50
    _, first = convert_job(book[0])
    _, second = convert_job(book[1])
    assert (first.title, second.title) == ("The Enchanted Valley", "Fare You Well")
    assert (first.tune_id, second.tune_id) == ("oneills1850/1", "oneills1850/2")
    assert first.region == "Ireland" and first.programs[0] in (110, 73, 78, 21, 0, 46)


def test_split_abc_needs_x_and_k():
    text = "% header\nX:1\nT:a\nK:D\nABC|\n\nX:2\nT:no key\n\nX:3\nT:c\nK:G\nGAB|\n"
    assert [n for n, _ in split_abc(text)] == [1, 3]
    ids = [j.id for j in abc_jobs("miscFolk/book.abc", text + "X:3\nT:again\nK:A\nA|\n")]
    assert ids == ["miscFolk_book_x1", "miscFolk_book_x3_1", "miscFolk_book_x3_2"]


@pytest.mark.parametrize(
    ("rhythm", "meter", "form"),
    [
        ("reel", "C|", "reel"),
        ("double jig", "6/8", "jig"),
        ("Slipjig", "9/8", "slip jig"),
        ("Hornpipe", "C", "hornpipe"),
        ("highland fling", "C", "strathspey"),
        ("polka", "2/4", "polka"),
    ],
)
def test_form_from_abc_rhythm_field(rhythm, meter, form):
    text = REEL_ABC.format(rhythm=rhythm, meter=meter, key="Ador", bar=BARS[meter])
    job = Music21Job(
        id="t_x7", source="ryansMammoth", path="ryansMammoth/Test.abc", text=text, number=7
    )
    _, record = convert_job(job)
    assert record.form == form
    assert record.title == "The Test Tune"
    assert record.key == "A minor" and record.mode == "dorian"
    assert record.meter == {"C|": "2/2", "C": "4/4"}.get(meter, meter)
    assert record.tune_id == "ryansMammoth/Test/7"
    assert record.tempo_estimated and record.tempo is not None


def test_repeat_signs_are_played_out_only_when_asked():
    text = REEL_ABC.format(rhythm="reel", meter="C|", key="D", bar="ABcd efga")
    text = text.replace(":|", ":|\n|:dcBA GFED|dcBA GFED:|")  # |: A :| |: B :| as notated
    job = Music21Job(id="t_x7", source="ryansMammoth", path="ryansMammoth/Test.abc", text=text)
    _, notated = convert_job(job)
    score, played = convert_job(job, expand_repeats=True)
    assert (notated.bars, played.bars) == (6, 12)
    assert played.duration_s == pytest.approx(2 * notated.duration_s, rel=0.01)
    assert sum(t.note_num() for t in score.tracks) == 2 * (4 * 8 + 2 * 8)


def test_form_and_region_words():
    assert form_from_text("The Sailor's Hornpipe") == "hornpipe"
    assert form_from_text("Quick Step. 25th Regt.") == "march"
    assert form_from_text("liebes - lied") == "folk song"
    assert form_from_text("The Blackbird") is None
    assert region_from_origin("Europa, Mitteleuropa, Deutschland") == "Germany"
    assert region_from_origin("Osteuropa, UdSSR, Ukraine") == "Ukraine"


def test_versions_of_one_tune_share_tune_id_and_split(jobs):
    a, b = jobs["oneills1850_0732-0758_bs_x732"], jobs["oneills1850_0732-0758_mh_x732"]
    _, ra = convert_job(a)
    _, rb = convert_job(b)
    assert ra.id != rb.id and ra.tune_id == rb.tune_id == "oneills1850/732"
    assert ra.split == rb.split == split_for("oneills1850/732")


def test_non_music_and_duplicate_files_are_skipped_with_reasons():
    available = {"beethoven/opus18no1/movement1.krn", "beethoven/opus18no1/movement1.mxl"}
    assert skip_reason("beethoven/opus18no1/movement1.mxl", available) == ""
    assert "duplicate" in skip_reason("beethoven/opus18no1/movement1.krn", available)
    assert "roman-numeral" in skip_reason("monteverdi/madrigal.3.1.rntxt", set())
    assert "demo" in skip_reason("demos/layoutTest.xml", set())
    _, skipped = list_jobs(limit=5)
    assert skipped["not a score: roman-numeral analysis (.rntxt)"] > 50


def test_limit_takes_a_stable_sample_spread_over_collections():
    sample = [j.id for j in list_jobs(limit=15)[0]]
    assert sample == [j.id for j in list_jobs(limit=15)[0]]
    assert len(sample) == 15
    assert len({i.split("_")[0] for i in sample}) >= 12
    assert corpus_root().is_dir()


def test_prepare_music21_small_sample(tmp_path):
    report = prepare_music21(tmp_path, limit=12, workers=2)
    assert report.converted + report.n_skipped + report.n_failed == 12
    assert report.converted >= 11
    records = load_records(tmp_path)
    assert len(records) == report.converted == report.pieces_in_index
    for r in records:
        assert (tmp_path / r.midi_path).is_file()
        assert r.split == split_for(r.tune_id)
        assert r.form is None or r.form in STYLES
        assert r.key is None or r.key in KEYS
        assert r.meter is None or r.meter in METERS
        assert r.voices == len(r.programs) == len(symusic.Score(tmp_path / r.midi_path).tracks)
        assert len(set(r.captions)) >= 4
    assert json.loads((tmp_path / "report.json").read_text())["converted"] == report.converted
    again = prepare_music21(tmp_path, limit=12, workers=2)
    assert again.converted == 0 and again.already_done == report.converted


def test_ties_merge_grace_notes_drop_and_dynamics_set_velocity():
    from music21 import dynamics, note, stream, tie

    part = stream.Part()
    part.insert(0, dynamics.Dynamic("pp"))
    first, second = note.Note("C4", quarterLength=1), note.Note("C4", quarterLength=2)
    first.tie, second.tie = tie.Tie("start"), tie.Tie("stop")
    part.append([first, second, note.Note("D4", quarterLength=1).getGrace()])
    part.insert(3, dynamics.Dynamic("ff"))
    part.insert(3, note.Note("E4", quarterLength=1))
    score = stream.Score([part])
    music = extract_music(score)
    assert [(s, d, p) for s, d, p, _ in music.voices[0].notes] == [(0.0, 3.0, 60), (3.0, 1.0, 64)]
    soft, loud = (v for _, _, _, v in music.voices[0].notes)
    assert soft < 80 < loud


def test_essen_titles_are_repaired_and_stripped_of_page_references(jobs):
    _, record = convert_job(jobs["essenFolksong_lux_x99"])
    assert record.title == "Wie die Blümlein draußen zittern"
    assert record.region == "Luxembourg" and record.form == "folk song"
    assert record.tune_id == "essenFolksong/lux/99"
