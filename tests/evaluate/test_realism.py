"""Realism measures: Frechet distance and the real-vs-generated classifier."""

from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import make_score

from tunesmith.errors import BadInputError
from tunesmith.evaluate.realism import (
    FEATURES,
    classifier_accuracy,
    frechet_distance,
    piece_features,
)


def _sets(shift: float, n: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(n, len(FEATURES)))
    gen = rng.normal(size=(n, len(FEATURES)))
    gen[:, 0] += shift
    return gen, real


def test_frechet_distance_is_zero_for_the_same_set_and_grows_with_the_gap():
    gen, real = _sets(0.0)
    assert frechet_distance(real, real) == pytest.approx(0.0, abs=1e-6)
    near = frechet_distance(gen, real)
    far = frechet_distance(*_sets(3.0))
    assert near < 0.5 < 8.0 < far  # a 3-sd mean shift costs about 9


def test_classifier_is_at_chance_for_one_distribution_and_high_for_two():
    same = classifier_accuracy(*_sets(0.0))
    apart = classifier_accuracy(*_sets(3.0))
    assert 0.4 < same < 0.6
    assert apart > 0.9


def test_features_of_a_score_and_clear_errors():
    score = make_score(2, (4, 4), 2, 4, [0, 40], seed=1)
    f = piece_features(score)
    assert f.shape == (len(FEATURES),)
    assert np.isfinite(f[FEATURES.index("pitch_mean")])
    with pytest.raises(BadInputError, match="at least"):
        classifier_accuracy(np.zeros((2, len(FEATURES))), np.zeros((2, len(FEATURES))))
    with pytest.raises(ValueError, match="feature matrix"):
        frechet_distance(np.zeros((4, 3)), np.zeros((4, 3)))
