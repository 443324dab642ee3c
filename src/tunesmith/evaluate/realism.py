"""Realism: how far generated music is from real music, as distributions of features.

Two measures on per-piece feature vectors (FEATURES below):

- Frechet distance, the symbolic analogue of FAD/FID: fit a Gaussian to each set and
  take ||mu_g - mu_r||^2 + tr(S_g + S_r - 2 (S_g S_r)^(1/2)). Features are first scaled by
  the real set's standard deviations, so each counts in "real-music spreads" and the
  number does not depend on units. 0 means identical means and covariances.
- a real-vs-generated classifier: L2-regularised logistic regression on the same scaled
  features, cross-validated on balanced sets. 50 % accuracy means the two cannot be told
  apart from these features; 100 % means they always can.
"""

from __future__ import annotations

import numpy as np
import symusic

from ..errors import BadInputError
from ..music.metrics import NoteArrays, as_tick_score, compute_metrics

FEATURES = (
    "H1",  # pitch-class entropy, 1-bar windows
    "H4",  # pitch-class entropy, 4-bar windows
    "GS",  # groove similarity between bars
    "notes_per_bar",
    "pitch_range",
    "polyphony",
    "pitch_mean",
    "pitch_std",
    "interval_mean",  # mean absolute melodic step (semitones) within a track
    "duration_mean",  # mean note length in beats
    "key_correlation",  # how clearly tonal (Krumhansl-Kessler best-key correlation)
)


def piece_features(score: symusic.Score, metrics: dict | None = None) -> np.ndarray:
    """The FEATURES vector of one score (NaN where a feature is undefined)."""
    score = as_tick_score(score)
    m = metrics if metrics is not None else compute_metrics(score)
    notes = NoteArrays.from_score(score)
    pitched = ~notes.drum
    pitch = notes.pitch[pitched].astype(np.float64)
    steps = []
    for track in score.tracks:
        if track.is_drum or track.note_num() < 2:
            continue
        arr = track.notes.numpy()
        order = np.argsort(arr["time"], kind="stable")
        steps.append(np.abs(np.diff(arr["pitch"][order].astype(np.float64))))
    tpq = score.ticks_per_quarter
    extra = {
        "pitch_mean": pitch.mean() if pitch.size else np.nan,
        "pitch_std": pitch.std() if pitch.size else np.nan,
        "interval_mean": np.concatenate(steps).mean() if steps else np.nan,
        "duration_mean": float(np.mean(notes.offset - notes.onset)) / tpq,
    }
    return np.array(
        [extra[f] if f in extra else _num(m.get(f)) for f in FEATURES], dtype=np.float64
    )


def _num(x) -> float:
    return np.nan if x is None else float(x)


def _clean(x: np.ndarray) -> np.ndarray:
    """Replace NaNs by the column mean (a feature undefined for a piece carries no signal)."""
    x = np.array(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(FEATURES):
        raise ValueError(f"expected a [pieces, {len(FEATURES)}] feature matrix")
    means = np.nanmean(np.where(np.isnan(x).all(0), 0.0, x), axis=0)
    return np.where(np.isnan(x), means, x)


def _scale(real: np.ndarray, *others: np.ndarray):
    mu, sd = real.mean(0), real.std(0)
    sd = np.where(sd > 1e-9, sd, 1.0)
    return [(a - mu) / sd for a in (real, *others)]


def frechet_distance(generated: np.ndarray, real: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (see module doc)."""
    g, r = _clean(generated), _clean(real)
    if len(g) < 2 or len(r) < 2:
        raise BadInputError("the Frechet distance needs at least 2 pieces on each side")
    r, g = _scale(r, g)
    mu_g, mu_r = g.mean(0), r.mean(0)
    s_g, s_r = np.cov(g, rowvar=False), np.cov(r, rowvar=False)
    # tr((S_g S_r)^(1/2)) = sum of sqrt of the eigenvalues of S_g S_r (real, >= 0 for PSD).
    eig = np.linalg.eigvals(s_g @ s_r)
    tr_sqrt = np.sqrt(np.clip(eig.real, 0, None)).sum()
    return float(((mu_g - mu_r) ** 2).sum() + np.trace(s_g) + np.trace(s_r) - 2 * tr_sqrt)


def _fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iters: int = 50) -> np.ndarray:
    """Newton's method on the L2-regularised logistic loss; returns [bias, weights]."""
    xb = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(xb.shape[1])
    reg = np.full(xb.shape[1], l2)
    reg[0] = 0.0  # the bias is not regularised
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) + reg * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(reg + 1e-9)
        delta = np.linalg.solve(hess, grad)
        w -= delta
        if np.abs(delta).max() < 1e-8:
            break
    return w


def classifier_accuracy(
    generated: np.ndarray, real: np.ndarray, folds: int = 5, seed: int = 0
) -> float:
    """Cross-validated accuracy of telling real from generated (0.5 = indistinguishable).

    The larger set is subsampled to the smaller one's size, so guessing gives 50 %.
    """
    g, r = _clean(generated), _clean(real)
    n = min(len(g), len(r))
    if n < folds:
        raise BadInputError(f"the classifier needs at least {folds} pieces on each side")
    rng = np.random.default_rng(seed)
    g = g[rng.permutation(len(g))[:n]]
    r = r[rng.permutation(len(r))[:n]]
    x = np.vstack([r, g])
    y = np.concatenate([np.ones(n), np.zeros(n)])
    fold_of = np.concatenate([rng.permutation(n) % folds, rng.permutation(n) % folds])
    correct = 0
    for k in range(folds):
        test = fold_of == k
        train_r = x[~test & (y == 1)]
        train_all, test_all = _scale(train_r, x[~test], x[test])[1:]
        w = _fit_logistic(train_all, y[~test])
        logits = w[0] + test_all @ w[1:]
        correct += int(((logits > 0) == (y[test] == 1)).sum())
    return correct / len(x)
