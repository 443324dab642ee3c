"""The command line, end to end, as a user runs it: outputs, and one-line errors."""

from __future__ import annotations

import json

import pytest
import symusic
from tests.conftest import assert_one_line_error, make_score, run_cli, run_ok

run = run_ok


def test_help_lists_commands():
    res = run("--help")
    for cmd in ("prepare", "train", "generate", "continue", "explain", "metrics", "data"):
        assert cmd in res.stdout


def test_generate_continue_and_batch(tiny_run, tmp_path):
    out = tmp_path / "x.mid"
    run(
        "generate",
        "a waltz in D major for violin, 4 bars",
        "-o",
        out,
        "--model",
        tiny_run,
        "--seed",
        "1",
    )
    score = symusic.Score(str(out))
    assert score.time_signatures[0].numerator == 3
    assert {t.program for t in score.tracks} == {40}
    cont = tmp_path / "y.mid"
    run("continue", out, "-o", cont, "--bars", 6, "--model", tiny_run, "--seed", "2")
    longer = symusic.Score(str(cont))
    # the input's notes are kept exactly
    src = sorted((n.time, n.pitch) for t in score.tracks for n in t.notes)
    dst = sorted((n.time, n.pitch) for t in longer.tracks for n in t.notes)
    assert set(src) <= set(dst) and len(dst) > len(src)
    # the key asked for is written as a key signature, and a continuation keeps it, also
    # from a type-0 file (one track holding the key signature and every note)
    assert [(k.key, k.tonality) for k in score.key_signatures] == [(2, 0)]
    assert [(k.key, k.tonality) for k in longer.key_signatures] == [(2, 0)]
    import mido

    one = mido.MidiFile(str(out))
    type0 = mido.MidiFile(type=0, ticks_per_beat=one.ticks_per_beat)
    type0.tracks.append(mido.merge_tracks(one.tracks))
    type0.save(str(tmp_path / "t0.mid"))
    run("continue", tmp_path / "t0.mid", "-o", tmp_path / "z.mid", "--bars", 6,
        "--model", tiny_run, "--seed", "2")  # fmt: skip
    z = symusic.Score(str(tmp_path / "z.mid"))
    assert [(k.key, k.tonality) for k in z.key_signatures] == [(2, 0)]
    cfg = tmp_path / "g.yaml"
    cfg.write_text("bars: 2\nprompts:\n  - a reel\n  - prompt: a chorale\n    key: G major\n")
    run(
        "generate",
        "--config",
        cfg,
        "--num-clips",
        3,
        "--out-dir",
        tmp_path / "batch",
        "--model",
        tiny_run,
    )
    assert len(list((tmp_path / "batch").glob("clip_*.mid"))) == 3


def test_metrics_json(tmp_path):
    path = tmp_path / "m.mid"
    make_score(0, (4, 4), 2, 4, [0, 0], seed=1).dump_midi(str(path))
    data = json.loads(run("metrics", "--json", path).stdout)
    assert {"H1", "H4", "GS"} <= set(data)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["generate", "x", "-o", "o.mid", "--key", "H major"], "unknown key"),
        (["generate", "x", "-o", "o.mid", "--instruments", "kazoophone"], "unknown instrument"),
        (["generate", "x", "-o", "o.mid", "--temperature", "0"], "temperature"),
        (["generate", "x", "-o", "o.mid", "--top-p", "1.5"], "top-p"),
        (["generate", "x", "-o", "o.mid", "--bars", "0"], "bars"),
        (["generate", "x", "-o", "o.mid", "--bars", "4", "--seconds", "9"], "bars"),
        (["generate", "x", "-o", "o.txt"], "format"),
        (["continue", "missing.mid", "-o", "o.mid", "--bars", "8"], "does not exist"),
        (["metrics", "nothing.mid"], "nothing.mid"),
        (["train", "--config", "nope.yaml", "--out", "r"], "does not exist"),
    ],
)
def test_bad_input_is_one_clear_line(args, fragment, tiny_run, tmp_path):
    if args[0] in ("generate", "continue"):
        args = [*args, "--model", str(tiny_run)]
    assert_one_line_error(run_cli(*args, cwd=tmp_path), fragment)


def test_corrupt_midi_is_one_clear_line(tiny_run, tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd\x00\x00garbage")
    res = run(
        "continue", bad, "-o", tmp_path / "o.mid", "--bars", 8, "--model", tiny_run, check_ok=False
    )
    assert_one_line_error(res, "bad.mid")


def test_python_api_play_and_save(tiny_run, tmp_path):
    from tunesmith import Composer

    c = Composer.load(tiny_run)
    piece = c("a jig for flute", bars=2, seed=0, candidates=2)
    assert piece.scores and 0.0 <= piece.scores["total"] <= 1.0
    widget = c.play(piece)
    assert widget.data[:4] == b"RIFF"
    back = symusic.Score(str(piece.save(tmp_path / "p.mid")))
    assert sum(len(t.notes) for t in back.tracks) == piece.num_notes
    assert piece.save(tmp_path / "p.wav").read_bytes()[:4] == b"RIFF"
    assert b"score-partwise" in piece.save(tmp_path / "p.musicxml").read_bytes()[:2000]


def test_shipped_default_model_follows_the_request(tmp_path):
    from tunesmith import Composer

    c = Composer.load()  # the model inside the package, no download
    piece = c("A lively Irish reel in D major for fiddle", bars=4, seed=0)
    assert piece.controls.key == "D major" and piece.controls.instruments == [110]
    assert [t.program for t in piece.score.tracks] == [110]
    assert 4 * 2 <= piece.num_notes <= 4 * 32
    assert piece.save(tmp_path / "reel.mid").is_file()
