"""Long-form composition: context, stitching invariants, scoring, resume, bad input."""

from __future__ import annotations

import json

import pytest
import symusic

from tunesmith.api import Composer
from tunesmith.conditioning.controls import Controls
from tunesmith.errors import BadInputError
from tunesmith.generate.longform import (
    LongFormSettings,
    _context,
    _reference_section,
    apply_mode,
    compose_long,
    parse_form,
    seam_fit,
    section_key,
)
from tunesmith.generate.reprise import transpose_theme
from tunesmith.generate.sampling import SamplingConfig
from tunesmith.render.piece import Piece

BAR = 1


def test_context_takes_trailing_whole_bars_within_the_budget():
    music = [BAR, 5, 6, BAR, 7, BAR, 8, 9, 10, BAR, 11]
    assert _context(music, BAR, None, budget=6) == (2, [BAR, 8, 9, 10, BAR, 11])
    assert _context(music, BAR, None, budget=1) == (1, [BAR, 11])  # at least one bar
    assert _context(music, BAR, 3, budget=1) == (3, [BAR, 7, BAR, 8, 9, 10, BAR, 11])
    assert _context([], BAR, None, budget=8) == (0, [])


@pytest.fixture(scope="module")
def composer(tiny_run):
    return Composer.load(tiny_run)


def test_stitched_piece_keeps_time_bars_and_notes_clean(composer, tmp_path):
    controls = apply_mode(Controls(key="G major"), "chorale")
    settings = LongFormSettings(chunks=3, chunk_bars=3, candidates=2)
    piece, reports = compose_long(composer, "a chorale", controls, SamplingConfig(seed=4), settings)
    assert [r.new_bars for r in reports] == [3, 3, 3]
    assert reports[0].context_bars == 0 and all(r.context_bars >= 1 for r in reports[1:])
    tokens = composer.tokenizer.tokens(piece.tokens)
    assert tokens.count("Bar_None") == 9
    path = tmp_path / "long.mid"
    piece.save(path)
    score = symusic.Score(str(path))
    assert {t.program for t in score.tracks} == {52}
    bar = 4 * score.ticks_per_quarter
    assert max(n.end for t in score.tracks for n in t.notes) <= 9 * bar
    for t in score.tracks:  # no doubled or overlapping same-pitch notes inside a voice
        seen = {}
        for n in sorted(t.notes, key=lambda n: n.time):
            assert n.time >= seen.get(n.pitch, -1), "a note restarts before it ended"
            seen[n.pitch] = n.time + n.duration
    for r in reports:
        for c in r.candidates:
            assert set(c) == {
                "voice_leading", "fit", "seam", "continuity", "attributes", "cadence", "total"
            }  # fmt: skip
            assert 0.0 <= c["total"] <= 1.0
            # the close is judged on the last chunk only, in the requested key
            if r.index == len(reports) - 1:
                assert c["cadence"] is not None and 0.0 <= c["cadence"] <= 1.0
            else:
                assert c["cadence"] is None
        assert r.candidates[r.chosen]["total"] == max(c["total"] for c in r.candidates)


def test_an_interrupted_composition_resumes(composer, tmp_path):
    state = tmp_path / "state.json"
    settings = LongFormSettings(chunks=3, chunk_bars=2, candidates=2)
    args = (composer, "a jig", Controls(instruments=[73]), SamplingConfig(seed=1), settings)

    def stop_at_third(done, total, info):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compose_long(*args, progress=stop_at_third, state_path=state)
    saved = json.loads(state.read_text())
    assert len(saved["reports"]) == 2
    piece, reports = compose_long(*args, state_path=state)
    assert len(reports) == 3
    music_start = len(composer.tokenizer.prefix_ids(Controls()))
    assert piece.tokens[music_start : music_start + len(saved["music"])] == saved["music"]


def test_seam_fit_rewards_voices_that_go_on_in_key():
    def piece(second_bar):
        s = symusic.Score(480)
        t = symusic.Track(program=0)
        for i, p in enumerate([60, 62, 64, 65] + second_bar):
            t.notes.append(symusic.Note(i * 480, 480, p, 80))
        s.tracks.append(t)
        return Piece(score=s)

    smooth = seam_fit(piece([67, 65, 64, 62]), 1, "C major")
    jumpy = seam_fit(piece([90, 61, 66, 63]), 1, "C major")
    assert smooth == 1.0 and jumpy < 0.6


