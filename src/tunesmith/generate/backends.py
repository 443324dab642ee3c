"""Inference backends: what the decoding session needs from a model, and how to pick one.

A backend turns token ids into next-token logits with a KV cache. Everything crosses the
boundary as NumPy arrays, so the session, the grammar and the guides never need PyTorch:

- `TorchBackend` (torch_backend.py) runs the `MusicTransformer` itself; training and
  fine-tuning need it, and it is the reference the other is tested against.
- `OnnxBackend` (onnx_backend.py) runs the same weights exported to ONNX (model.onnx,
  written beside model.safetensors when a model is saved) on ONNX Runtime: the light
  install, without PyTorch. Its logits agree with PyTorch's within 1e-4, so a seed gives
  the same tokens. "onnx-int8" runs model.int8.onnx, the same graph with int8 weights
  (ONNX Runtime's dynamic quantisation): faster, other tokens for a seed, and a measured
  quality cost (benchmarks/onnx_int8.py, docs/BENCHMARKS.md).

`load_backend(folder, "auto")` picks ONNX when onnxruntime and the folder's model.onnx are
there and the export matches the weights, else PyTorch when it is installed.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import BadInputError, CheckpointError
from ..model.config import ModelConfig

BACKENDS = ("auto", "onnx", "onnx-int8", "torch")
ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"


class Backend(Protocol):
    """The model as the decoding session sees it. Its cache has `length` (positions
    filled, which the session may lower to drop rejected draft tokens) and `max_len`."""

    name: str
    cfg: ModelConfig

    def new_cache(self, batch: int, left_pad: list[int]) -> Any:
        """An empty cache for `batch` rows; row b has `left_pad[b]` pad positions."""
        ...

    def prefill(
        self, idx: np.ndarray, text_emb: np.ndarray | None, use_text: np.ndarray | None, cache: Any
    ) -> np.ndarray:
        """Logits [B, vocab] after the windows `idx` [B, T] (int64), filling `cache`.
        `text_emb` [B, text_dim] float32; `use_text` [B] bool (False: the null prefix)."""
        ...

    def step(self, feed: np.ndarray, cache: Any) -> np.ndarray:
        """Logits [B, T, vocab] for `feed` [B, T] appended to `cache`."""
        ...

    def reorder(self, cache: Any, index: list[int]) -> None:
        """Keep the cache's rows `index`, in that order (an index may repeat)."""
        ...

    def logits(self, idx: np.ndarray, text_emb: np.ndarray | None) -> np.ndarray:
        """Logits [B, T, vocab] at every position of `idx` [B, T] (no cache kept)."""
        ...


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def onnx_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def load_backend(folder: str | Path, backend: str = "auto", threads: int | None = None) -> Backend:
    """The model in checkpoint `folder` behind the backend asked for.

    "auto": the TUNESMITH_BACKEND environment variable when set, else ONNX Runtime when it
    is installed and the folder holds an up-to-date model.onnx, else PyTorch. Asking for a
    backend that cannot run says why.
    """
    if backend == "auto":  # `tunesmith --backend X` and server workers set this
        backend = os.environ.get("TUNESMITH_BACKEND", "auto") or "auto"
    if backend not in BACKENDS:
        raise BadInputError(
            f"unknown backend {backend!r}; choose from: {', '.join(BACKENDS)}", field="backend"
        )
    folder = Path(folder)
    if backend == "onnx-int8":
        if not onnx_available():
            raise BadInputError(
                "the onnx-int8 backend needs onnxruntime: pip install onnxruntime", field="backend"
            )
        if not (folder / INT8_FILE).is_file():
            raise CheckpointError(
                f"{str(folder)!r} has no {INT8_FILE}; export it with "
                f"'tunesmith export-onnx {folder}' (needs the onnx package)"
            )
        from .onnx_backend import OnnxBackend

        backend_int8 = OnnxBackend.load(folder, threads=threads, graph=INT8_FILE)
        backend_int8.name = "onnx-int8"
        return backend_int8
    onnx_ok = onnx_available() and (folder / ONNX_FILE).is_file()
    if backend == "onnx" or (backend == "auto" and onnx_ok):
        if not onnx_available():
            raise BadInputError(
                "the onnx backend needs onnxruntime: pip install onnxruntime", field="backend"
            )
        from .onnx_backend import OnnxBackend, export_is_current

        if not (folder / ONNX_FILE).is_file():
            if backend == "onnx":
                raise CheckpointError(
                    f"{str(folder)!r} has no {ONNX_FILE}; export it with "
                    f"'tunesmith export-onnx {folder}' (needs PyTorch)"
                )
        elif export_is_current(folder) or backend == "onnx" or not torch_available():
            return OnnxBackend.load(folder, threads=threads)
    if not torch_available() and backend == "torch":
        raise BadInputError(
            "the torch backend needs PyTorch: pip install 'tunesmith[train]'", field="backend"
        )
    if not torch_available():
        raise BadInputError(
            f"{str(folder)!r} has no usable {ONNX_FILE} and PyTorch is not installed: "
            "pip install 'tunesmith[train]', or export the model to ONNX",
            field="backend",
        )
    from ..model.transformer import MusicTransformer
    from .torch_backend import TorchBackend

    return TorchBackend(MusicTransformer.load(folder), threads=threads)
