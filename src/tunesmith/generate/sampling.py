"""Sampling settings, presets and the logits transforms they drive."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..conditioning.limits import (
    CFG,
    KEY_GUIDANCE,
    REPETITION_PENALTY,
    SEED,
    TEMPERATURE,
    TOP_K,
    TOP_P,
)
from ..errors import BadInputError

# The four presets. "balanced", "creative" and "conservative" are the design notes'
# (top-k, temperature, repetition penalty; top-p 1.0). "default" was chosen by measurement
# (docs/EVALUATION.md): top-k 64 and top-p 0.95 without a repetition penalty made v1's
# music closest to real music of the same form (benchmarks/sampling_study.py); the shipped
# v2.2, trained far longer, is sharper, and at T 1.0 repeats rhythms and pitches more than
# real pieces do, while at T 1.1 its pieces for real test pieces' captions are as far from
# those pieces as two halves of the real set are from each other (Frechet distance 0.53
# against 1.14 at T 1.0; benchmarks/matched_realism.py).
PRESETS: dict[str, dict] = {
    "default": {"temperature": 1.1, "top_k": 64, "top_p": 0.95, "repetition_penalty": 1.0},
    "balanced": {"temperature": 1.0, "top_k": 50, "top_p": 1.0, "repetition_penalty": 1.2},
    "creative": {"temperature": 1.5, "top_k": 100, "top_p": 1.0, "repetition_penalty": 1.1},
    "conservative": {"temperature": 0.8, "top_k": 20, "top_p": 1.0, "repetition_penalty": 1.3},
}


CADENCES = ("none", "close", "frame")


@dataclass
class SamplingConfig:
    """How to draw tokens. `preset` fills values that were not given explicitly."""

    temperature: float = 1.1  # the "default" preset's values
    top_k: int = 64  # 0 = off
    top_p: float = 0.95
    repetition_penalty: float = 1.0  # 1.0 = off; applied to note tokens only
    repetition_window: int = 64
    cfg_scale: float = 1.0  # classifier-free guidance on the text; 1.0 = off
    key_guidance: float = 0.5  # key guide's constant strength (0 = off); keyguide.py
    key_guide_args: dict = field(default_factory=dict)  # KeyGuide step/max_strength (studies)
    chord_guidance: float = 1.0  # chord guide's strength when chords are given; chordguide.py
    voice_guidance: float = 1.0  # voice-leading guide's strength for written parts; voicing.py
    # With a key and no chords, the harmony of the piece's end through the chord guide:
    # "close" V7 then I in the last two bars, "frame" also I in bar 1 (engine.cadence_frame).
    # Pieces only: long-form chunks before the last and the parts operations use "none".
    cadence: str = "close"
    speculative: bool = True  # batch 1: n-gram drafts verified in one pass (same output law)
    seed: int | None = None
    max_bars: int = 16  # used when the controls name no length
    max_tokens: int | None = None  # hard cap on generated tokens

    def validated(self) -> SamplingConfig:
        """Self, when every value is inside its bound of conditioning/limits.py."""
        checks = (
            (TEMPERATURE, self.temperature, "temperature"),
            (TOP_K, self.top_k, "top_k"),
            (TOP_P, self.top_p, "top_p"),
            (REPETITION_PENALTY, self.repetition_penalty, "repetition_penalty"),
            (CFG, self.cfg_scale, "cfg"),
            (KEY_GUIDANCE, self.key_guidance, "key_guidance"),
        )
        for bound, value, field_name in checks:
            bound.check(value, field=field_name)
        if self.seed is not None:
            SEED.check(self.seed, field="seed")
        if not 0.0 <= self.voice_guidance <= 5.0:
            raise BadInputError(
                f"voice guidance {self.voice_guidance} is outside 0-5", field="voice_guidance"
            )
        if self.cadence not in CADENCES:
            raise BadInputError(
                f"unknown cadence {self.cadence!r}; choose from: {', '.join(CADENCES)}",
                field="cadence",
            )
        if self.max_bars < 1:
            raise BadInputError("max bars must be at least 1", field="max_bars")
        return self

    @classmethod
    def from_preset(cls, name: str = "default", **overrides) -> SamplingConfig:
        if name not in PRESETS:
            raise BadInputError(
                f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}", field="preset"
            )
        values = {**PRESETS[name], **{k: v for k, v in overrides.items() if v is not None}}
        return cls(**values).validated()

    def with_(self, **changes) -> SamplingConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)


def log_softmax(x: np.ndarray) -> np.ndarray:
    """log(softmax(x)) over the last axis; -inf entries stay -inf (one finite per row)."""
    top = np.max(x, axis=-1, keepdims=True)
    shifted = x - top
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def apply_repetition_penalty(
    logits: np.ndarray, history: np.ndarray, penalty: float, penalizable: np.ndarray
) -> np.ndarray:
    """CTRL-style penalty on note tokens seen in `history` [B, W]; structure untouched."""
    if penalty == 1.0 or history.size == 0:
        return logits
    seen = np.zeros(logits.shape, dtype=bool)
    np.put_along_axis(seen, np.maximum(history, 0), True, axis=1)
    seen &= penalizable[None, :]
    scaled = np.where(logits > 0, logits / penalty, logits * penalty)
    return np.where(seen, scaled, logits).astype(logits.dtype)


def sample_top_k_top_p(
    logits: np.ndarray, top_k: int, top_p: float, rng: np.random.Generator
) -> np.ndarray:
    """One id per row from softmax(logits), restricted to the top-k and the top-p nucleus.

    Only the k best logits are sorted (not the whole vocabulary), which keeps a decode step
    cheap. Masked (-inf) logits get probability 0; every row needs one finite logit. The
    draw inverts the cumulative distribution with one uniform number per row (the same
    law as `sample_row`, which is this for one row).
    """
    B, V = logits.shape
    k = top_k if 0 < top_k < V else V
    if k < V:
        best = np.argpartition(logits, V - k, axis=-1)[:, V - k :]
    else:
        best = np.broadcast_to(np.arange(V), (B, V))
    values = np.take_along_axis(logits, best, axis=-1)
    order_in_best = np.argsort(-values, axis=-1, kind="stable")  # best first
    order = np.take_along_axis(best, order_in_best, axis=-1)
    values = np.take_along_axis(values, order_in_best, axis=-1)
    probs = np.exp(values - values[:, :1])
    probs /= probs.sum(-1, keepdims=True)
    if top_p < 1.0:
        cum = np.cumsum(probs, axis=-1)
        probs = np.where(cum - probs > top_p, 0.0, probs)  # the first always stays
    cum = np.cumsum(probs, axis=-1)
    u = rng.random((B, 1)) * cum[:, -1:]
    # The first index whose cumulative mass reaches u; never one of probability 0.
    choice = np.minimum((cum < u).sum(-1, keepdims=True), k - 1)
    return np.take_along_axis(order, choice, axis=-1).reshape(-1)


def sample_row(
    logits: np.ndarray,
    base: np.ndarray,
    allowed: np.ndarray,
    top_k: int,
    top_p: float,
    temperature: float,
    u: float,
) -> tuple[int, float]:
    """One token from one row, in NumPy: the batch-1 decode path.

    The same distribution as masking `logits` to `allowed`, dividing by the temperature
    and `sample_top_k_top_p`, drawn with the uniform number `u` in [0, 1); plus the
    token's log-probability under `base` (the unguided model) restricted to `allowed`.
    At batch 1 these are a few hundred numbers, where each torch op's fixed cost
    outweighs the arithmetic; NumPy's is several times smaller.
    """
    x = np.where(allowed, logits, -np.inf)
    if temperature != 1.0:
        x = x / temperature
    V = x.shape[0]
    k = top_k if 0 < top_k < V else V
    best = np.argpartition(x, V - k)[V - k :] if k < V else np.arange(V)
    order = best[np.argsort(-x[best], kind="stable")]
    p = np.exp(x[order] - x[order[0]])
    p /= p.sum()
    cum = np.cumsum(p)
    kept = int(np.count_nonzero(cum - p <= top_p)) if top_p < 1.0 else k  # the first stays
    cum = cum[: max(kept, 1)]
    choice = min(int(np.searchsorted(cum, u * cum[-1], side="left")), len(cum) - 1)
    token = int(order[choice])
    b = base[allowed]
    top = b.max()
    logprob = float(base[token] - top - np.log(np.exp(b - top).sum()))
    return token, logprob
