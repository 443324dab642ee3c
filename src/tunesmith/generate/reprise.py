"""Reprise: a learned copy gate that lets Section_A bring the theme back.

The transformer alone barely copies from its context (benchmarks/form.py: its loss on an
exact second copy of a phrase is only ~7 % below the first), so a label meaning "the theme
again" had nothing to act through. This is a pointer mechanism in the spirit of
pointer-generator networks. While a section that follows a theme is generated, every
position has a *reference*: the token at the same place in the theme, aligned bar by bar
(bar k of the section with bar k of the theme, the same index within the bar). The
next-token distribution becomes

    p(y) = (1 - g) * p_model(y) + g * [y == reference]

with a gate g = sigmoid(w_label . features) learned separately for each Section label
from the corpus's own sections (data/sections.py labels each phrase A or B): the
features are how often the references matched in this section lately (two running
means), the model's own log-probability of the reference, and the kind of token (Bar,
Position, Pitch, Duration, ...). `tunesmith train-reprise` fits the gate with the
transformer frozen, so everything generated without a theme is exactly as before.
"""

from __future__ import annotations

import copy
import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CheckpointError
from ..fileio import atomic_write_json
from ..tokens.tokenizer import MusicTokenizer
from .sampling import log_softmax

FILENAME = "reprise.json"
KINDS = ("Bar", "Position", "Pitch", "Duration", "Program", "TimeSig")  # the rest: "other"
FAST, SLOW = 0.7, 0.95  # decay of the two running means of reference hits
PRIOR = 0.5  # their value before the first reference of a section
MIN_LOGP = -20.0  # the model's log-probability of a reference is clipped here
N_FIXED = 4  # bias, fast mean, slow mean, log-probability; then one weight per kind
N_FEATURES = N_FIXED + len(KINDS) + 1  # the last kind: any other token


@functools.lru_cache(maxsize=8)  # once per tokenizer, not once per generation
def token_kinds(tok: MusicTokenizer) -> np.ndarray:
    """Token id -> index into KINDS (len(KINDS) for any other token)."""
    kinds = np.full(tok.vocab_size, len(KINDS), dtype=np.int64)
    for i in range(tok.vocab_size):
        head = tok.token(i).split("_")[0]
        if head in KINDS:
            kinds[i] = KINDS.index(head)
    return kinds


class ThemeAligner:
    """Follows a section token by token and names the theme's token at the same place.

    Bar k of the section is aligned with bar k of the theme (wrapping round when the
    section is longer), token i of the bar with token i of the theme's bar; past the end
    of the theme's bar the reference is the next Bar, and past that there is none.
    """

    def __init__(self, theme: Sequence[int], bar_id: int) -> None:
        self.theme = [int(t) for t in theme]
        self.bar_id = bar_id
        self.starts = [i for i, t in enumerate(self.theme) if t == bar_id]
        self.bar = -1  # index of the section's current bar; -1 before its first Bar
        self.offset = 0  # tokens of the current bar seen so far
        self.fast = self.slow = PRIOR
        self.reference: int | None = None  # the reference for the next token

    def observe(self, token: int) -> None:
        """Take the section's next token; updates the hit means and the next reference."""
        if self.reference is not None:
            hit = float(token == self.reference)
            self.fast = FAST * self.fast + (1 - FAST) * hit
            self.slow = SLOW * self.slow + (1 - SLOW) * hit
        if token == self.bar_id:
            self.bar += 1
            self.offset = 1
        elif self.bar >= 0:
            self.offset += 1
        self.reference = self._lookup()

    def _lookup(self) -> int | None:
        if self.bar < 0 or not self.starts:
            return None
        k = self.bar % len(self.starts)
        start = self.starts[k]
        end = self.starts[k + 1] if k + 1 < len(self.starts) else len(self.theme)
        i = start + self.offset
        if i < end:
            return self.theme[i]
        return self.bar_id if i == end else None


def features(aligner: ThemeAligner, logp_ref: float, kind: int) -> np.ndarray:
    """The gate's inputs at one position: bias, the two hit means, the model's
    log-probability of the reference (clipped, scaled), and the reference's kind."""
    f = np.zeros(N_FEATURES)
    f[:N_FIXED] = (1.0, aligner.fast, aligner.slow, max(logp_ref, MIN_LOGP) / 10.0)
    f[N_FIXED + kind] = 1.0
    return f


