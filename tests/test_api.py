"""Composer: what a Python user calls, end to end on the tiny model."""

from __future__ import annotations

import pytest
import symusic
from tests.conftest import make_score


@pytest.fixture(scope="module")
def composer(tiny_run):
    from tunesmith import Composer

    return Composer.load(tiny_run)


def _meters(score: symusic.Score) -> list[tuple[int, int, int]]:
    return [(t.time, t.numerator, t.denominator) for t in score.time_signatures]


def test_a_continuation_goes_on_in_the_meter_the_input_ends_in(composer):
    """A tune that turns from 4/4 to 3/4 is continued in 3/4, its own bars unchanged."""
    tune = make_score(0, (4, 4), 1, 4, [73], seed=3)
    tpq = tune.ticks_per_quarter
    tune.time_signatures.append(symusic.TimeSignature(2 * 4 * tpq, 3, 4))  # bars 3-4 in 3/4
    piece = composer.continue_midi(tune, bars=7, seed=1)
    assert _meters(piece.score) == [(0, 4, 4), (2 * 4 * tpq, 3, 4)]  # no change back to 4/4
    assert piece.controls.meter == "4/4"  # the Meter control: its first bar's


def test_a_tune_in_one_four_can_be_continued(composer):
    """1/4 is no meter a request names, but a file in it is continued all the same."""
    tune = make_score(0, (1, 4), 1, 8, [73], seed=4)
    piece = composer.continue_midi(tune, bars=12, seed=2)
    assert _meters(piece.score) == [(0, 1, 4)]
    assert piece.controls.meter is None
