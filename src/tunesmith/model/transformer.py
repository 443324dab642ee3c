"""The music transformer: a GPT-style decoder with a text-conditioning prefix and a KV cache.

Input layout (positions 0..):  [K text-prefix vectors] BOS controls... music...
The text prefix is the frozen sentence embedding projected by a small MLP into K vectors
(a learned "null" prefix stands in when the text is dropped, which is what classifier-free
guidance contrasts against). With `conditioning="cross"` the K vectors are instead a
memory that every block reads through cross-attention (Model B of the conditioning study,
which docs/EVALUATION.md reports: it compares the two).

Learned absolute positions, pre-norm blocks, GELU MLP and tied embeddings keep the weights
a drop-in match for Hugging Face's GPT-2 (benchmarks compare against its `generate()`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import cast

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import BadInputError, CheckpointError
from .config import SIZE_BOUNDS, ModelConfig, check_model_folder, check_shapes

__all__ = ["SIZE_BOUNDS", "KVCache", "ModelConfig", "MusicTransformer"]


class KVCache:
    """Preallocated keys and values for every layer: [2, B, H, max_len, head_dim] each."""

    def __init__(self, cfg: ModelConfig, batch: int, max_len: int, device, dtype) -> None:
        shape = (2, batch, cfg.n_head, max_len, cfg.d_model // cfg.n_head)
        # Keys and values of a layer share one tensor, so decoding writes both in one copy.
        self.kv = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layer)]
        self.length = 0  # positions filled
        self.max_len = max_len
        self.memory: list[tuple[torch.Tensor, torch.Tensor]] | None = None  # cross-attn K/V
        # Rows of different lengths are left-padded: row b has `left_pad[b]` pad positions
        # right after the text prefix; they are masked out and positions skip them.
        self.left_pad: torch.Tensor | None = None
        self._causal: torch.Tensor | None = None

    def causal_mask(self, start: int, T: int) -> torch.Tensor:
        """[T, start + T] bool: T new queries after `start` cached positions (True = see)."""
        if self._causal is None:
            n = self.max_len
            self._causal = torch.ones(n, n, dtype=torch.bool, device=self.kv[0].device).tril()
        return self._causal[start : start + T, : start + T]

    def reorder(self, index: torch.Tensor) -> None:
        """Keep batch rows `index` (e.g. after choosing candidates)."""
        self.kv = [kv[:, index] for kv in self.kv]
        if self.left_pad is not None:
            self.left_pad = self.left_pad[index]
        if self.memory is not None:
            self.memory = [(k[index], v[index]) for k, v in self.memory]


class SelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.dropout = cfg.dropout

    def forward(self, x, cache: KVCache | None = None, layer: int = 0, mask=None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        drop = self.dropout if self.training else 0.0
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=drop)
        else:
            start = cache.length
            if start + T > cache.max_len:
                raise ValueError("sequence longer than the KV cache")
            cache.kv[layer][0][:, :, start : start + T] = k
            cache.kv[layer][1][:, :, start : start + T] = v
            k_all = cache.kv[layer][0][:, :, : start + T]
            v_all = cache.kv[layer][1][:, :, : start + T]
            if mask is not None:
                y = F.scaled_dot_product_attention(q, k_all, v_all, attn_mask=mask)
            elif T == 1:
                y = F.scaled_dot_product_attention(q, k_all, v_all)
            else:  # causal over the new rows, full view of everything cached before
                mask = torch.ones(T, start + T, dtype=torch.bool, device=x.device).tril(start)
                y = F.scaled_dot_product_attention(q, k_all, v_all, attn_mask=mask)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y)


class CrossAttention(nn.Module):
    """Attention from music positions to the K text vectors (conditioning='cross')."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.q = nn.Linear(cfg.d_model, cfg.d_model)
        self.kv = nn.Linear(cfg.d_model, 2 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def memory_kv(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, K, C = memory.shape
        k, v = self.kv(memory).split(C, dim=2)
        k, v = (t.view(B, K, self.n_head, C // self.n_head).transpose(1, 2) for t in (k, v))
        return k, v

    def forward(self, x, mem_kv):
        B, T, C = x.shape
        q = self.q(x).view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, *mem_kv)
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.d_model)
        self.attn = SelfAttention(cfg)
        self.cross: CrossAttention | None = None
        if cfg.conditioning == "cross":
            self.ln_x = nn.LayerNorm(cfg.d_model)
            self.cross = CrossAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, 4 * cfg.d_model),
            nn.GELU(approximate="tanh"),
            nn.Linear(4 * cfg.d_model, cfg.d_model),
        )
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, cache=None, layer=0, mem_kv=None, mask=None):
        x = x + self.drop(self.attn(self.ln_1(x), cache, layer, mask))
        if self.cross is not None:
            x = x + self.drop(self.cross(self.ln_x(x), mem_kv))
        return x + self.drop(self.mlp(self.ln_2(x)))


