"""Training batches: transposition moves pitches and the key together; conditions drop."""

from __future__ import annotations

import numpy as np

from tunesmith.data.batches import IGNORE, AugmentConfig, BatchSampler
from tunesmith.data.dataset import load_token_dataset, transpose_table
from tunesmith.music.keys import transpose_key


def test_dataset_layout(tiny_tokens):
    ds = load_token_dataset(tiny_tokens)
    assert len(ds.pieces) == 24
    assert ds.text_emb.shape[1] == 384
    for i, p in enumerate(ds.pieces):
        ids = ds.piece_ids(i)
        bars = ds.piece_bars(i)
        assert len(ids) > 0 and bars[0] == 0
        # every piece has its own captions plus transposed ones, each row embedded
        assert "0" in p["caption_rows"] and len(p["caption_rows"]) >= 2
        assert np.abs(ds.text_emb[p["caption_rows"]["0"]].astype(float)).sum() > 0


def test_transposition_shifts_pitch_tokens_and_key(tiny_tokens):
    ds = load_token_dataset(tiny_tokens)
    tok = ds.tokenizer
    table = transpose_table(tok, 3)
    ids = ds.piece_ids(0).astype(np.int64)
    moved = table[ids]
    for a, b in zip(tok.tokens(ids), tok.tokens(moved), strict=True):
        if a.startswith("Pitch_"):
            assert int(b.split("_")[1]) == int(a.split("_")[1]) + 3
        else:
            assert a == b
    assert transpose_key("D major", 3) == "F major"
    assert transpose_key("B minor", 1) == "C minor"


def test_training_batches_shape_and_targets(tiny_tokens):
    ds = load_token_dataset(tiny_tokens)
    sampler = BatchSampler(ds, "train", block_size=128, augment=AugmentConfig(), seed=0)
    batch = sampler.sample(16)
    assert batch["idx"].shape == (16, 128)
    t = batch["targets"]
    # the targets are the inputs shifted by one wherever there is a loss
    valid = (t[:, :-1] != IGNORE) & (batch["idx"][:, 1:] != ds.tokenizer.pad_id)
    assert valid.any()
    assert (batch["idx"][:, 1:][valid] == t[:, :-1][valid]).all()
    # control tokens are never targets
    assert not ((t >= ds.tokenizer.music_vocab_size) & (t != IGNORE)).any()
    # with dropout on, some examples lose the text
    many = [sampler.sample(16)["use_text"] for _ in range(10)]
    frac = float(np.mean([m.float().mean() for m in many]))
    assert 0.5 < frac < 0.95


def test_validation_batches_are_deterministic(tiny_tokens):
    ds = load_token_dataset(tiny_tokens)
    sampler = BatchSampler(ds, "val", block_size=128, augment=None, seed=0)
    a = next(sampler.fixed_batches(4, 1))
    b = next(sampler.fixed_batches(4, 1))
    assert (a["idx"] == b["idx"]).all() and a["use_text"].all()
    plain = next(sampler.fixed_batches(4, 1, drop="all"))
    assert not plain["use_text"].any()
