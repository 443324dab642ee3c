"""Progress on stderr, results on stdout: --quiet silences the progress, --json makes the
results one JSON object a line. TUNESMITH_PROGRESS=1 shows the display on a pipe too."""

from __future__ import annotations

import json

import pytest
from tests.conftest import run_ok


@pytest.fixture
def progress_on(monkeypatch):
    monkeypatch.setenv("TUNESMITH_PROGRESS", "1")


def _json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_generate_shows_progress_and_prints_json(tiny_run, tmp_path, progress_on):
    out = tmp_path / "x.mid"
    args = ("generate", "a reel for fiddle, 4 bars", "-o", out, "--model", tiny_run)
    res = run_ok(*args, "--candidates", "2", "--seed", "1")
    assert "generating 2 candidates" in res.stderr and "bars" in res.stderr
    assert res.stdout.startswith(f"wrote {out}") and len(res.stdout.splitlines()) == 1
    res = run_ok(*args, "--json", "--seed", "1")
    (row,) = _json_lines(res.stdout)
    assert row["output"] == str(out) and row["notes"] > 0 and row["seconds"] > 0
    assert "generating" in res.stderr  # the display stays on stderr
    res = run_ok(*args, "--quiet", "--json", "--seed", "1")
    assert res.stderr == "" and _json_lines(res.stdout)[0]["output"] == str(out)


def test_batch_long_form_and_evaluate(tiny_run, tmp_path, progress_on):
    cfg = tmp_path / "g.yaml"
    cfg.write_text("bars: 2\nprompts:\n  - a reel\n  - a chorale\n")
    clips = tmp_path / "clips"
    res = run_ok(
        "generate", "--config", cfg, "--num-clips", "2", "--out-dir", clips,
        "--model", tiny_run, "--json",
    )  # fmt: skip
    (row,) = _json_lines(res.stdout)
    assert len(row["clips"]) == 2 and "generating clips" in res.stderr
    long = tmp_path / "long.mid"
    res = run_ok(
        "generate-long", "a reel", "-o", long, "--chunks", "2", "--chunk-bars", "2",
        "--candidates", "2", "--model", tiny_run, "--json",
    )  # fmt: skip
    # the bar counts the chunks (its label may skip "chunk 2/2" between refreshes)
    assert "2/2" in res.stderr
    assert _json_lines(res.stdout)[0]["chunks"] == 2
    res = run_ok("evaluate", "--generated", clips, "--out-dir", tmp_path / "ev", "--json", "-q")
    (row,) = _json_lines(res.stdout)
    assert row["pieces"] == 2 and row["report"].endswith("report.md")
    res = run_ok("explain", "a waltz for violin and cello", "--json")
    row = _json_lines(res.stdout)[0]
    assert {"attribute": "meter", "value": "3/4", "from_text": "waltz"} in row["attributes"]
