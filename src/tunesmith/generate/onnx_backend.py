"""The ONNX Runtime backend: the music transformer without PyTorch.

`model/onnx_export.py` writes `model.onnx` beside a checkpoint's `model.safetensors`
(its initializers read the weights from there, so the export adds about 25 kB).

The graph is the decoder stack for T new positions over a cache of M positions:

    inputs   x [B, T, C]          token + position embeddings (the text prefix included)
             mask_past [B, 1, T, M], mask_new [B, 1, T, T]   additive: 0 = see, -inf = not
             past_k_i [B, H, hd, M], past_v_i [B, H, M, hd]  per layer i
    outputs  logits [B, T, vocab], new_k_i [B, H, hd, T], new_v_i [B, H, T, hd]

Embeddings, the text prefix MLP, positions and masks are a few NumPy operations here;
everything that costs time runs in the graph. Keys are cached transposed ([hd, M]) so
attention is two plain MatMuls, and the cache buffers are passed whole (M = their
capacity, unfilled positions masked): no copy of the cache per step. The cache grows in
steps of `GROW` positions, so attention reads about what it needs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import CheckpointError
from ..model.config import ModelConfig
from ..model.onnx_export import (  # noqa: F401  (re-exported: the backend's files)
    INT8_FILE,
    ONNX_FILE,
    WEIGHTS_FILE,
    export_is_current,
    export_onnx,
)

GROW = 64  # cache positions added at a time


# -- runtime -----------------------------------------------------------------------------------
class OnnxCache:
    """Keys [B, H, hd, cap] and values [B, H, cap, hd] per layer, grown in GROW steps."""

    def __init__(self, cfg: ModelConfig, batch: int, left_pad: Sequence[int]) -> None:
        self.cfg = cfg
        self.batch = batch
        self.max_len = cfg.max_positions
        self.length = 0
        self.left_pad = np.asarray(list(left_pad), dtype=np.int64)
        self.cap = 0
        H, hd = cfg.n_head, cfg.d_model // cfg.n_head
        self.k = [np.zeros((batch, H, hd, 0), np.float32) for _ in range(cfg.n_layer)]
        self.v = [np.zeros((batch, H, 0, hd), np.float32) for _ in range(cfg.n_layer)]

    def reserve(self, needed: int) -> None:
        """Room for `needed` positions (a copy only when the capacity grows)."""
        if needed <= self.cap:
            return
        cap = min(self.max_len, -(-needed // GROW) * GROW)
        n = self.length
        for i in range(len(self.k)):
            k = np.zeros(self.k[i].shape[:3] + (cap,), np.float32)
            v = np.zeros(self.v[i].shape[:2] + (cap,) + self.v[i].shape[3:], np.float32)
            k[..., :n] = self.k[i][..., :n]
            v[:, :, :n] = self.v[i][:, :, :n]
            self.k[i], self.v[i] = k, v
        self.cap = cap

    def reorder(self, index: Sequence[int]) -> None:
        idx = np.asarray(list(index), dtype=np.int64)
        self.k = [k[idx] for k in self.k]
        self.v = [v[idx] for v in self.v]
        self.left_pad = self.left_pad[idx]
        self.batch = len(idx)


def _gelu_erf(x: np.ndarray) -> np.ndarray:
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return (0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))).astype(np.float32)


class OnnxBackend:
    """The exported model on ONNX Runtime behind the decoding session's calls."""

    name = "onnx"

    def __init__(
        self, folder: Path, cfg: ModelConfig, threads: int | None = None, graph: str = ONNX_FILE
    ) -> None:
        import onnxruntime as ort
        from safetensors.numpy import load_file

        self.cfg = cfg
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads or 0
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(folder / graph), opts, providers=["CPUExecutionProvider"]
        )
        w = load_file(str(folder / WEIGHTS_FILE))
        self.tok_emb = w["tok_emb.weight"]
        self.pos_emb = w["pos_emb.weight"]
        self.null_prefix = w["null_prefix"]
        self.text_w1, self.text_b1 = w["text_proj.0.weight"], w["text_proj.0.bias"]
        self.text_w2, self.text_b2 = w["text_proj.2.weight"], w["text_proj.2.bias"]
        self.output_names = [o.name for o in self.session.get_outputs()]

    @classmethod
    def load(
        cls, folder: str | Path, threads: int | None = None, graph: str = ONNX_FILE
    ) -> OnnxBackend:
        folder = Path(folder)
        try:
            cfg = ModelConfig.from_dict(
                json.loads((folder / "config.json").read_text(encoding="utf-8"))["model"]
            )
            return cls(folder, cfg, threads, graph)
        except (OSError, KeyError, json.JSONDecodeError) as e:
            raise CheckpointError(f"checkpoint {str(folder)!r} is corrupt: {e}") from None
        except Exception as e:  # onnxruntime's own errors (a damaged graph)
            raise CheckpointError(f"{str(folder)!r}: model.onnx cannot be loaded: {e}") from None

    # -- the session's calls -------------------------------------------------------------------
    def new_cache(self, batch: int, left_pad: Sequence[int]) -> OnnxCache:
        return OnnxCache(self.cfg, batch, left_pad)

    def reorder(self, cache: OnnxCache, index: Sequence[int]) -> None:
        cache.reorder(index)

    def prefill(
        self,
        idx: np.ndarray,
        text_emb: np.ndarray | None,
        use_text: np.ndarray | None,
        cache: OnnxCache,
    ) -> np.ndarray:
        return self._run(idx, cache, self._prefix(text_emb, use_text, len(idx)))[:, -1]

    def step(self, feed: np.ndarray, cache: OnnxCache) -> np.ndarray:
        if cache.length == 0:
            raise ValueError("step() continues a cache; fill it with prefill() first")
        return self._run(feed, cache, None)

    def logits(self, idx: np.ndarray, text_emb: np.ndarray | None) -> np.ndarray:
        cache = self.new_cache(len(idx), [0] * len(idx))
        return self._run(idx, cache, self._prefix(text_emb, None, len(idx)))

    # -- the work --------------------------------------------------------------------------------
    def _prefix(self, text_emb: np.ndarray | None, use_text: np.ndarray | None, batch: int):
        """[B, K, C] text-prefix vectors; rows without text get the learned null prefix."""
        K, C = self.cfg.n_prefix, self.cfg.d_model
        null = np.broadcast_to(self.null_prefix, (batch, K, C))
        if text_emb is None:
            return np.ascontiguousarray(null)
        h = _gelu_erf(text_emb.astype(np.float32) @ self.text_w1.T + self.text_b1)
        proj = (h @ self.text_w2.T + self.text_b2).reshape(batch, K, C)
        if use_text is None:
            return proj.astype(np.float32)
        return np.where(use_text.reshape(batch, 1, 1), proj, null).astype(np.float32)

    def _run(self, ids: np.ndarray, cache: OnnxCache, prefix: np.ndarray | None) -> np.ndarray:
        """Logits [B, T, V] of the token positions `ids` appended to `cache`."""
        B, T = ids.shape
        x = self.tok_emb[ids]
        n_pre = 0
        if prefix is not None and cache.length == 0:
            x = np.concatenate([prefix, x], axis=1)
            n_pre = prefix.shape[1]
        L = x.shape[1]
        start = cache.length
        if start + L > cache.max_len:
            raise ValueError("sequence longer than the KV cache")
        pos = np.arange(start, start + L)
        P = self.cfg.prefix_len
        if cache.left_pad.any():  # a padded row's tokens keep their unpadded positions
            pad = cache.left_pad[:, None]
            row_pos = np.where(pos[None] >= P, np.maximum(pos[None] - pad, P), pos[None])
        else:
            row_pos = np.broadcast_to(pos, (B, L))
        x = (x + self.pos_emb[row_pos]).astype(np.float32)
        mask_past, mask_new = self._masks(cache, start, L)
        if cache.cap == 0:  # the graph needs M >= 1: one masked dummy column
            cache.reserve(max(1, L))
            mask_past = np.full((B, 1, L, cache.cap), -np.inf, np.float32)
        feeds = {"x": x, "mask_past": mask_past, "mask_new": mask_new}
        for i in range(self.cfg.n_layer):
            feeds[f"past_k_{i}"] = cache.k[i]
            feeds[f"past_v_{i}"] = cache.v[i]
        out = self.session.run(self.output_names, feeds)
        cache.reserve(start + L)
        for i in range(self.cfg.n_layer):
            cache.k[i][..., start : start + L] = out[1 + 2 * i]
            cache.v[i][:, :, start : start + L] = out[2 + 2 * i]
        cache.length = start + L
        return out[0][:, n_pre:]

    def _masks(self, cache: OnnxCache, start: int, L: int) -> tuple[np.ndarray, np.ndarray]:
        """Additive masks: the cached positions each new one may see, and the new ones."""
        B, M = cache.batch, cache.cap
        P = self.cfg.prefix_len
        j = np.arange(M)
        seen = np.broadcast_to(j < start, (B, M))
        new_j = np.arange(start, start + L)
        causal = new_j[None, :] <= new_j[:, None]  # [L, L]
        if cache.left_pad.any():
            pad = cache.left_pad[:, None]
            seen = seen & ~((j >= P) & (j < P + pad))
            valid_new = ~((new_j >= P) & (new_j < P + pad))  # [B, L]
            see_new = causal[None] & valid_new[:, None, :]
            see_new = see_new | np.eye(L, dtype=bool)[None]  # a pad query sees itself
        else:
            see_new = np.broadcast_to(causal, (B, L, L))
        mask_past = np.where(seen[:, None, None, :], 0.0, -np.inf).astype(np.float32)
        mask_past = np.ascontiguousarray(np.broadcast_to(mask_past, (B, 1, L, M)))
        mask_new = np.where(see_new[:, None], 0.0, -np.inf).astype(np.float32)
        return mask_past, mask_new
