"""The text encoder on ONNX Runtime: all-MiniLM-L6-v2 without PyTorch or transformers.

The graph (`checkpoints/text_encoder/model.onnx`, written by
`scripts/export_text_encoder.py`) returns MiniLM's last hidden state; tokenization uses the
model's own `tokenizer.json` with the `tokenizers` package (truncation to 128 tokens,
padding to the longest text of a batch, as the PyTorch encoder does), and mean pooling and
the L2 norm are done here in NumPy. Agreement with the PyTorch encoder is measured by
`benchmarks/text_encoder.py` (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path

import numpy as np

TEXT_DIM = 384
MAX_TEXT_TOKENS = 128

#: The shipped encoder folder: model.onnx, tokenizer.json, README.md, LICENSE.
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "checkpoints" / "text_encoder"


def onnx_available(model_dir: str | Path | None = None) -> bool:
    """Whether the ONNX encoder can run: onnxruntime and tokenizers installed and the
    folder (the shipped one by default) holding model.onnx and tokenizer.json."""
    folder = Path(model_dir) if model_dir is not None else SHIPPED_DIR
    return (
        find_spec("onnxruntime") is not None
        and find_spec("tokenizers") is not None
        and (folder / "model.onnx").is_file()
        and (folder / "tokenizer.json").is_file()
    )


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of `hidden` [n, tokens, d] over the tokens where `mask` [n, tokens] is 1, then
    L2-normalised (as sentence-transformers' Pooling + Normalize)."""
    m = mask.astype(np.float32)[:, :, None]
    pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
    norm = np.linalg.norm(pooled, axis=-1, keepdims=True)
    return (pooled / np.maximum(norm, 1e-12)).astype(np.float32)


class OnnxTextEncoder:
    """Mean-pooled, L2-normalised MiniLM sentence embeddings (384-d) on ONNX Runtime."""

    backend = "onnx"

    def __init__(self, model_dir: str | Path | None = None, threads: int | None = None) -> None:
        """`threads`: intra-op threads (default: the CPU cores, at most 4 — a 22 M-parameter
        encoder gains little beyond that and should not crowd out the decoder)."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = Path(model_dir) if model_dir is not None else SHIPPED_DIR
        self.model_dir = folder
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TEXT_TOKENS)
        pad_id = self.tokenizer.token_to_id("[PAD]") or 0
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token="[PAD]")  # to the longest

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3  # errors only
        self.session = ort.InferenceSession(
            str(folder / "model.onnx"), sess_options=opts, providers=["CPUExecutionProvider"]
        )

    def encode(self, texts: list[str], batch_size: int = 128) -> np.ndarray:
        """Embeddings of `texts` as float32 [len(texts), 384]; empty input -> [0, 384]."""
        out = np.zeros((len(texts), TEXT_DIM), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start : start + batch_size])
            encodings = self.tokenizer.encode_batch(chunk)
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            (hidden,) = self.session.run(
                ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask}
            )
            out[start : start + len(chunk)] = mean_pool(hidden, mask)
        return out
