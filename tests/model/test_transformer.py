"""The transformer: KV cache equals the full forward; save/load keeps the logits."""

from __future__ import annotations

import pytest
import torch

from tunesmith.errors import CheckpointError
from tunesmith.model.transformer import ModelConfig, MusicTransformer


@pytest.mark.parametrize("conditioning", ["prefix", "cross"])
def test_kv_cache_matches_full_forward(conditioning):
    torch.manual_seed(0)
    cfg = ModelConfig(
        vocab_size=97, n_layer=2, n_head=2, d_model=32, block_size=64, conditioning=conditioning
    )
    model = MusicTransformer(cfg).eval()
    idx = torch.randint(0, 97, (3, 24))
    text = torch.randn(3, 384)
    use = torch.tensor([True, False, True])
    full = model(idx, text, use)
    cache = model.new_cache(3)
    steps = [model(idx[:, :6], text, use, cache=cache)]
    steps += [model(idx[:, t : t + 1], cache=cache) for t in range(6, 24)]
    assert (full - torch.cat(steps, 1)).abs().max().item() < 1e-4


@pytest.mark.parametrize("conditioning", ["prefix", "cross"])
def test_fast_step_matches_full_forward(conditioning):
    """`step` (the decode hot path) gives forward's logits, one token or several at a time."""
    torch.manual_seed(2)
    cfg = ModelConfig(
        vocab_size=97, n_layer=2, n_head=2, d_model=32, block_size=64, conditioning=conditioning
    )
    model = MusicTransformer(cfg).eval()
    idx = torch.randint(0, 97, (2, 20))
    text = torch.randn(2, 384)
    full = model(idx, text)
    cache = model.new_cache(2)
    steps = [model(idx[:, :5], text, cache=cache)]
    steps += [model.step(idx[:, t : t + 1], cache) for t in range(5, 12)]
    steps += [model.step(idx[:, 12:15], cache), model.step(idx[:, 15:], cache)]
    assert cache.length == cfg.prefix_len + 20
    assert (full - torch.cat(steps, 1)).abs().max().item() < 1e-4


def test_fast_step_on_left_padded_rows():
    torch.manual_seed(3)
    cfg = ModelConfig(vocab_size=50, n_layer=2, n_head=2, d_model=32, block_size=64)
    model = MusicTransformer(cfg).eval()
    a, b = torch.randint(1, 50, (1, 12)), torch.randint(1, 50, (1, 8))
    text = torch.randn(2, 384)
    batch = torch.zeros(2, 9, dtype=torch.long)
    batch[0], batch[1, 4:] = a[0, :9], b[0, :5]
    cache = model.new_cache(2)
    cache.left_pad = torch.tensor([0, 4])
    model(batch, text, cache=cache)
    out = model.step(torch.stack([a[0, 9:], b[0, 5:]]), cache)
    assert (out[0] - model(a, text[:1])[0, 9:]).abs().max() < 1e-4
    assert (out[1] - model(b, text[1:])[0, 5:]).abs().max() < 1e-4


def test_step_needs_a_filled_cache():
    model = MusicTransformer(ModelConfig(vocab_size=20, n_layer=1, n_head=2, d_model=16))
    with pytest.raises(ValueError, match="forward"):
        model.step(torch.zeros(1, 1, dtype=torch.long), model.new_cache(1))


def test_left_padded_rows_match_unpadded():
    torch.manual_seed(1)
    cfg = ModelConfig(vocab_size=50, n_layer=2, n_head=2, d_model=32, block_size=64)
    model = MusicTransformer(cfg).eval()
    a, b = torch.randint(1, 50, (1, 9)), torch.randint(1, 50, (1, 5))
    text = torch.randn(2, 384)
    batch = torch.zeros(2, 9, dtype=torch.long)
    batch[0], batch[1, 4:] = a[0], b[0]
    cache = model.new_cache(2)
    cache.left_pad = torch.tensor([0, 4])
    out = model(batch, text, cache=cache)
    assert (out[1, 4:] - model(b, text[1:])[0]).abs().max() < 1e-4
    assert (out[0] - model(a, text[:1])[0]).abs().max() < 1e-4


def test_save_load_round_trip(tmp_path):
    cfg = ModelConfig(vocab_size=40, n_layer=1, n_head=2, d_model=16, block_size=32)
    model = MusicTransformer(cfg).eval()
    model.save(tmp_path)
    again = MusicTransformer.load(tmp_path)
    idx = torch.randint(0, 40, (2, 10))
    assert torch.equal(model(idx), again(idx))


def test_corrupt_or_truncated_checkpoint_is_a_clear_error(tmp_path):
    cfg = ModelConfig(vocab_size=40, n_layer=1, n_head=2, d_model=16, block_size=32)
    MusicTransformer(cfg).save(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        MusicTransformer.load(tmp_path)
    weights.unlink()
    with pytest.raises(CheckpointError, match="not a tunesmith checkpoint"):
        MusicTransformer.load(tmp_path)
