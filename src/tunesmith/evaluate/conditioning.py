"""Does conditioning help? Validation loss of one model with all conditions, without the
text, and without text and controls — on the same music tokens."""

from __future__ import annotations

import math
from pathlib import Path

from ..data.batches import BatchSampler
from ..data.dataset import load_token_dataset
from ..model.transformer import MusicTransformer
from ..training.trainer import evaluate_loss


def conditioning_losses(
    model_dir: str | Path,
    tokens_dir: str | Path,
    split: str = "val",
    batch_size: int = 16,
    batches: int = 16,
) -> dict:
    """Mean loss (nats/token) and perplexity with full / no-text / no conditions."""
    model = MusicTransformer.load(model_dir)
    ds = load_token_dataset(tokens_dir)
    sampler = BatchSampler(ds, split, model.cfg.block_size, None, seed=0)
    out = {"split": split, "pieces": min(len(sampler.indexes), batch_size * batches)}
    for drop in ("none", "text", "all"):
        loss = evaluate_loss(model, sampler, batch_size, batches, "cpu", drop=drop)
        out[drop] = {"loss": loss, "ppl": math.exp(loss)}
    return out
