"""--performance and --humanize on generate, continue and generate-long."""

import pytest
import symusic
from tests.conftest import assert_one_line_error, run_cli, run_ok


@pytest.mark.parametrize(
    ("command", "option", "fragment"),
    [
        ("generate", ["--performance", "loud"], "unknown performance 'loud'"),
        ("generate", ["--humanize", "500"], "humanize must be between 0 and 50 ms"),
        ("continue", ["--humanize=-1"], "humanize must be between 0 and 50 ms"),
        ("generate-long", ["--performance", "none", "--humanize", "5"], "performance none"),
    ],
)
def test_bad_performance_options_are_one_line_before_the_model_loads(
    command, option, fragment, tmp_path
):
    given = ["in.mid", "--bars", "8"] if command == "continue" else ["a tune"]
    res = run_cli(command, *given, "-o", tmp_path / "x.mid", *option, "--model", tmp_path / "no")
    assert_one_line_error(res, fragment)
    flag = "--performance" if "loud" in option else "--humanize"
    assert f"({flag})" in res.stderr  # the option at fault, by the name the user typed


def test_generate_is_performed_by_default_and_none_is_as_written(tiny_run, tmp_path):
    common = ["--model", tiny_run, "--seed", 3, "--bars", 4, "--instruments", "piano"]
    run_ok("generate", "", "-o", tmp_path / "played.mid", *common)
    run_ok("generate", "", "-o", tmp_path / "plain.mid", *common, "--performance", "none")
    played = symusic.Score(str(tmp_path / "played.mid"))
    plain = symusic.Score(str(tmp_path / "plain.mid"))

    def notes(score):
        return sorted((n.time, n.pitch) for t in score.tracks for n in t.notes)

    assert notes(played) == notes(plain) and notes(plain)  # the grid stays as written
    assert {n.velocity for t in plain.tracks for n in t.notes} == {80}
    assert len({n.velocity for t in played.tracks for n in t.notes}) > 3
    assert any(c.number == 64 for c in played.tracks[0].controls)
    assert not any(len(t.controls) for t in plain.tracks)
