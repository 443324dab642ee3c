"""Export a checkpoint's decoder to ONNX (`model.onnx`, `model.int8.onnx`) for the
ONNX Runtime backend (generate/onnx_backend.py, which describes the graph's inputs).

The graph holds no weights of its own: its initializers point into model.safetensors
(ONNX external data at the safetensors file's own offsets), so the export adds about
25 kB to a model folder and needs only the `onnx` package (and onnxruntime's quantiser
for the int8 copy).
"""

from __future__ import annotations

import hashlib
import json
import logging
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import CheckpointError
from ..fileio import atomic_write_bytes, atomic_write_json
from .config import ModelConfig

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
META_FILE = "onnx.json"
WEIGHTS_FILE = "model.safetensors"
OPSET = 20  # Gelu with approximate="tanh"
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
