"""The two inference backends: ONNX Runtime gives PyTorch's logits through every cache
operation the decoding session uses, `auto` picks what can run, and generation needs no
PyTorch at all."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from tunesmith.errors import BadInputError, CheckpointError  # noqa: E402
from tunesmith.generate.backends import load_backend  # noqa: E402
from tunesmith.generate.onnx_backend import (  # noqa: E402
    GROW,
    OnnxBackend,
    export_is_current,
    export_onnx,
)
from tunesmith.generate.torch_backend import TorchBackend  # noqa: E402
from tunesmith.model.transformer import MusicTransformer  # noqa: E402

TOL = 1e-4  # the bound on logit differences; measured about 2e-5


@pytest.fixture(scope="module")
def pair(tiny_run):
    folder = tiny_run / "model"
    return OnnxBackend.load(folder), TorchBackend(MusicTransformer.load(folder))


def _close(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    assert np.abs(a - b).max() < TOL


def test_saving_a_model_writes_its_onnx_graph(tiny_run):
    folder = tiny_run / "model"
    assert (folder / "model.onnx").stat().st_size < 200_000  # the graph; weights stay put
    assert export_is_current(folder)


def test_onnx_follows_torch_through_prefill_steps_rewinds_and_reorders(pair):
    onnx_b, torch_b = pair
    cfg = onnx_b.cfg
    rng = np.random.default_rng(0)
    B = 3
    idx = rng.integers(5, cfg.vocab_size, (B, 20)).astype(np.int64)
    text = rng.standard_normal((B, cfg.text_dim)).astype(np.float32)
    use = np.array([True, False, True])
    for pads in ([0, 0, 0], [0, 4, 9]):  # rows of different lengths are left-padded
        co, ct = onnx_b.new_cache(B, pads), torch_b.new_cache(B, pads)
        _close(onnx_b.prefill(idx, text, use, co), torch_b.prefill(idx, text, use, ct))
        # past the first capacity step: the ONNX cache grows and keeps what it held
        for T in [1] * (GROW + 5) + [3]:
            feed = rng.integers(5, cfg.vocab_size, (B, T)).astype(np.int64)
            _close(onnx_b.step(feed, co), torch_b.step(feed, ct))
        assert co.length == ct.length and co.cap >= co.length
        co.length -= 2  # a rejected draft is dropped from both caches alike
        ct.length -= 2
        feed = rng.integers(5, cfg.vocab_size, (B, 2)).astype(np.int64)
        _close(onnx_b.step(feed, co), torch_b.step(feed, ct))
        onnx_b.reorder(co, [2, 0, 0])  # candidates kept and forked
        torch_b.reorder(ct, [2, 0, 0])
        feed = rng.integers(5, cfg.vocab_size, (B, 1)).astype(np.int64)
        _close(onnx_b.step(feed, co), torch_b.step(feed, ct))
    _close(onnx_b.logits(idx, text), torch_b.logits(idx, text))
    _close(onnx_b.logits(idx, None), torch_b.logits(idx, None))


def test_both_backends_write_the_same_piece(tiny_run):
    from tunesmith import Composer

    pieces = {}
    for name in ("onnx", "torch"):
        c = Composer.load(tiny_run, backend=name)
        assert c.backend.name == name
        p = c("a chorale in G major for two violins", bars=3, seed=11, candidates=2)
        pieces[name] = list(p.tokens)
    assert pieces["onnx"] == pieces["torch"]


def test_auto_picks_onnx_and_falls_back_to_torch(tiny_run, tmp_path, monkeypatch):
    monkeypatch.delenv("TUNESMITH_BACKEND", raising=False)
    folder = tmp_path / "model"
    shutil.copytree(tiny_run / "model", folder)
    assert load_backend(folder).name == "onnx"
    monkeypatch.setenv("TUNESMITH_BACKEND", "torch")  # what `tunesmith --backend torch` sets
    assert load_backend(folder).name == "torch"
    monkeypatch.delenv("TUNESMITH_BACKEND")
    # weights changed after the export: the stale graph is not used by auto ...
    state = json.loads((folder / "onnx.json").read_text())
    (folder / "onnx.json").write_text(json.dumps({**state, "weights_sha256": "0" * 64}))
    assert not export_is_current(folder)
    assert load_backend(folder).name == "torch"
    export_onnx(folder)  # ... until it is exported again
    assert load_backend(folder).name == "onnx"
    (folder / "model.onnx").unlink()
    assert load_backend(folder).name == "torch"
    with pytest.raises(CheckpointError, match="export-onnx"):
        load_backend(folder, "onnx")
    with pytest.raises(BadInputError, match="auto, onnx, onnx-int8, torch"):
        load_backend(folder, "tensorflow")


def test_int8_weights_stay_close_and_generate(tiny_run, pair):
    folder = tiny_run / "model"
    int8 = load_backend(folder, "onnx-int8")
    assert int8.name == "onnx-int8"
    assert (folder / "model.int8.onnx").stat().st_size < 0.5 * (
        folder / "model.safetensors"
    ).stat().st_size
    idx = np.random.default_rng(1).integers(5, int8.cfg.vocab_size, (2, 30)).astype(np.int64)
    fp32 = pair[0].logits(idx, None)
    q = int8.logits(idx, None)
    assert 0 < np.abs(q - fp32).max() < 1.0  # int8 rounding: close, not equal
    assert (q.argmax(-1) == fp32.argmax(-1)).mean() > 0.9

    from tunesmith import Composer

    piece = Composer.load(tiny_run, backend="onnx-int8")("a reel for fiddle", bars=2, seed=1)
    assert piece.num_notes > 0


def test_a_damaged_graph_is_one_clear_error(tiny_run, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_run / "model", folder)
    (folder / "model.onnx").write_bytes(b"not a graph")
    with pytest.raises(CheckpointError, match="model.onnx"):
        OnnxBackend.load(folder)


def test_generation_needs_no_pytorch(tiny_run, tmp_path):
    """A process where torch and transformers cannot be imported writes a piece."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        textwrap.dedent(
            """
            import sys

            class Block:
                def find_spec(self, name, path=None, target=None):
                    if name.split(".")[0] in ("torch", "transformers", "sentence_transformers"):
                        raise ImportError(f"{name} is blocked")
                    return None

            sys.meta_path.insert(0, Block())
            """
        )
    )
    code = textwrap.dedent(
        f"""
        import sys
        from tunesmith import Composer
        c = Composer.load({str(tiny_run)!r})
        piece = c("a reel in D major for fiddle", bars=2, seed=1)
        piece.save({str(tmp_path / "out.mid")!r})
        assert "torch" not in sys.modules
        print(c.backend.name, piece.num_notes)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), *sys.path])}
    env.pop("TUNESMITH_BACKEND", None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[0] == "onnx"
    assert (tmp_path / "out.mid").stat().st_size > 0