@pytest.mark.parametrize(
    "settings, fragment",
    [
        (LongFormSettings(chunks=0), "chunks must be between 1 and 64"),
        (LongFormSettings(chunk_bars=8, overlap_bars=8), "overlap must be"),
        (LongFormSettings(candidates=0), "candidates must be between 1 and 64"),
        (LongFormSettings(form="ABC"), "unknown form"),
        (LongFormSettings(form="A" * 17), "unknown form"),
        (LongFormSettings(chunk_bars=2, recall_bars=2, form="ABA"), "recall bars"),
    ],
)
def test_bad_settings_are_clear_errors(settings, fragment):
    with pytest.raises(BadInputError, match=fragment) as info:
        settings.validated()
    assert "--" not in str(info.value)  # the library names settings, never CLI flags
    with pytest.raises(BadInputError, match="unknown mode"):
        apply_mode(Controls(), "opera")


def test_form_plans_and_key_areas():
    assert [p[0] for p in parse_form("aaba")] == ["A", "A", "B", "A"]
    assert [p[0] for p in parse_form("sonata")] == ["A", "B", "middle", "A", "B"]
    assert LongFormSettings(chunks=8, form="ABAB").validated().chunks == 4
    assert section_key("C major", "second") == "G major"
    assert section_key("A minor", "second") == "C major"
    assert section_key("C major", "development") == "A minor"
    assert section_key("A minor", "development") == "E minor"
    assert section_key(None, "second") is None and section_key("D major", "tonic") == "D major"


def test_form_chunks_carry_their_sections_and_a_return_hears_the_theme(composer, monkeypatch):
    seen = []
    generate = composer.engine.generate

    themes, labels = [], []

    def spy(controls, *args, **kwargs):
        seen.append((controls.section, controls.key, list(kwargs.get("prompt_music") or [])))
        themes.append((kwargs.get("theme"), kwargs.get("section_start")))
        labels.append(kwargs.get("theme_label"))
        return generate(controls, *args, **kwargs)

    monkeypatch.setattr(composer.engine, "generate", spy)
    settings = LongFormSettings(chunk_bars=4, candidates=2, form="AABA", recall_bars=2)
    controls = Controls(key="G major", instruments=[40], meter="4/4")
    piece, reports = compose_long(composer, "a tune", controls, SamplingConfig(seed=2), settings)
    assert [s for s, _, _ in seen] == ["start", "A", "B", "A"]
    assert [r.new_bars for r in reports] == [4, 4, 4, 4]
    tok = composer.tokenizer
    music = piece.tokens[len(tok.prefix_ids(Controls())) : -1]
    bars = [i for i, t in enumerate(music) if t == tok.bar_id]
    # The last A is asked for after the theme (the first A's trailing bars) and the first
    # A's first two bars, which it restates verbatim and continues.
    context, recall = seen[3][2], music[bars[0] : bars[2]]
    theme = context[: len(context) - len(recall)]
    assert context[-len(recall) :] == recall and theme and theme[0] == tok.bar_id
    assert music[bars[0] : bars[4]][-len(theme) :] == theme
    assert music[bars[12] : bars[12] + len(recall)] == recall
    # Every section after the first A has that A as its theme for the reprise gate; the
    # return's section starts where the recalled bars do.
    assert themes[0][0] is None
    first_a = music[bars[0] : bars[4]]
    for t, _ in themes[1:]:  # (chunk 1 may still add notes to the first A's last bar)
        assert t == first_a[: len(t)] and t.count(tok.bar_id) == 4
    assert [start for _, start in themes[1:]] == [len(seen[1][2]), len(seen[2][2]), len(theme)]
    assert labels == [None, "A", "B", "A"]  # the same again, a contrast, the same again
    # Without recall the context is the theme alone and every bar is the model's.
    seen.clear()
    settings = LongFormSettings(chunk_bars=4, candidates=2, form="ABA", recall_bars=0)
    piece, reports = compose_long(composer, "a tune", controls, SamplingConfig(seed=4), settings)
    music = piece.tokens[len(tok.prefix_ids(Controls())) : -1]
    bars = [i for i, t in enumerate(music) if t == tok.bar_id]
    assert music[bars[0] : bars[4]][-len(seen[2][2]) :] == seen[2][2]
    assert [r.new_bars for r in reports] == [4, 4, 4]
    sonata = LongFormSettings(chunk_bars=3, candidates=1, form="sonata")
    seen.clear()
    themes.clear()
    labels.clear()
    piece, _ = compose_long(composer, "a sonata", controls, SamplingConfig(seed=3), sonata)
    music = piece.tokens[len(tok.prefix_ids(Controls())) : -1]
    bars = [i for i, t in enumerate(music) if t == tok.bar_id]
    first_a, second = music[bars[0] : bars[3]], music[bars[3] : bars[6]]
    # The second theme (D major) is a contrast to the first (G major), which it hears a
    # fourth lower; the recapitulation restates the first theme, and the second theme
    # moved into the tonic.
    assert themes[1][0] == transpose_theme(first_a[: len(themes[1][0])], tok, -5)
    assert themes[2][0] is None and themes[3][0] == first_a
    assert themes[4][0] == transpose_theme(second[: len(themes[4][0])], tok, 5)
    assert labels == [None, "B", None, "A", "A"]
    assert [(s, k) for s, k, _ in seen] == [
        ("start", "G major"), ("B", "D major"), ("middle", "E minor"), ("A", "G major"),
        ("B", "G major"),
    ]  # fmt: skip


