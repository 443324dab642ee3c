"""Best-of-N candidate scoring: model likelihood, attribute match and musical rules.

Each component is in [0, 1] (likelihood is mapped from nats/token) and reported, so a
user can see why a candidate won. The total is a weighted mean. Components: likelihood,
attributes (key, voices), silence, range, repetition, and cadence (does the piece close on
the tonic of the requested, else the estimated, key: music/cadence.py).
"""

from __future__ import annotations

import math

import numpy as np

from ..conditioning.controls import Controls
from ..music.cadence import cadence_fit
from ..music.metrics import compute_metrics

WEIGHTS = {
    "likelihood": 1.0, "attributes": 1.0, "silence": 0.5, "range": 0.5, "repetition": 0.5,
    "cadence": 0.5,
}  # fmt: skip


def _likelihood(mean_logprob: float) -> float:
    """exp(mean log-prob): the per-token probability the model gave its own choices."""
    return float(math.exp(max(-20.0, min(0.0, mean_logprob))))


def _attribute_match(metrics: dict, controls: Controls, n_tracks: int) -> float:
    checks = []
    if controls.key:
        checks.append(1.0 if metrics.get("key") == controls.key else 0.0)
    if controls.instruments:
        checks.append(1.0 if n_tracks == len(controls.instruments) else 0.0)
    return float(np.mean(checks)) if checks else 1.0


def _silence(piece) -> float:
    """1 - the longest stretch with no sounding note, as a fraction of the piece (capped)."""
    spans = sorted((n.time, n.end) for t in piece.score.tracks for n in t.notes)
    if not spans:
        return 0.0
    end, longest = spans[0][1], 0
    for start, stop in spans[1:]:
        longest = max(longest, start - end)
        end = max(end, stop)
    total = max(1, end - spans[0][0])
    return float(max(0.0, 1.0 - 4.0 * longest / total))


def _range(piece) -> float:
    """Share of voices whose span stays within two octaves and inside 28-100."""
    ok = []
    for t in piece.score.tracks:
        if t.is_drum or not len(t.notes):
            continue
        pitches = [n.pitch for n in t.notes]
        ok.append(
            float(max(pitches) - min(pitches) <= 24 and min(pitches) >= 28 and max(pitches) <= 100)
        )
    return float(np.mean(ok)) if ok else 1.0


def _repetition(piece) -> float:
    """1 - share of bars that repeat the previous bar exactly (stuck loops score low)."""
    tpq = piece.score.ticks_per_quarter
    bar = 4 * tpq
    if len(piece.score.time_signatures):
        ts = piece.score.time_signatures[0]
        bar = int(ts.numerator * 4 / ts.denominator * tpq)
    bars: dict[int, list] = {}
    for t in piece.score.tracks:
        for n in t.notes:
            bars.setdefault(n.time // bar, []).append((t.program, n.time % bar, n.pitch))
    keys = sorted(bars)
    if len(keys) < 2:
        return 1.0
    same = sum(
        1
        for a, b in zip(keys, keys[1:], strict=False)
        if b == a + 1 and sorted(bars[a]) == sorted(bars[b])
    )
    return 1.0 - same / (len(keys) - 1)


def score_candidate(piece, mean_logprob: float, controls: Controls) -> dict[str, float]:
    """Scorer components and their weighted total for one generated piece."""
    if piece.num_notes == 0:
        return {**{k: 0.0 for k in WEIGHTS}, "total": 0.0}
    metrics = compute_metrics(piece.score)
    n_tracks = sum(1 for t in piece.score.tracks if len(t.notes))
    key = controls.key or metrics.get("key")
    parts = {
        "likelihood": _likelihood(mean_logprob),
        "attributes": _attribute_match(metrics, controls, n_tracks),
        "silence": _silence(piece),
        "range": _range(piece),
        "repetition": _repetition(piece),
        # the close on the tonic: the model rarely ends there by itself (docs/LONGFORM.md)
        "cadence": cadence_fit(piece.score, key) if key else 0.0,
    }
    parts["total"] = sum(WEIGHTS[k] * v for k, v in parts.items()) / sum(WEIGHTS.values())
    return parts
