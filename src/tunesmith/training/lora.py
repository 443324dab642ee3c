"""Low-rank adapters (LoRA) for fine-tuning: few trainable weights, merged when saved.

Each adapted linear layer's weight W becomes W + (alpha / rank) * B @ A, with A [rank, in]
drawn small and B [out, rank] zero, so training starts from the base model exactly; W itself
stays frozen. The attention (qkv, proj) and feed-forward (fc, out) layers of every block are
adapted. The token embeddings (tied to the output layer) stay trainable, so a style control
the base never used can still get its own vector.

It is a torch parametrization: the model's modules and forward pass are unchanged, and
`merged_state` gives the effective weights under the plain parameter names, which is what
the trainer's EMA copy follows and what a saved model holds. A fine-tuned model therefore
loads, exports to ONNX and generates like any other: adapters cost nothing at inference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..model.transformer import MusicTransformer

TARGETS = ("attn.qkv", "attn.proj", "mlp.0", "mlp.2")  # in each block


@dataclass(frozen=True)
class LoraConfig:
    rank: int = 16
    alpha: float = 32.0
    train_embeddings: bool = True

    def validated(self) -> LoraConfig:
        if (
            isinstance(self.rank, bool)
            or not isinstance(self.rank, int)
            or not 1 <= self.rank <= 256
        ):
            raise ValueError("the LoRA rank must be a whole number from 1 to 256")
        if not (
            isinstance(self.alpha, int | float) and math.isfinite(self.alpha) and self.alpha > 0
        ):
            raise ValueError("the LoRA alpha must be a positive number")
        return self


class LowRankDelta(nn.Module):
    """W -> W + scale * B @ A."""

    def __init__(self, out_features: int, in_features: int, rank: int, alpha: float) -> None:
        super().__init__()
        self.A = nn.Parameter(torch.empty(rank, in_features))
        self.B = nn.Parameter(torch.zeros(out_features, rank))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.scale = alpha / rank

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight + self.scale * (self.B @ self.A)


def add_lora(model: MusicTransformer, cfg: LoraConfig) -> list[nn.Parameter]:
    """Freeze `model` and adapt its blocks' linear layers; returns the trainable parameters
    (the adapters, and the token embeddings when `cfg.train_embeddings`)."""
    cfg = cfg.validated()
    for p in model.parameters():
        p.requires_grad_(False)
    trainable: list[nn.Parameter] = []
    for block in model.block_list:
        for path in TARGETS:
            layer = block.get_submodule(path)
            if not isinstance(layer, nn.Linear):
                continue
            delta = LowRankDelta(layer.out_features, layer.in_features, cfg.rank, cfg.alpha)
            delta.to(layer.weight.device)
            parametrize.register_parametrization(layer, "weight", delta)
            trainable += [delta.A, delta.B]
    if cfg.train_embeddings:
        emb = cast(nn.Parameter, model.tok_emb.weight)
        emb.requires_grad_(True)
        trainable.append(emb)
    return trainable


def has_lora(model: nn.Module) -> bool:
    return any(parametrize.is_parametrized(m) for m in model.modules())


def merged_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The effective weights under the plain parameter names (W + scale * B @ A for the
    adapted layers): a state dict a model without adapters loads."""
    out: dict[str, torch.Tensor] = {}
    for name, module in model.named_modules():
        if ".parametrizations" in f".{name}" or name.endswith("parametrizations"):
            continue
        prefix = f"{name}." if name else ""
        for pname, p in module.named_parameters(recurse=False):
            out[prefix + pname] = p.detach()
        for bname, b in module.named_buffers(recurse=False):
            out[prefix + bname] = b.detach()
        if parametrize.is_parametrized(module):
            with torch.no_grad():
                for pname in module.parametrizations:
                    out[prefix + pname] = getattr(module, pname).detach()
    return out


def count(params: list[nn.Parameter]) -> int:
    return sum(p.numel() for p in params)
