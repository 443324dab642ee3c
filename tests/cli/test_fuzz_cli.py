"""Fuzzing the commands that read files (hypothesis; a few examples each): whatever the
bytes, the command ends with success or one designed line on stderr and exit 1 or 2,
never a traceback or the internal-error line (exit 70)."""

from __future__ import annotations

import itertools
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from tests.fuzzing import midi_files

from tunesmith.cli import main

FUZZ = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)
_names = itertools.count()


def run_main(monkeypatch, capfd, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["tunesmith", *args])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = int(e.code or 0)
    return code, capfd.readouterr().err


def assert_designed(code: int, err: str) -> None:
    assert "Traceback" not in err and "internal error" not in err, err
    assert code in (0, 1, 2), (code, err)
    if code:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), err


@pytest.mark.parametrize("command", [["metrics"], ["metrics", "--json"], ["chords"]])
def test_fuzz_reading_commands(command, tmp_path, monkeypatch, capfd):
    @settings(max_examples=25, **FUZZ)
    @given(data=midi_files())
    def run(data):
        path = tmp_path / f"f{next(_names)}.mid"
        path.write_bytes(data)
        assert_designed(*run_main(monkeypatch, capfd, *command, str(path)))

    run()


@pytest.mark.parametrize(
    "command",
    [
        ["continue", "--bars", "3"],
        ["harmonize", "--voices", "2"],
        ["add-part", "--instrument", "cello"],
        ["infill", "--part", "1"],
    ],
)
def test_fuzz_model_commands(command, tiny_run, tmp_path, monkeypatch, capfd):
    @settings(max_examples=4, **FUZZ)
    @given(data=midi_files())
    def run(data):
        n = next(_names)
        path, out = tmp_path / f"in{n}.mid", tmp_path / f"out{n}.mid"
        path.write_bytes(data)
        args = [command[0], str(path), *command[1:], "--model", str(tiny_run), "-o", str(out)]
        assert_designed(*run_main(monkeypatch, capfd, *args, "--seed", "1"))

    run()


def test_file_errors_are_designed(tmp_path, monkeypatch, capfd):
    code, err = run_main(monkeypatch, capfd, "metrics", str(tmp_path / "missing.mid"))
    assert_designed(code, err)
    code, err = run_main(monkeypatch, capfd, "chords", str(tmp_path))  # a folder
    assert_designed(code, err)
