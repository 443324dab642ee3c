"""The PyTorch backend: the `MusicTransformer` behind the decoding session's calls.

Arrays cross as NumPy (backends.py); on a CPU `torch.from_numpy` and `.numpy()` share
memory, so the conversions cost nothing measurable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..model.transformer import KVCache, MusicTransformer


class TorchBackend:
    """A cache, a prefill and a cached step of `model`, in and out as NumPy."""

    name = "torch"

    def __init__(self, model: MusicTransformer, threads: int | None = None) -> None:
        self.model = model.eval()
        self.cfg = model.cfg
        self.device = next(model.parameters()).device
        if threads:
            torch.set_num_threads(threads)

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(self.device)

    @staticmethod
    def _array(t: torch.Tensor) -> np.ndarray:
        return t.float().cpu().numpy()

    def new_cache(self, batch: int, left_pad: Sequence[int]) -> KVCache:
        cache = self.model.new_cache(batch)
        if any(left_pad):
            cache.left_pad = torch.tensor(list(left_pad), device=self.device)
        return cache

    @torch.inference_mode()
    def prefill(
        self,
        idx: np.ndarray,
        text_emb: np.ndarray | None,
        use_text: np.ndarray | None,
        cache: KVCache,
    ) -> np.ndarray:
        te = None if text_emb is None else self._tensor(text_emb)
        use = None if use_text is None else self._tensor(use_text)
        return self._array(self.model(self._tensor(idx), te, use, cache=cache)[:, -1])

    @torch.inference_mode()
    def step(self, feed: np.ndarray, cache: KVCache) -> np.ndarray:
        return self._array(self.model.step(self._tensor(feed), cache))

    def reorder(self, cache: KVCache, index: Sequence[int]) -> None:
        cache.reorder(torch.tensor(list(index), device=self.device))

    @torch.inference_mode()
    def logits(self, idx: np.ndarray, text_emb: np.ndarray | None) -> np.ndarray:
        te = None if text_emb is None else self._tensor(text_emb)
        return self._array(self.model(self._tensor(idx), te))