class MusicTransformer(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.tok_emb = nn.Embedding(cfg.vocab_size, d)
        self.pos_emb = nn.Embedding(cfg.max_positions, d)
        self.text_proj = nn.Sequential(
            nn.Linear(cfg.text_dim, d), nn.GELU(), nn.Linear(d, cfg.n_prefix * d)
        )
        self.null_prefix = nn.Parameter(torch.zeros(cfg.n_prefix, d))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight  # tied
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2's scaled init of residual outputs
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @property
    def block_list(self) -> Sequence[Block]:
        """`blocks`, typed: an nn.ModuleList iterates as plain Modules for type checkers."""
        return cast("Sequence[Block]", self.blocks)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def text_prefix(self, text_emb: torch.Tensor | None, use_text: torch.Tensor | None, batch: int):
        """[B, K, d] conditioning vectors; rows with use_text False get the null prefix."""
        K, d = self.cfg.n_prefix, self.cfg.d_model
        null = self.null_prefix.unsqueeze(0).expand(batch, K, d)
        if text_emb is None:
            return null
        proj = self.text_proj(text_emb.to(self.null_prefix.dtype)).view(batch, K, d)
        if use_text is None:
            return proj
        return torch.where(use_text.view(batch, 1, 1), proj, null)

    def forward(
        self,
        idx: torch.Tensor,
        text_emb: torch.Tensor | None = None,
        use_text: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """Logits [B, T, vocab] for token positions.

        Without a cache, the whole sequence (prefix + idx) is processed. With a cache, the
        first call (cache.length == 0) also inserts the text prefix; later calls append.
        """
        B, T = idx.shape
        x = self.tok_emb(idx)
        start = cache.length if cache is not None else 0
        first = cache is None or cache.length == 0
        mem_kv = None
        n_pre = 0
        if self.cfg.conditioning == "prefix":
            if first:
                x = torch.cat([self.text_prefix(text_emb, use_text, B), x], dim=1)
                n_pre = self.cfg.n_prefix
        else:
            if cache is not None and cache.memory is not None:
                mem_kv_list = cache.memory
            else:
                memory = self.text_prefix(text_emb, use_text, B)
                mem_kv_list = []
                for block in self.block_list:
                    assert block.cross is not None  # conditioning == "cross"
                    mem_kv_list.append(block.cross.memory_kv(memory))
                if cache is not None:
                    cache.memory = mem_kv_list
        L = x.shape[1]
        if start + L > self.cfg.max_positions:
            raise ValueError(
                f"sequence of {start + L} positions exceeds the model's {self.cfg.max_positions}"
            )
        pos = torch.arange(start, start + L, device=idx.device)
        mask = None
        if cache is not None and cache.left_pad is not None:
            pos, mask = self._padded_positions(pos, cache.left_pad)
        x = x + self.pos_emb(pos)
        for i, blk in enumerate(self.blocks):
            if self.cfg.conditioning == "cross":
                mem_kv = mem_kv_list[i]
            x = blk(x, cache, i, mem_kv, mask)
        if cache is not None:
            cache.length += L
        x = self.ln_f(x[:, n_pre:])
        return self.lm_head(x)

    def step(self, idx: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Logits [B, T, vocab] for `idx` appended to a cache that `forward` has filled.

        The decode hot path. The maths is `forward`'s with a cache, written as plain tensor
        ops on the same parameters: at batch 1 on a CPU, the ~100 submodule calls per token
        that `forward` makes cost about as much as the matrix products themselves. Fewer,
        larger ops win here: torch.layer_norm without its Python wrapper, keys and values
        written with one copy into the cache, and SDPA (here ~18 µs against ~27 µs for
        explicit attention of one query over 200 cached positions).
        tests/test_model.py checks it against `forward` (prefix, cross, padded, T > 1).
        """
        B, T = idx.shape
        start = cache.length
        if start == 0:
            raise ValueError("step() continues a cache; fill it with forward() first")
        if start + T > cache.max_len or start + T > self.cfg.max_positions:
            raise ValueError("sequence longer than the KV cache")
        end = start + T
        pos = torch.arange(start, end, device=idx.device)
        mask = None
        if cache.left_pad is not None:
            pos, mask = self._padded_positions(pos, cache.left_pad)
        elif T > 1:
            mask = cache.causal_mask(start, T)
        C, H = self.cfg.d_model, self.cfg.n_head
        hd = C // H
        scale = hd**-0.5
        norm = torch.layer_norm
        emb, pos_emb, layers, (lnf_w, lnf_b) = self._step_weights()
        x = F.embedding(idx, emb) + F.embedding(pos, pos_emb)
        for i, (ln1w, ln1b, qkvw, qkvb, pw, pb, cross, ln2w, ln2b, f1w, f1b, f2w, f2b) in enumerate(
            layers
        ):
            # [3, B, H, T, hd]: q, then k and v written into the cache in one copy.
            qkv = F.linear(norm(x, (C,), ln1w, ln1b), qkvw, qkvb)
            qkv = qkv.view(B, T, 3, H, hd).permute(2, 0, 3, 1, 4)
            kv = cache.kv[i]  # narrow() is much cheaper than slicing
            kv.narrow(3, start, T).copy_(qkv[1:])
            seen = kv.narrow(3, 0, end)
            y = F.scaled_dot_product_attention(qkv[0], seen[0], seen[1], attn_mask=mask)
            x = x + F.linear(y.transpose(1, 2).reshape(B, T, C), pw, pb)
            if cross is not None:
                lnxw, lnxb, cqw, cqb, cpw, cpb = cross
                h = norm(x, (C,), lnxw, lnxb)
                q = F.linear(h, cqw, cqb).view(B, T, H, hd).transpose(1, 2)
                assert cache.memory is not None  # forward() filled it (cross conditioning)
                mk, mv = cache.memory[i]
                y = torch.matmul(
                    torch.softmax(torch.matmul(q, mk.transpose(-1, -2)) * scale, -1), mv
                )
                x = x + F.linear(y.transpose(1, 2).reshape(B, T, C), cpw, cpb)
            h = F.gelu(F.linear(norm(x, (C,), ln2w, ln2b), f1w, f1b), approximate="tanh")
            x = x + F.linear(h, f2w, f2b)
        cache.length = end
        return F.linear(norm(x, (C,), lnf_w, lnf_b), emb)

    def _step_weights(self):
        """The parameters `step` reads, flattened once (module attribute lookups are slow).

        They are references to the same Parameter objects, which optimizer steps, `.to()`
        and `load_state_dict` update in place, so the list never goes stale.
        """
        cached = self.__dict__.get("_step_cache")
        if cached is None:
            layers = []
            for blk in self.blocks:
                a, fc, out = blk.attn, blk.mlp[0], blk.mlp[2]
                cross = None
                if blk.cross is not None:
                    c = blk.cross
                    cross = (blk.ln_x.weight, blk.ln_x.bias, c.q.weight, c.q.bias)
                    cross += (c.proj.weight, c.proj.bias)
                layers.append(
                    (blk.ln_1.weight, blk.ln_1.bias, a.qkv.weight, a.qkv.bias, a.proj.weight)
                    + (a.proj.bias, cross, blk.ln_2.weight, blk.ln_2.bias, fc.weight, fc.bias)
                    + (out.weight, out.bias)
                )
            cached = (self.tok_emb.weight, self.pos_emb.weight, layers)
            cached += ((self.ln_f.weight, self.ln_f.bias),)
            self.__dict__["_step_cache"] = cached
        return cached

    def _padded_positions(self, pos: torch.Tensor, left_pad: torch.Tensor):
        """Per-row positions and attention mask for left-padded rows.

        Pads sit right after the text prefix (P positions). Each row's real tokens get the
        positions they would have unpadded; pad keys are masked out. A query may always see
        itself, so a pad query never has an all-masked row (which would give NaN).
        """
        P = self.cfg.prefix_len
        S = int(pos[-1]) + 1
        j = torch.arange(S, device=pos.device)
        pad = left_pad.view(-1, 1)
        valid = ~((j >= P) & (j < P + pad))  # [B, S]
        causal = j.view(1, -1) <= pos.view(-1, 1)  # [L, S]
        mask = valid[:, None, None, :] & causal[None, None]
        mask = mask | (j.view(1, -1) == pos.view(-1, 1))[None, None]
        row_pos = torch.where(
            pos.view(1, -1) >= P, (pos.view(1, -1) - pad).clamp(min=P), pos.view(1, -1)
        )
        return row_pos, mask

    def new_cache(self, batch: int, max_len: int | None = None, dtype=None) -> KVCache:
        p = self.tok_emb.weight
        return KVCache(
            self.cfg, batch, max_len or self.cfg.max_positions, p.device, dtype or p.dtype
        )

    # -- persistence -----------------------------------------------------------------------
    def save(
        self, folder: str | Path, extra_config: dict | None = None, export_onnx: bool = True
    ) -> None:
        """model.safetensors + config.json in `folder` (each written atomically), and the
        ONNX graph that runs them without PyTorch (model.onnx; needs the `onnx` package)."""
        from safetensors.torch import save as st_save

        from ..fileio import atomic_write_bytes, atomic_write_json

        folder = Path(folder)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        state.pop("lm_head.weight")  # tied to tok_emb.weight
        atomic_write_bytes(folder / "model.safetensors", st_save(state))
        atomic_write_json(
            folder / "config.json", {"model": asdict(self.cfg), **(extra_config or {})}
        )
        if export_onnx and self.cfg.conditioning == "prefix":
            import importlib.util

            if importlib.util.find_spec("onnx") is not None:  # else: export it later
                from .onnx_export import export_onnx as export

                export(folder)

    @staticmethod
    def check_folder(folder: str | Path) -> ModelConfig:
        """The folder's config, when it and the weights' shapes agree (config.py)."""
        return check_model_folder(folder)

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> MusicTransformer:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        folder = Path(folder)
        cfg_path, weights = folder / "config.json", folder / "model.safetensors"
        if not cfg_path.is_file() or not weights.is_file():
            raise CheckpointError(
                f"{str(folder)!r} is not a tunesmith checkpoint (needs config.json and "
                "model.safetensors)"
            )
        try:
            cfg = ModelConfig.from_dict(json.loads(cfg_path.read_text(encoding="utf-8"))["model"])
            state = load_file(str(weights), device=device)
        except (json.JSONDecodeError, KeyError, SafetensorError, OSError, BadInputError) as e:
            raise CheckpointError(f"checkpoint {str(folder)!r} is corrupt: {e}") from None
        check_shapes(folder, cfg, state)  # before the model is built and memory is taken
        model = cls(cfg).to(device)
        state["lm_head.weight"] = state["tok_emb.weight"]
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as e:
            first = str(e).splitlines()[0]
            raise CheckpointError(
                f"checkpoint {str(folder)!r} does not match its config: {first}"
            ) from None
        model.eval()
        return model
