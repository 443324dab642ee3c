"""Best-of-N scoring on hand-made pieces: every component reported, the close counted."""

from __future__ import annotations

import symusic

from tunesmith.conditioning.controls import Controls
from tunesmith.generate.scorer import WEIGHTS, score_candidate
from tunesmith.render.piece import Piece


def _melody(pitches) -> Piece:
    score = symusic.Score(480)
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    t = symusic.Track(program=73)
    for i, p in enumerate(pitches):
        t.notes.append(symusic.Note(i * 480, 480, p, 80))
    score.tracks.append(t)
    return Piece(score)


LINE = [60, 62, 64, 65, 67, 69, 67, 65, 64, 62, 64, 65, 67, 65, 64, 62]


def test_a_close_on_the_tonic_wins_over_one_that_stops_on_the_leading_note():
    controls = Controls(key="C major", instruments=[73])
    closed = score_candidate(_melody([*LINE, 60]), -1.0, controls)
    open_ = score_candidate(_melody([*LINE, 71]), -1.0, controls)
    assert set(closed) == {*WEIGHTS, "total"}
    assert closed["cadence"] == 1.0 and open_["cadence"] == 0.0
    others = [k for k in WEIGHTS if k != "cadence"]
    assert all(closed[k] == open_[k] for k in others if k != "attributes")
    assert closed["total"] > open_["total"]


def test_an_empty_piece_scores_zero():
    empty = Piece(symusic.Score(480))
    assert score_candidate(empty, -1.0, Controls())["total"] == 0.0
