"""The command's own entry: help with no arguments, --version, usage errors, a Piece's repr."""

from __future__ import annotations

from tests.conftest import make_score, run_cli

from tunesmith.conditioning.controls import Controls
from tunesmith.render.piece import Piece


def test_no_arguments_shows_help_and_succeeds():
    res = run_cli()
    assert res.returncode == 0 and "Usage" in res.stdout and "error" not in res.stderr


def test_version():
    res = run_cli("--version")
    assert res.returncode == 0 and res.stdout.startswith("tunesmith ")


def test_a_typo_is_a_usage_error_without_class_names():
    res = run_cli("generat")
    assert res.returncode == 2 and "No such command 'generat'" in res.stderr
    assert "UsageError" not in res.stderr and "Traceback" not in res.stderr


def test_a_piece_prints_as_one_line():
    piece = Piece(
        make_score(2, (3, 4), 2, 4, [40, 42], seed=1),
        Controls(key="D major", meter="3/4", tempo=96, bars=4),
        tokens=list(range(5000)),
    )
    text = repr(piece)
    assert text.startswith("Piece(4 bars, D major, 3/4, 96 bpm, parts: Violin, Cello;")
    assert "\n" not in text and len(text) < 120
