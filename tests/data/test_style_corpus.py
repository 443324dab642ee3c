"""A folder of MIDI files as a fine-tune corpus of one style: skips counted, a held-out part,
every piece labelled with the style and captioned with the user's word."""

from __future__ import annotations

import pytest
from tests.conftest import write_style_folder

from tunesmith.data.records import load_records
from tunesmith.data.style_corpus import (
    DRUMS_ONLY,
    DUPLICATE,
    UNREADABLE,
    load_style_report,
    prepare_style_corpus,
)
from tunesmith.errors import BadInputError


def test_a_style_folder_becomes_a_corpus_with_skips_counted(tmp_path):
    folder = write_style_folder(tmp_path / "mine", n=12)
    report = prepare_style_corpus(folder, tmp_path / "corpus", "world", "game tune", workers=1)
    assert report.midi_files == 16
    assert report.skipped == {UNREADABLE: 2, DRUMS_ONLY: 1, DUPLICATE: 1}
    assert report.pieces == 12 and report.val == 1 and report.train == 11
    records = load_records(tmp_path / "corpus")
    assert len(records) == 12
    assert {r.form for r in records} == {"world"}
    assert sorted(r.split for r in records).count("val") == 1
    # the captions name the style by the user's word, never by the control it trains
    assert all(any("game tune" in c for c in r.captions) for r in records)
    assert not any("world" in c for r in records for c in r.captions)
    assert load_style_report(tmp_path / "corpus") == report
    # a rerun (a resumed fine-tune) holds out the same piece
    again = prepare_style_corpus(folder, tmp_path / "corpus", "world", "game tune", workers=1)
    assert again.val == 1 and again.pieces == 12
    val = [r.id for r in load_records(tmp_path / "corpus") if r.split == "val"]
    assert val == [r.id for r in records if r.split == "val"]


def test_too_few_usable_pieces_is_one_clear_error(tmp_path):
    single = write_style_folder(tmp_path / "one", n=1, extras=False)
    with pytest.raises(BadInputError, match="holds a single MIDI file"):
        prepare_style_corpus(single, tmp_path / "c1", "world", "x tune", workers=1)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.mid").write_bytes(b"junk")
    (bad / "b.mid").write_bytes(b"")
    with pytest.raises(
        BadInputError, match=r"none of the 2 MIDI files .* \(skipped 2 unreadable\)"
    ):
        prepare_style_corpus(bad, tmp_path / "c2", "world", "x tune", workers=1)
