"""Section labels (A / B) from a piece's own repeat structure, for form control.

Folk tunes, hymns and dances are built from phrases that come back: AABB, ABAB, AABA.
Each phrase (8 bars in pieces of 24 bars or more, else 4) is compared with the opening
phrase, bar by bar, as sets of (voice, onset within the bar, pitch): a phrase that matches
it is A (the theme or its return), any other is B (the contrast). Labels are kept only
where the piece shows that structure: A comes back and B occurs.

A training crop of such a piece may be its opening phrase followed by a later section,
with that section's label as the Section control (batches.py): "Section_B" is "after the
theme you heard, bring the contrast" and "Section_A" is "bring the theme again", which is
how long-form generation asks for a section after its context.
"""

from __future__ import annotations

import numpy as np

from ..tokens.tokenizer import MusicTokenizer

MATCH = 0.5  # mean per-bar Jaccard similarity for two phrases to count as the same


def phrase_length(n_bars: int) -> int:
    return 8 if n_bars >= 24 else 4


def context_first_bar(bar_starts, n_bars: int, budget: int) -> int:
    """The first of the opening's `n_bars` bars to keep so that whole bars up to bar
    `n_bars` (whose start is bar_starts[n_bars]) fit in `budget` tokens (at least one bar)."""
    first = 0
    while first < n_bars - 1 and bar_starts[n_bars] - bar_starts[first] > budget:
        first += 1
    return first


def bar_contents(tok: MusicTokenizer, ids: np.ndarray, bar_starts: np.ndarray) -> list[set]:
    """Per bar, the set of (voice slot, position, pitch) of its notes (REMI tokens)."""
    names = [tok.token(int(i)) for i in ids]
    bars: list[set] = []
    ends = [*bar_starts[1:].tolist(), len(ids)]
    for start, end in zip(bar_starts.tolist(), ends, strict=True):
        notes, pos, slot = set(), 0, 0
        for name in names[start:end]:
            kind, _, value = name.partition("_")
            if kind == "Position":
                pos = int(value)
            elif kind == "Program":
                slot = int(value)
            elif kind in ("Pitch", "PitchDrum"):
                notes.add((slot, pos, int(value)))
        bars.append(notes)
    return bars


def _similarity(a: list[set], b: list[set]) -> float:
    scores = []
    for x, y in zip(a, b, strict=False):
        union = x | y
        scores.append(len(x & y) / len(union) if union else 1.0)
    return float(np.mean(scores)) if scores else 0.0


def phrase_labels(bars: list[set]) -> tuple[int, list[str]] | None:
    """(phrase length, "A" or "B" per phrase), or None where the piece shows no such form.

    A phrase like the first one is A (the theme, or its return); any other is B, the
    contrast. Only pieces where A comes back and B occurs are labelled.
    """
    length = phrase_length(len(bars))
    phrases = [bars[i : i + length] for i in range(0, len(bars) - length + 1, length)]
    if len(phrases) < 3:
        return None
    labels = ["A" if _similarity(ph, phrases[0]) >= MATCH else "B" for ph in phrases]
    if labels[1:].count("A") == 0 or "B" not in labels:
        return None
    return length, labels


def section_of_bar(tok: MusicTokenizer, ids, bar_starts) -> dict[int, str]:
    """Bar index -> section label, for the bars where a labelled phrase begins."""
    bars = bar_contents(tok, np.asarray(ids), np.asarray(bar_starts))
    found = phrase_labels(bars)
    if found is None:
        return {}
    length, labels = found
    return {i * length: label for i, label in enumerate(labels)}
