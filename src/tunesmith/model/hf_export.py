"""Copy a MusicTransformer's weights into Hugging Face's GPT-2 (same architecture).

Used by benchmarks/generate.py to compare our decode loop with `transformers`'
`generate()` on identical weights; the logits are checked equal before timing.
Only the prefix-conditioned model maps onto GPT-2 (cross-attention has no GPT-2 twin).
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn as nn

from ..errors import BadInputError
from .transformer import MusicTransformer


def to_hf_gpt2(model: MusicTransformer):
    """A `transformers.GPT2LMHeadModel` holding `model`'s weights."""
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = model.cfg
    if cfg.conditioning != "prefix":
        raise BadInputError("only prefix-conditioned models map onto GPT-2")
    hf_cfg = GPT2Config(
        vocab_size=cfg.vocab_size,
        n_positions=cfg.max_positions,
        n_embd=cfg.d_model,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        activation_function="gelu_new",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        layer_norm_epsilon=1e-5,
        bos_token_id=0,
        eos_token_id=0,
    )
    hf = GPT2LMHeadModel(hf_cfg).eval()
    sd = {
        "transformer.wte.weight": model.tok_emb.weight,
        "transformer.wpe.weight": model.pos_emb.weight,
        "transformer.ln_f.weight": model.ln_f.weight,
        "transformer.ln_f.bias": model.ln_f.bias,
    }
    for i, blk in enumerate(model.block_list):
        p = f"transformer.h.{i}."
        fc, out = cast(nn.Linear, blk.mlp[0]), cast(nn.Linear, blk.mlp[2])
        # GPT-2's Conv1D stores [in, out]: our Linear weights transposed.
        sd.update(
            {
                p + "ln_1.weight": blk.ln_1.weight,
                p + "ln_1.bias": blk.ln_1.bias,
                p + "attn.c_attn.weight": blk.attn.qkv.weight.t(),
                p + "attn.c_attn.bias": blk.attn.qkv.bias,
                p + "attn.c_proj.weight": blk.attn.proj.weight.t(),
                p + "attn.c_proj.bias": blk.attn.proj.bias,
                p + "ln_2.weight": blk.ln_2.weight,
                p + "ln_2.bias": blk.ln_2.bias,
                p + "mlp.c_fc.weight": fc.weight.t(),
                p + "mlp.c_fc.bias": fc.bias,
                p + "mlp.c_proj.weight": out.weight.t(),
                p + "mlp.c_proj.bias": out.bias,
            }
        )
    with torch.no_grad():
        own = hf.state_dict()
        for k, v in sd.items():
            own[k].copy_(v.detach())
    hf.tie_weights()
    return hf


def prefix_embeddings(model: MusicTransformer, ids: torch.Tensor, text_emb=None) -> torch.Tensor:
    """inputs_embeds for GPT-2: the text prefix vectors followed by the token embeddings."""
    prefix = model.text_prefix(text_emb, None, ids.shape[0])
    return torch.cat([prefix, model.tok_emb(ids)], dim=1)