@dataclass
class CopyGate:
    """The learned gate: one weight row per Section label it was fitted for."""

    labels: list[str]
    weights: np.ndarray  # [len(labels), N_FEATURES]
    fitted_on: dict | None = None  # what it was trained on, for the record

    def probability(self, label: str, features: np.ndarray) -> float:
        z = float(self.weights[self.labels.index(label)] @ features)
        return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / FILENAME
        atomic_write_json(
            path,
            {
                "format": "tunesmith-reprise/1",
                "kinds": list(KINDS),
                "fast": FAST,
                "slow": SLOW,
                "labels": self.labels,
                "weights": np.round(self.weights, 6).tolist(),
                "fitted_on": self.fitted_on or {},
            },
        )
        return path

    @classmethod
    def load(cls, folder: str | Path) -> CopyGate | None:
        """The gate saved beside a model, or None when the model has none."""
        path = Path(folder) / FILENAME
        if not path.is_file():
            return None
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            weights = np.asarray(d["weights"], dtype=np.float64)
            ok = (
                d.get("format") == "tunesmith-reprise/1"
                and tuple(d["kinds"]) == KINDS
                and (d.get("fast"), d.get("slow")) == (FAST, SLOW)
                and weights.shape == (len(d["labels"]), N_FEATURES)
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{str(path)!r} is corrupt: {e}") from None
        if not ok:
            raise CheckpointError(f"{str(path)!r} is not a reprise gate this version can read")
        return cls(list(d["labels"]), weights, d.get("fitted_on"))


def mix(logp: np.ndarray, references: np.ndarray, g: np.ndarray) -> np.ndarray:
    """log((1 - g) p + g [y == reference]) for rows [R, V] of log-probabilities, one
    reference token and one gate value per row."""
    out = logp + np.log1p(-g)[:, None]
    rows = np.arange(len(references))
    out[rows, references] = np.logaddexp(out[rows, references], np.log(g))
    return out


class Reprise:
    """The gate at work for the rows of one generation: one aligner per row."""

    def __init__(
        self, gate: CopyGate, label: str, theme: Sequence[int], tok: MusicTokenizer, rows: int
    ) -> None:
        self.gate = gate
        self.label = label
        self.kinds = token_kinds(tok)
        self.aligners = [ThemeAligner(theme, tok.bar_id) for _ in range(rows)]

    def observe(self, row: int, token: int) -> None:
        self.aligners[row].observe(token)

    def select_rows(self, index: list[int]) -> None:
        """Keep rows `index` in that order (a repeated index forks a row)."""
        self.aligners = [copy.deepcopy(self.aligners[i]) for i in index]

    def apply(self, logits: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(logits, base) with each row's reference mixed in by its gate."""
        live = [(b, al) for b, al in enumerate(self.aligners) if al.reference is not None]
        if not live:
            return logits, base
        rows = np.array([b for b, _ in live], dtype=np.int64)
        refs = np.array([al.reference for _, al in live], dtype=np.int64)
        lp_base = log_softmax(base[rows].astype(np.float32))
        lp_ref = lp_base[np.arange(len(live)), refs].tolist()
        gates = [
            self.gate.probability(self.label, features(al, lp, int(self.kinds[al.reference])))
            for (_, al), lp in zip(live, lp_ref, strict=True)
        ]
        g = np.clip(np.array(gates, dtype=np.float32), 1e-6, 1 - 1e-6)
        logits, base = logits.astype(np.float32), base.astype(np.float32)  # copies
        logits[rows] = mix(log_softmax(logits[rows]), refs, g)
        base[rows] = mix(lp_base, refs, g)
        return logits, base


def key_shift(theme_key: str | None, section_key: str | None) -> int:
    """Semitones that move a theme in `theme_key` into `section_key` (0 when either is
    unknown). Keys of different modes are compared through their relative majors, so a
    theme in A minor is not moved for a section in C major: they share their notes."""
    if not theme_key or not section_key:
        return 0
    from ..music.keys import key_pitch_class

    def major_tonic(key: str) -> int:
        pc, mode = key_pitch_class(key)
        return (pc + 3) % 12 if mode == "minor" else pc

    return (major_tonic(section_key) - major_tonic(theme_key) + 6) % 12 - 6


def transpose_theme(theme: Sequence[int], tok: MusicTokenizer, semitones: int) -> list[int]:
    """The theme's tokens with every pitch moved; a pitch that would leave the vocabulary
    stays where it is."""
    if not semitones:
        return list(theme)
    out = []
    for t in theme:
        name = tok.token(int(t))
        head, _, value = name.partition("_")
        if head == "Pitch":
            moved = f"Pitch_{int(value) + semitones}"
            if moved in tok._vocab:
                t = tok.token_id(moved)
        out.append(int(t))
    return out
