"""harmonize, add-part, infill and chords as a user runs them; the same through the API."""

from __future__ import annotations

import json

import pytest
import symusic
from tests.conftest import assert_one_line_error, make_score, run_cli, run_ok


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("parts")
    make_score(0, (4, 4), 1, 4, [73], seed=3).dump_midi(str(d / "melody.mid"))
    make_score(7, (3, 4), 2, 4, [40, 42], seed=5).dump_midi(str(d / "duo.mid"))
    return d


def notes(path, track):
    s = symusic.Score(str(path))
    return sorted((n.time, n.pitch, n.duration) for n in s.tracks[track].notes)


def test_harmonize_keeps_the_melody(files, tiny_run):
    out = files / "h.mid"
    res = run_ok(
        "harmonize", files / "melody.mid", "-o", out, "--voices", 3, "--style", "quartet",
        "--model", tiny_run, "--seed", 1,
    )  # fmt: skip
    assert "wrote" in res.stdout
    s = symusic.Score(str(out))
    assert [t.program for t in s.tracks] == [40, 40, 41]
    assert notes(out, 0) == notes(files / "melody.mid", 0)


def test_add_part_and_infill_keep_the_other_parts(files, tiny_run):
    added = files / "a.mid"
    run_ok(
        "add-part", files / "duo.mid", "-o", added, "--instrument", "bassoon",
        "--model", tiny_run, "--seed", 2, "--chords", "G D | C G",
    )  # fmt: skip
    s = symusic.Score(str(added))
    assert [t.program for t in s.tracks] == [40, 42, 70] and len(s.tracks[2].notes)
    assert notes(added, 0) == notes(files / "duo.mid", 0)
    assert notes(added, 1) == notes(files / "duo.mid", 1)
    rewritten = files / "i.mid"
    run_ok("infill", added, "--part", 2, "-o", rewritten, "--model", tiny_run, "--seed", 3)
    for track in (0, 2):
        assert notes(rewritten, track) == notes(added, track)


def test_chords_prints_a_chart_and_json(files):
    res = run_ok("chords", files / "duo.mid")
    assert res.stdout.splitlines()[0].strip().startswith("1 |")
    rows = json.loads(run_ok("chords", files / "duo.mid", "--json", "--per", "beat").stdout)
    assert len(rows) == 12 and {"bar", "beat", "symbol", "root", "quality", "bass"} <= set(rows[0])


def test_api_harmonize_and_chords(files, tiny_run):
    from tunesmith import Composer

    c = Composer.load(tiny_run)
    piece = c.harmonize(files / "melody.mid", voices=2, chords="I V | vi IV", key="C major", seed=4)
    assert len(piece.score.tracks) == 2 and piece.chords is not None
    assert [ch.symbol for ch in piece.chords[1]] == ["Am", "F"]  # numerals read in C major
    spans = Composer.chords(piece.score)
    assert len(spans) == 4


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["harmonize", "missing.mid", "-o", "x.mid"], "does not exist"),
        (["harmonize", "{melody}", "-o", "x.mid", "--style", "bebop"], "unknown style"),
        (["harmonize", "{melody}", "-o", "x.mid", "--voices", "7"], "voices must be"),
        (["harmonize", "{melody}", "-o", "x.mid", "--chords", "C Q7"], "unknown chord 'Q7'"),
        (["add-part", "{duo}", "-o", "x.mid", "--instrument", "kazooo"], "unknown instrument"),
        (["infill", "{duo}", "-o", "x.mid", "--part", "5"], "part 5 does not exist"),
        (["infill", "{duo}", "-o", "x.mid", "--part", "0"], "part must be 1 or more"),
        (["infill", "{duo}", "-o", "x.mid"], "give --part N or --bars I-J"),
        (["infill", "{duo}", "-o", "x.mid", "--part", "1", "--bars", "2"], "one of them"),
        (["infill", "{duo}", "-o", "x.mid", "--bars", "two-3"], "bars must look like 5-8"),
        (["infill", "{duo}", "-o", "x.mid", "--bars", "3-2"], "not a span of bars"),
        (["infill", "{duo}", "-o", "x.mid", "--bars", "2-3"], "trained without infill"),
        (["chords", "{duo}", "--per", "minute"], "per must be"),
        (["chords", "{empty}"], "not a valid MIDI"),
    ],
)
def test_bad_input_is_one_clear_line(files, tiny_run, args, fragment):
    (files / "empty.mid").write_bytes(b"")
    args = [
        a.format(melody=files / "melody.mid", duo=files / "duo.mid", empty=files / "empty.mid")
        for a in args
    ]
    extra = ["--model", str(tiny_run)] if args[0] != "chords" else []
    assert_one_line_error(run_cli(*args, *extra, cwd=files), fragment)


def test_chord_track_on_generate(files, tiny_run):
    out = files / "ct.mid"
    run_ok(
        "generate", "a hymn", "-o", out, "--bars", 2, "--chords", "F C", "--key", "F major",
        "--chord-track", "--model", tiny_run, "--seed", 1,
    )  # fmt: skip
    s = symusic.Score(str(out))
    assert s.tracks[-1].name == "Chords"
    assert {n.pitch % 12 for n in s.tracks[-1].notes} == {5, 9, 0, 7, 4}  # F A C, C E G


def test_infill_bars_keeps_the_other_bars(files, tiny_run_v2):
    out = files / "bars.mid"
    res = run_ok(
        "infill", files / "duo.mid", "--bars", "2-3", "-o", out, "--model", tiny_run_v2,
        "--seed", 2,
    )  # fmt: skip
    assert "wrote" in res.stdout
    bar = 3 * 480  # 3/4

    def kept(path, track):
        return [n for n in notes(path, track) if not bar <= n[0] < 3 * bar]

    for track in (0, 1):
        assert kept(out, track) == kept(files / "duo.mid", track)
    assert_one_line_error(
        run_cli("infill", files / "duo.mid", "--bars", "3-9", "-o", "x.mid", "--model",
                tiny_run_v2, cwd=files),
        "outside the piece, which has 4 bars",
    )  # fmt: skip


def test_candidates_of_a_harmonization_are_chosen_by_voice_leading(files, tiny_run):
    from tunesmith import Composer
    from tunesmith.generate import parts
    from tunesmith.generate.sampling import SamplingConfig
    from tunesmith.music.voice_leading import voice_leading_faults
    from tunesmith.render.piece import Piece

    c = Composer.load(tiny_run)
    melody = symusic.Score(str(files / "melody.mid"))
    req = parts.harmonize(c.engine, melody, SamplingConfig(seed=7), voices=4, n=4)
    faults = [
        voice_leading_faults(Piece.from_tokens(c.tokenizer, r.ids, req.controls).score)
        for r in req.results
    ]
    best = c._best(req.results, req.controls, "", None, voice_leading=True)
    assert best.scores["voice_leading_faults"] == min(faults)
    assert voice_leading_faults(best.score) == min(faults)
