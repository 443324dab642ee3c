"""`tunesmith evaluate` and its parts: prompt file, attribute checks, tension, the report."""

from __future__ import annotations

import json

import numpy as np
import pytest
import symusic
from tests.conftest import assert_one_line_error, make_score
from tests.conftest import run_ok as run

from tunesmith.errors import BadInputError
from tunesmith.evaluate.attributes import attribute_hits
from tunesmith.evaluate.prompts import load_prompts
from tunesmith.music.keys import KEYS
from tunesmith.music.metrics import compute_metrics
from tunesmith.music.tension import climax_position, tension_curve


def test_prompt_file_errors_name_the_line(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text('{"prompt": "a reel"}\n\n{"prompt": "a jig", "attributes": {"key": "D"}\n')
    with pytest.raises(BadInputError, match="p.jsonl line 3: not valid JSON"):
        load_prompts(f)
    f.write_text('{"prompt": "a reel", "attributes": {"colour": "red"}}\n')
    with pytest.raises(BadInputError, match="line 1: unknown attribute"):
        load_prompts(f)
    f.write_text('{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n')
    with pytest.raises(BadInputError, match="line 2: duplicate id"):
        load_prompts(f)
    f.write_text("\n")
    with pytest.raises(BadInputError, match="no prompts"):
        load_prompts(f)


def test_public_prompt_set_covers_what_the_issue_asks():
    prompts = load_prompts("prompts/eval.jsonl")
    assert len(prompts) >= 50
    keys = {p.attributes["key"] for p in prompts if "key" in p.attributes}
    assert keys == set(KEYS)
    assert len({p.attributes.get("meter") for p in prompts}) >= 6
    assert any("seconds" in p.attributes for p in prompts)


def test_attribute_hits_read_the_file_not_the_request():
    score = make_score(2, (3, 4), 2, 8, [40, 42], seed=3)  # D major, 3/4, violin + cello
    m = compute_metrics(score)
    asked = {"key": m["key"], "meter": "3/4", "instruments": [40, 42], "bars": 8, "tempo": 100}
    assert attribute_hits(score, m, asked) == {
        "key": True, "meter": True, "tempo": True, "instruments": True, "voices": True,
        "length": True,
    }  # fmt: skip
    wrong = {"meter": "6/8", "instruments": [40, 42, 41], "bars": 9, "tempo": 60}
    hits = attribute_hits(score, m, wrong)
    assert not any(hits.values())


def test_tension_climax_follows_rising_density():
    score = symusic.Score(480)
    track = symusic.Track(program=0)
    t = 0
    for bar in range(10):
        n = 1 + bar if bar < 7 else 1  # densest in bar 7 of 10, and an octave up there
        lift = 12 if bar in (5, 6) else 0
        for i in range(n):
            pitch = (60, 64, 67)[i % 3] + lift  # one C major triad: no tonal change
            track.notes.append(symusic.Note(t + i * 1920 // n, 1920 // n, pitch, 80))
        t += 1920
    score.tracks.append(track)
    curve = tension_curve(score)
    assert len(curve) == 10
    assert 0.55 <= climax_position(curve) <= 0.75


def _write_reference(folder, n=6):
    folder.mkdir()
    for i in range(n):
        make_score(i % 12, (4, 4), 1 + i % 2, 8, [0, 40], seed=i).dump_midi(folder / f"r{i}.mid")


def test_evaluate_generates_measures_and_resumes(tiny_run, tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(
        json.dumps({"id": "a", "prompt": "a waltz in D major for violin, 4 bars",
                    "attributes": {"key": "D major", "instruments": [40], "bars": 4}}) + "\n"
        + json.dumps({"id": "b", "prompt": "a reel, 6 bars", "attributes": {"bars": 6}}) + "\n"
    )  # fmt: skip
    ref = tmp_path / "ref"
    _write_reference(ref)
    out = tmp_path / "eval"
    args = ["evaluate", "--prompts", prompts, "--model", tiny_run, "--seeds", "1,2"]
    res = run(*args, "--reference", ref, "--out", out)
    assert "warning: only 6 reference pieces" in res.stderr
    result = json.loads((out / "metrics.json").read_text())
    assert result["pieces"] == 4 and result["reference_pieces"] == 6
    # six real pieces are too few to mean much: said in the JSON, the report and on stderr
    assert "only 6 reference pieces" in result["warnings"][0]
    assert "only 6 reference pieces" in (out / "report.md").read_text()
    assert result["token_error_rate"] == 0.0
    assert result["attribute_accuracy"]["length"] == {"accuracy": 1.0, "requested": 4}
    assert set(result["attribute_accuracy"]) >= {"key", "instruments", "voices", "length"}
    assert result["realism"]["frechet_distance"] >= 0
    for name in ("report.md", "pieces.json", "metrics_vs_real.png", "tension.png"):
        assert (out / name).stat().st_size > 0
    assert "Attribute accuracy" in (out / "report.md").read_text()
    first = {p.name: p.stat().st_mtime_ns for p in (out / "midi").glob("*.mid")}
    assert len(first) == 4
    run(*args, "--reference", ref, "--out", out)  # resumes: nothing regenerated
    assert {p.name: p.stat().st_mtime_ns for p in (out / "midi").glob("*.mid")} == first
    # The same files, evaluated as a folder, give the same attribute accuracy.
    again = tmp_path / "again"
    run("evaluate", "--generated", out / "midi", "--reference", ref, "--out", again)
    assert (
        json.loads((again / "metrics.json").read_text())["attribute_accuracy"]
        == (result["attribute_accuracy"])
    )


def test_evaluate_bad_input_is_one_clear_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    res = run("evaluate", "--generated", empty, "--out", tmp_path / "o", check_ok=False)
    assert_one_line_error(res, "no MIDI files")
    (empty / "fake.mid").write_text("not midi")
    res = run("evaluate", "--generated", empty, "--out", tmp_path / "o", check_ok=False)
    assert_one_line_error(res, "fake.mid")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"prompt": \n')
    res = run("evaluate", "--prompts", bad, "--out", tmp_path / "o", check_ok=False)
    assert_one_line_error(res, "bad.jsonl line 2")
    res = run("evaluate", "--out", tmp_path / "o", check_ok=False)
    assert_one_line_error(res, "--prompts")


def test_realism_gap_is_measured_against_real_music(tmp_path):
    """Real vs real scores far better than real vs one repeated note."""
    from tunesmith.evaluate.suite import compare, measure

    real = [measure(f"r{i}", make_score(i % 12, (4, 4), 1, 8, [0], seed=i)) for i in range(12)]
    dull = symusic.Score(480)
    tr = symusic.Track(program=0)
    for b in range(32):
        tr.notes.append(symusic.Note(b * 480, 480, 60, 80))
    dull.tracks.append(tr)
    fake = [measure(f"d{i}", dull) for i in range(12)]
    near = compare(real[:6], real[6:])["realism"]["frechet_distance"]
    far = compare(fake, real)["realism"]["frechet_distance"]
    assert np.isfinite(near) and far > 10 * near
