"""Sheet music and ABC from the command line: ABC wherever a MIDI file is read (with
--tune for a book of tunes), -o .svg/.abc on the commands that write a piece."""

from __future__ import annotations

import json

from tests.conftest import assert_one_line_error, run_cli, run_ok

BOOK = """X:3
T:The First
M:6/8
L:1/8
K:G
D|GAB cBA|G3 G2 D|GAB cBA|G3 G2|]

X:7
T:The Second
M:4/4
L:1/8
K:Am
A2 c2 e2 c2|d2 f2 a2 f2|e8|]
"""


def test_chords_and_metrics_read_abc(tmp_path):
    book = tmp_path / "book.abc"
    book.write_text(BOOK)
    res = run_ok("chords", book)
    assert res.stdout.split()[:2] == ["1", "|"] and "G" in res.stdout
    notes = [line for line in res.stderr.splitlines() if line.strip()]
    assert notes == [
        f"note: {book} holds 2 tunes; read the first (X:3 'The First'); pick another with --tune N"
    ]
    second = run_ok("chords", book, "--tune", "7", "--json")
    assert [c["symbol"] for c in json.loads(second.stdout)] == ["Am", "Dm", "E"]
    assert second.stderr.strip() == ""
    metrics = json.loads(run_ok("metrics", "--json", book).stdout)
    assert metrics["bars"] == 5  # the pickup bar and four more


def test_bad_abc_input_is_one_line(tmp_path):
    book = tmp_path / "book.abc"
    book.write_text(BOOK)
    assert_one_line_error(
        run_cli("chords", book, "--tune", "9"), "no tune X:9; its tunes are X: 3, 7"
    )
    empty = tmp_path / "empty.abc"
    empty.write_text("X:1\nT:nothing\nK:C\n")
    assert_one_line_error(run_cli("chords", empty), "has no notes")
    junk = tmp_path / "junk.abc"
    junk.write_text("hello\n")
    assert_one_line_error(run_cli("metrics", junk), "is not ABC")


def test_continue_an_abc_tune_and_write_svg_and_abc(tiny_run, tmp_path):
    book = tmp_path / "book.abc"
    book.write_text(BOOK)
    out = tmp_path / "longer.abc"
    res = run_ok("continue", book, "--tune", "7", "--bars", "5", "-o", out, "--model", tiny_run)
    text = out.read_text()
    assert text.startswith("X:1\n") and "K:Am" in text and "M:4/4" in text
    assert text.count("|") >= 5 and '"' in text  # bars, and chord symbols over them
    svg = tmp_path / "longer.svg"
    run_ok("continue", book, "--bars", "7", "-o", svg, "--svg-pages", "single", "--lead-sheet",
           "--model", tiny_run)  # fmt: skip
    assert svg.read_text().startswith("<svg") and 'class="harm"' in svg.read_text()
    assert "wrote" in res.stdout
    bad = run_cli("generate", "", "-o", tmp_path / "x.svg", "--svg-pages", "columns",
                  "--model", tiny_run)  # fmt: skip
    assert_one_line_error(bad, "unknown SVG page layout 'columns'")
    assert not (tmp_path / "x.svg").exists()
