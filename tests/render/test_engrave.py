"""Sheet music: MusicXML engraved to SVG by verovio, one file per page or one tall page."""

from __future__ import annotations

import pytest
import symusic

from tunesmith.conditioning.controls import Controls
from tunesmith.errors import BadInputError
from tunesmith.music.chords import Chord
from tunesmith.render.engrave import page_paths, score_svgs
from tunesmith.render.piece import Piece


def _piece(bars: int) -> Piece:
    s = symusic.Score(480)
    s.time_signatures.append(symusic.TimeSignature(0, 3, 4))
    s.tempos.append(symusic.Tempo(0, 90))
    flute, cello = symusic.Track(program=73, name="Flute"), symusic.Track(program=42, name="Cello")
    for i in range(bars * 3):
        flute.notes.append(symusic.Note(i * 480, 480, 67 + (i * 5) % 12, 80))
    for bar in range(bars):
        cello.notes.append(symusic.Note(bar * 1440, 1440, 43 + (bar * 7) % 12, 80))
    s.tracks.append(flute)
    s.tracks.append(cello)
    progression = [[Chord(7, "maj")], [Chord(0, "maj")], [Chord(2, "7")]]
    return Piece(score=s, controls=Controls(key="G major"), prompt="a waltz", chords=progression)


def test_one_page_svg_has_parts_clefs_signatures_and_chords(tmp_path):
    piece = _piece(4)
    path = piece.save(tmp_path / "score.svg")
    assert path == tmp_path / "score.svg" and piece.files == [path]
    svg = path.read_text()
    assert svg.startswith("<svg") and "Verovio" in svg
    assert svg.count('class="staff"') >= 2 * 2  # two parts on at least one system
    assert 'class="clef"' in svg and 'class="keySig"' in svg and 'class="meterSig"' in svg
    assert svg.count('class="harm"') == 4  # a chord symbol on each bar: G C D7 G


def test_long_scores_split_into_pages_or_one_tall_page(tmp_path):
    piece = _piece(96)
    files = [piece.save(tmp_path / "long.svg"), *piece.files[1:]]
    assert len(piece.files) > 1
    assert piece.files == page_paths(tmp_path / "long.svg", len(piece.files))
    assert [f.name for f in piece.files[:2]] == ["long-1.svg", "long-2.svg"]
    assert all(f.read_text().startswith("<svg") for f in files)
    tall = piece.save(tmp_path / "tall.svg", svg_pages="single")
    assert piece.files == [tall] and tall.name == "tall.svg"
    assert tall.read_text().count('class="staff"') > files[0].read_text().count('class="staff"')


def test_lead_sheet_svg_has_one_staff_per_system():
    piece = _piece(4)
    full = score_svgs(piece.notation_score(), chords=piece.chord_spans())[0]
    lead = score_svgs(piece.notation_score(lead_sheet=True), chords=piece.chord_spans())[0]
    assert lead.count('class="staff"') * 2 == full.count('class="staff"')
    assert 'class="harm"' in lead


def test_unknown_page_layout_is_refused_before_any_work(tmp_path):
    with pytest.raises(BadInputError, match="split, single") as e:
        _piece(2).save(tmp_path / "x.svg", svg_pages="columns")
    assert e.value.field == "svg_pages"
    assert not (tmp_path / "x.svg").exists()
