"""--soundfont, --reverb, --loudness and compressed audio outputs on the commands."""

import pytest
import soundfile
from tests.conftest import assert_one_line_error, run_cli, run_ok

from tunesmith.render.audio import shipped_soundfont
from tunesmith.render.mastering import loudness

# every command that writes a piece, with the arguments it needs besides -o
COMMANDS = [
    ("generate", ["a reel"]),
    ("continue", ["in.mid", "--bars", "8"]),
    ("generate-long", ["a reel"]),
    ("harmonize", ["in.mid"]),
    ("add-part", ["in.mid", "--instrument", "cello"]),
    ("infill", ["in.mid", "--part", "1"]),
]


@pytest.mark.parametrize(("command", "given"), COMMANDS)
def test_missing_or_corrupt_soundfont_is_one_line_and_keeps_what_was_written(
    command, given, tmp_path
):
    out = tmp_path / "piece.flac"
    out.write_bytes(b"yesterday's render")
    fake = tmp_path / "renamed.sf2"
    fake.write_text("not a soundfont at all\n")
    for soundfont, fragment in [
        (tmp_path / "nothere.sf2", "does not exist"),
        (fake, "is not a soundfont"),
    ]:
        res = run_cli(
            command, *given, "-o", out, "--soundfont", soundfont, "--model", tmp_path / "no"
        )
        assert_one_line_error(res, fragment)
        assert str(soundfont) in res.stderr
    assert out.read_bytes() == b"yesterday's render"


def test_unknown_extension_names_the_supported_ones(tmp_path):
    res = run_cli("generate", "a reel", "-o", tmp_path / "x.aiff", "--model", tmp_path / "no")
    assert_one_line_error(res, "unknown output format '.aiff'")
    for ext in (".mid", ".wav", ".flac", ".ogg", ".mp3"):
        assert ext in res.stderr


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        (["--reverb", "1.5"], "reverb must be from 0 (off) to 1"),
        (["--loudness", "loud"], "loudness must be a number of LUFS"),
        (["--loudness=-2"], "loudness must be a target in LUFS from -40 to -6"),
    ],
)
def test_bad_audio_options_are_one_line_before_the_model_loads(option, fragment, tmp_path):
    res = run_cli("generate", "a reel", "-o", tmp_path / "x.wav", *option, "--model", tmp_path)
    assert_one_line_error(res, fragment)


def test_explain_names_the_soundfont(tmp_path):
    res = run_ok("explain", "a reel", "--soundfont", shipped_soundfont())
    assert f"audio: soundfont {shipped_soundfont()} (given)" in res.stdout
    res = run_cli("explain", "a reel", "--soundfont", tmp_path / "none.sf2")
    assert_one_line_error(res, "does not exist")


def test_generate_writes_compressed_audio_at_the_loudness_asked(tiny_run, tmp_path):
    common = ["--model", tiny_run, "--seed", 3, "--bars", 4, "--instruments", "piano"]
    sf = ["--soundfont", shipped_soundfont()]
    run_ok("generate", "", "-o", tmp_path / "a.ogg", *common, *sf)
    run_ok("generate", "", "-o", tmp_path / "b.flac", *common, *sf, "--loudness", "-20")
    run_ok("generate", "", "-o", tmp_path / "c.mp3", *common, *sf, "--reverb", "0")
    for name, target in [("a.ogg", -16.0), ("b.flac", -20.0), ("c.mp3", -16.0)]:
        audio, rate = soundfile.read(tmp_path / name, dtype="float32")
        assert rate == 44100 and audio.shape[1] == 2
        assert loudness(audio, rate) == pytest.approx(target, abs=1.0)


def test_batch_mode_renders_audio_clips_with_the_audio_options(tiny_run, tmp_path):
    config = tmp_path / "batch.yaml"
    config.write_text("format: flac\nbars: 2\nprompts:\n  - a short tune for piano\n")
    run_ok(
        "generate", "--config", config, "--num-clips", 1, "--out-dir", tmp_path / "clips",
        "--model", tiny_run, "--soundfont", shipped_soundfont(), "--loudness", "-20",
    )  # fmt: skip
    audio, rate = soundfile.read(tmp_path / "clips" / "clip_00000.flac", dtype="float32")
    assert loudness(audio, rate) == pytest.approx(-20.0, abs=1.0)
