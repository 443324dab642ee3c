"""Fine-tuning v1 weights into model v2's larger vocabulary."""

from __future__ import annotations

import torch

from tunesmith.model.transformer import MusicTransformer
from tunesmith.tokens.tokenizer import MusicTokenizer
from tunesmith.training.trainer import _grow_embeddings, _vocab_extends


def test_grown_embeddings_keep_old_rows_and_add_distinct_new_ones():
    old = torch.randn(10, 8)
    state = {"tok_emb.weight": old, "lm_head.weight": old, "other": torch.ones(3)}
    grown = _grow_embeddings(state, 14, seed=0)
    new = grown["tok_emb.weight"]
    assert new.shape == (14, 8) and torch.equal(new[:10], old)
    assert grown["lm_head.weight"] is new and torch.equal(grown["other"], state["other"])
    cos = torch.nn.functional.cosine_similarity(new[10:, None], new[None, 10:], dim=-1)
    assert (cos - torch.eye(4)).abs().max() < 0.99


def test_vocab_extension_is_recognised():
    v1, v2 = MusicTokenizer("REMI"), MusicTokenizer("REMI", ("harmony", "infill"))
    assert _vocab_extends(v1, v2) and not _vocab_extends(v2, v1)
    assert not _vocab_extends(MusicTokenizer("MIDILike"), v2)


def test_a_v2_run_starts_from_the_v1_weights(tiny_run, tiny_run_v2):
    v1 = MusicTransformer.load(tiny_run / "model")
    v2 = MusicTransformer.load(tiny_run_v2 / "model")
    assert v2.cfg.vocab_size == v1.cfg.vocab_size + 125
    # 30 fine-tuning steps move the weights, but they started from v1's: still close
    a, b = v1.tok_emb.weight, v2.tok_emb.weight[: v1.cfg.vocab_size]
    assert torch.nn.functional.cosine_similarity(a, b).mean() > 0.5