def test_each_section_follows_its_first_occurrence_or_contrasts_the_theme():
    plan = parse_form("ABAB")
    assert [_reference_section(plan, i) for i in range(4)] == [
        (None, None), (0, "B"), (0, "A"), (1, "A"),
    ]  # fmt: skip
    plan = parse_form("AABB")
    assert [_reference_section(plan, i) for i in range(4)] == [
        (None, None), (0, "A"), (0, "B"), (2, "A"),
    ]  # fmt: skip
    assert _reference_section(parse_form("BA"), 1) == (None, None)


def test_cli_composes_a_form_and_rejects_bad_numbers(tiny_run, tmp_path):
    from tests.conftest import assert_one_line_error, run_cli

    out = tmp_path / "aaba.mid"
    args = ["generate-long", "a tune", "--model", tiny_run, "--chunk-bars", "2"]
    res = run_cli(*args, "-o", out, "--form", "AABA", "--candidates", "1", "--seed", "1")
    assert res.returncode == 0, res.stderr
    assert "(8 bars" in " ".join(res.stdout.split()) and out.stat().st_size > 0
    for extra, fragment in (
        (["--chunks", "0"], "--chunks"),
        (["--overlap", "2"], "--overlap"),
        (["--candidates", "0"], "candidates must be between 1 and 64 (--candidates)"),
        (["--num-candidates", "0"], "(--num-candidates)"),  # the old spelling still works
        (["--top-k", "-1"], "top-k must be between 0 and 1000 (--top-k)"),
        (["--form", "ABA", "--recall-bars", "2"], "--recall-bars"),
        (["--form", "AXA"], "unknown form"),
    ):
        res = run_cli(*args, "-o", tmp_path / "bad.mid", *extra)
        assert_one_line_error(res, fragment)
        assert not (tmp_path / "bad.mid").exists()


def test_python_api_composes_a_form(composer, tmp_path):
    state = tmp_path / "state.json"
    piece, reports = composer.generate_long(
        "a tune", form="ABA", chunk_bars=2, candidates=1, seed=2, state_path=state,
        instruments=[40], meter="3/4",
    )  # fmt: skip
    assert [r.new_bars for r in reports] == [2, 2, 2] and state.is_file()
    ts = piece.score.time_signatures[0]
    assert (ts.numerator, ts.denominator) == (3, 4)
    with pytest.raises(BadInputError, match="candidates must be between"):
        composer.generate_long("a tune", candidates=0)
