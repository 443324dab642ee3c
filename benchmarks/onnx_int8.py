"""Would int8 weights pay on this model? ONNX Runtime's dynamic int8 quantisation of the
exported decoder against its fp32 graph: per-token loss on validation pieces (the quality
cost) and decode speed through the product's loop at batch 1 and 8 (the gain), one run.

    python benchmarks/onnx_int8.py --out benchmarks/results/onnx_int8.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_json  # noqa: E402

PROMPT = "A lively Irish reel in D major for fiddle"


def nll(backend, seq: list[int], score_from: int) -> tuple[float, int]:
    from tunesmith.generate.sampling import log_softmax

    lp = log_softmax(backend.logits(np.array([seq[:-1]], dtype=np.int64), None)[0])
    targets = np.array(seq[1:])
    token_lp = lp[np.arange(len(targets)), targets][score_from - 1 :]
    return float(-token_lp.sum()), len(token_lp)


def speed(composer, batch: int, tokens: int, seed: int) -> float:
    from tunesmith.conditioning.controls import Controls
    from tunesmith.generate.sampling import SamplingConfig

    c = composer.controls_for(PROMPT)
    c = Controls(**{**c.to_dict(), "bars": 256})
    t0 = time.perf_counter()
    res = composer.engine.generate(c, PROMPT, batch, SamplingConfig(seed=seed, max_tokens=tokens))
    return sum(r.n_sampled for r in res) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="data/music21")
    ap.add_argument("--pieces", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--out", default="benchmarks/results/onnx_int8.json")
    args = ap.parse_args()
    from infill import controls_of  # noqa: E402

    from tunesmith import Composer
    from tunesmith.data.dataset import load_token_dataset
    from tunesmith.generate.onnx_backend import OnnxBackend
    from tunesmith.model.folder import resolve_model_dir

    folder = resolve_model_dir(None)  # its model.int8.onnx: export_onnx's quantisation
    backends = {
        "fp32": OnnxBackend.load(folder),
        "int8": OnnxBackend.load(folder, graph="model.int8.onnx"),
    }
    comp = Composer.load(folder, backend="onnx")
    tok = comp.tokenizer
    ds = load_token_dataset(Path(args.corpus) / "tokens" / tok.dir_name)
    block = comp.engine.cfg.block_size
    sums = {k: [0.0, 0] for k in backends}
    for p in ds.split_indexes("val")[: args.pieces]:
        info = ds.pieces[int(p)]
        ids = ds.piece_ids(int(p)).astype(int).tolist()
        prefix = tok.prefix_ids(controls_of(info, len(ds.piece_bars(int(p)))))
        seq = (prefix + ids)[: block + 1]
        for k, b in backends.items():
            s, n = nll(b, seq, len(prefix))
            sums[k][0] += s
            sums[k][1] += n
    loss = {k: s / n for k, (s, n) in sums.items()}
    composers = {"fp32": comp, "int8": Composer(backends["int8"], tok, folder)}
    rates: dict[str, dict[int, list[float]]] = {k: {1: [], 8: []} for k in composers}
    for batch in (1, 8):
        for seed in range(args.runs):
            for k, c in composers.items():  # alternated: the machine's load shifts
                rates[k][batch].append(speed(c, batch, args.tokens, seed))
    med = {k: {b: statistics.median(v) for b, v in r.items()} for k, r in rates.items()}
    result = {
        "command": "python " + " ".join(sys.argv),
        "pieces": args.pieces,
        "tokens_scored": sums["fp32"][1],
        "val_loss_per_token": loss,
        "val_loss_increase": loss["int8"] - loss["fp32"],
        "graph_mb": {
            "fp32": (folder / "model.onnx").stat().st_size / 1e6,
            "int8": (folder / "model.int8.onnx").stat().st_size / 1e6,
        },
        "tokens_per_s": {k: {f"batch{b}": v for b, v in m.items()} for k, m in med.items()},
        "speedup_int8": {f"batch{b}": med["int8"][b] / med["fp32"][b] for b in (1, 8)},
        "runs": args.runs,
        "machine": machine(),
    }
    write_json(args.out, result)
    print(result["val_loss_per_token"], result["tokens_per_s"], result["speedup_int8"])


if __name__ == "__main__":
    main()
