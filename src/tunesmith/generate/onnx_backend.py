"""The ONNX Runtime backend: the music transformer without PyTorch.

`export_onnx(folder)` writes `model.onnx` beside a checkpoint's `model.safetensors`. The
graph holds no weights of its own: its initializers point into model.safetensors (ONNX
external data at the safetensors file's own offsets), so the export adds about 50 kB to a
model folder, not a second copy of the weights, and needs only the `onnx` package.

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

import hashlib
import json
import logging
import math
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import CheckpointError
from ..fileio import atomic_write_bytes, atomic_write_json
from ..model.config import ModelConfig

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
META_FILE = "onnx.json"
WEIGHTS_FILE = "model.safetensors"
OPSET = 20  # Gelu with approximate="tanh"
GROW = 64  # cache positions added at a time
FORMAT = 1  # bump when the graph's inputs or outputs change


# -- export ------------------------------------------------------------------------------------
def _safetensors_index(path: Path) -> tuple[dict[str, dict], int]:
    """The safetensors header (name -> dtype, shape, data_offsets) and where data starts."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return header, 8 + n


def _weights_digest(folder: Path) -> str:
    h = hashlib.sha256()
    with open(folder / WEIGHTS_FILE, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_is_current(folder: str | Path) -> bool:
    """model.onnx exists and was exported from this folder's weights in this format."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return (
        (folder / ONNX_FILE).is_file()
        and meta.get("format") == FORMAT
        and meta.get("weights_sha256") == _weights_digest(folder)
    )


def export_onnx(folder: str | Path) -> Path:
    """Write `folder`/model.onnx (and onnx.json) for the checkpoint in `folder`."""
    import onnx
    from onnx import TensorProto, helper

    folder = Path(folder)
    cfg = ModelConfig.from_dict(json.loads((folder / "config.json").read_text("utf-8"))["model"])
    if cfg.conditioning != "prefix":
        raise CheckpointError("only prefix-conditioned models export to ONNX (this one: cross)")
    header, data_start = _safetensors_index(folder / WEIGHTS_FILE)
    C, H, L, V = cfg.d_model, cfg.n_head, cfg.n_layer, cfg.vocab_size
    hd = C // H
    F32 = TensorProto.FLOAT

    inits = []

    def weight(name: str) -> str:
        """An initializer that reads tensor `name` straight from model.safetensors."""
        entry = header[name]
        if entry["dtype"] != "F32":
            raise CheckpointError(f"{name} is {entry['dtype']}; the ONNX export reads F32")
        begin, end = entry["data_offsets"]
        t = TensorProto()
        t.name, t.data_type = name, F32
        t.dims.extend(entry["shape"])
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", WEIGHTS_FILE), ("offset", data_start + begin)):
            t.external_data.add(key=k, value=str(v))
        t.external_data.add(key="length", value=str(end - begin))
        inits.append(t)
        return name

    nodes = []
    counter = [0]

    def op(kind: str, inputs: Sequence[str], n_out: int = 1, **attrs) -> list[str]:
        counter[0] += 1
        outs = [f"{kind.lower()}_{counter[0]}_{j}" for j in range(n_out)]
        nodes.append(helper.make_node(kind, list(inputs), outs, **attrs))
        return outs

    def const(name: str, values, dtype=np.int64) -> str:
        inits.append(onnx.numpy_helper.from_array(np.asarray(values, dtype=dtype), name))
        return name

    shape_2d = const("shape_2d", [-1, C])  # [B*T, C] for Gemm
    scale = const("scale", np.float32(hd**-0.5), np.float32)
    heads_bthd = const("shape_bthd", [0, 0, H, hd])

    def linear(x2d: str, w: str, b: str | None) -> str:
        """x2d [N, in] @ w[out, in]^T + b: Gemm reads the torch layout as it is."""
        args = [x2d, weight(w)] + ([weight(b)] if b else [])
        return op("Gemm", args, transB=1)[0]

    def layer_norm(x: str, prefix: str) -> str:
        return op(
            "LayerNormalization", [x, weight(f"{prefix}.weight"), weight(f"{prefix}.bias")],
            axis=-1, epsilon=1e-5,
        )[0]  # fmt: skip

    x = "x"
    shape_in = op("Shape", [x])[0]  # [B, T, C]
    bt = op("Slice", [shape_in, const("z", [0]), const("two", [2])])[0]
    shape_bt_any = op("Concat", [bt, const("minus1", [-1])], axis=0)[0]  # [B, T, -1]
    # How the probabilities split: the cache's M columns, then the T new ones.
    three, four = const("three", [3]), const("four", [4])
    m_len = op("Slice", [op("Shape", ["mask_past"])[0], three, four])[0]
    t_len = op("Slice", [op("Shape", ["mask_new"])[0], three, four])[0]
    split_sizes = op("Concat", [m_len, t_len], axis=0)[0]
    outputs = []
    for i in range(L):
        p = f"blocks.{i}"
        h2 = op("Reshape", [layer_norm(x, f"{p}.ln_1"), shape_2d])[0]
        qkv = op(
            "Reshape", [linear(h2, f"{p}.attn.qkv.weight", f"{p}.attn.qkv.bias"), shape_bt_any]
        )[0]
        q, k, v = op("Split", [qkv], 3, axis=2, num_outputs=3)
        q, k, v = (op("Reshape", [t, heads_bthd])[0] for t in (q, k, v))
        q = op("Transpose", [q], perm=[0, 2, 1, 3])[0]  # [B, H, T, hd]
        k_new = op("Transpose", [k], perm=[0, 2, 3, 1])[0]  # [B, H, hd, T]
        v_new = op("Transpose", [v], perm=[0, 2, 1, 3])[0]  # [B, H, T, hd]
        nodes.append(helper.make_node("Identity", [k_new], [f"new_k_{i}"]))
        nodes.append(helper.make_node("Identity", [v_new], [f"new_v_{i}"]))
        s_past = op("Mul", [op("MatMul", [q, f"past_k_{i}"])[0], scale])[0]
        s_new = op("Mul", [op("MatMul", [q, k_new])[0], scale])[0]
        s_past = op("Add", [s_past, "mask_past"])[0]
        s_new = op("Add", [s_new, "mask_new"])[0]
        probs = op("Softmax", [op("Concat", [s_past, s_new], axis=-1)[0]], axis=-1)[0]
        p_past, p_new = op("Split", [probs, split_sizes], 2, axis=-1)
        y = op("Add", [op("MatMul", [p_past, f"past_v_{i}"])[0], op("MatMul", [p_new, v_new])[0]])[
            0
        ]
        y = op("Reshape", [op("Transpose", [y], perm=[0, 2, 1, 3])[0], shape_2d])[0]
        y = op("Reshape", [linear(y, f"{p}.attn.proj.weight", f"{p}.attn.proj.bias"), shape_in])[0]
        x = op("Add", [x, y])[0]
        h2 = op("Reshape", [layer_norm(x, f"{p}.ln_2"), shape_2d])[0]
        h2 = op("Gelu", [linear(h2, f"{p}.mlp.0.weight", f"{p}.mlp.0.bias")], approximate="tanh")[0]
        h = op("Reshape", [linear(h2, f"{p}.mlp.2.weight", f"{p}.mlp.2.bias"), shape_in])[0]
        x = op("Add", [x, h])[0]
        outputs += [f"new_k_{i}", f"new_v_{i}"]
    h2 = op("Reshape", [layer_norm(x, "ln_f"), shape_2d])[0]
    logits2d = op("Gemm", [h2, weight("tok_emb.weight")], transB=1)[0]  # tied head
    nodes.append(helper.make_node("Reshape", [logits2d, shape_bt_any], ["logits"]))

    def tensor(name: str, shape: list) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, F32, shape)

    inputs = [
        tensor("x", ["B", "T", C]),
        tensor("mask_past", ["B", 1, "T", "M"]),
        tensor("mask_new", ["B", 1, "T", "T"]),
    ]
    for i in range(L):
        inputs += [
            tensor(f"past_k_{i}", ["B", H, hd, "M"]),
            tensor(f"past_v_{i}", ["B", H, "M", hd]),
        ]
    outs = [tensor("logits", ["B", "T", V])]
    for i in range(L):
        outs += [tensor(f"new_k_{i}", ["B", H, hd, "T"]), tensor(f"new_v_{i}", ["B", H, "T", hd])]
    graph = helper.make_graph(nodes, "tunesmith_decoder", inputs, outs, initializer=inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tunesmith"
    )
    model.ir_version = 9
    path = folder / ONNX_FILE
    atomic_write_bytes(path, model.SerializeToString())
    onnx.checker.check_model(str(path))  # by path: the external data is checked too
    _export_int8(folder)
    atomic_write_json(
        folder / META_FILE,
        {"format": FORMAT, "opset": OPSET, "weights_sha256": _weights_digest(folder)},
    )
    return path


def _export_int8(folder: Path) -> None:
    """model.int8.onnx: the graph with int8 weights (dynamic quantisation of every Gemm and
    MatMul with a weight), self-contained (about a quarter of the fp32 weights' size)."""
    import tempfile

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # the quantiser logs advice at WARNING
    try:
        full = onnx.load(str(folder / ONNX_FILE))  # with the weights, for the quantiser
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp) / "full.onnx", Path(tmp) / INT8_FILE
            onnx.save(full, str(src))
            quantize_dynamic(
                str(src),
                str(dst),
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["Gemm", "MatMul"],
            )
            atomic_write_bytes(folder / INT8_FILE, dst.read_bytes())
    finally:
        root.setLevel(level)


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
