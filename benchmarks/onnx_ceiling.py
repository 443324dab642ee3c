"""The model's own speed on ONNX Runtime: forward steps alone, no sampling, no grammar.

What decoding at batch B could reach at best on this machine: a cache of `--contexts`
positions is filled once, then `--steps` one-token steps are timed for each graph (fp32
and int8), thread count, batch size and cache length, interleaved over `--runs` rounds
(medians); every timed step sees the same cached past. A short cache shows what the
weights' matrix products cost without attention over a long past; `numpy_attention_ms`
times that attention alone in NumPy over the same cache buffers (all layers), as an
independent check of what the past costs. The rows/s figure is B divided by the step
time: an upper bound on tokens/s for the whole decode loop, which adds sampling and the
grammar on top.

    python benchmarks/onnx_ceiling.py --out benchmarks/results/onnx_ceiling.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import SHIPPED, machine, write_json  # noqa: E402


def step_seconds(backend, batch: int, context: int, steps: int) -> tuple[float, int]:
    """Seconds per one-token step over `context` cached positions, and the cache buffer's
    length (positions) those steps attended over."""
    import numpy as np

    rng = np.random.default_rng(0)
    vocab = backend.cfg.vocab_size
    cache = backend.new_cache(batch, [0] * batch)
    backend.prefill(rng.integers(5, vocab, (batch, context)), None, None, cache)
    feed = rng.integers(5, vocab, (batch, 1))
    filled = cache.length
    for _ in range(10):  # warm-up (and the cache's first growth)
        backend.step(feed, cache)
    cache.length = filled
    t0 = time.perf_counter()
    for _ in range(steps):
        backend.step(feed, cache)
        cache.length = filled  # every timed step sees the same past
    return (time.perf_counter() - t0) / steps, cache.cap


def attention_seconds(cfg, batch: int, positions: int, steps: int) -> float:
    """One step's attention alone, in NumPy, over caches of `positions` (all layers): the
    part of a step that grows with the past, timed outside ONNX Runtime as a check."""
    import numpy as np

    H, hd = cfg.n_head, cfg.d_model // cfg.n_head
    rng = np.random.default_rng(0)
    ks = [rng.standard_normal((batch, H, hd, positions), np.float32) for _ in range(cfg.n_layer)]
    vs = [rng.standard_normal((batch, H, positions, hd), np.float32) for _ in range(cfg.n_layer)]
    q = rng.standard_normal((batch, H, 1, hd), np.float32)
    mask = np.zeros((batch, 1, 1, positions), np.float32)

    def step() -> None:
        for k, v in zip(ks, vs, strict=True):
            s = q @ k + mask
            e = np.exp(s - s.max(-1, keepdims=True))
            (e / e.sum(-1, keepdims=True)) @ v

    for _ in range(5):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    from tunesmith.generate.onnx_backend import INT8_FILE, ONNX_FILE, OnnxBackend
    from tunesmith.model.folder import resolve_model_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--batches", default="1,8,16")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--contexts", default="250,8", help="positions cached before timing")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/onnx_ceiling.json")
    args = ap.parse_args()
    folder = resolve_model_dir(args.model)
    load0 = os.getloadavg()[0]
    cells = [
        (graph, int(t), int(b), int(m))
        for graph in (ONNX_FILE, INT8_FILE)
        for t in args.threads.split(",")
        for b in args.batches.split(",")
        for m in args.contexts.split(",")
    ]
    backends = {(g, t): OnnxBackend.load(folder, threads=t, graph=g) for g, t, _, _ in cells}
    times: dict = {c: [] for c in cells}
    buffered: dict[int, int] = {}  # context -> the cache buffer its steps attended over
    for r in range(args.runs):
        for cell in cells if r % 2 == 0 else cells[::-1]:
            graph, threads, batch, context = cell
            seconds, buffered[context] = step_seconds(
                backends[graph, threads], batch, context, args.steps
            )
            times[cell].append(seconds)
    rows = []
    cfg = next(iter(backends.values())).cfg
    attention = {
        (b, m): statistics.median(
            attention_seconds(cfg, b, buffered[m], args.steps) for _ in range(args.runs)
        )
        for b in {c[2] for c in cells}
        for m in buffered
    }
    for (graph, threads, batch, context), ts in times.items():
        s = statistics.median(ts)
        rows.append(
            {
                "graph": graph,
                "threads": threads,
                "batch": batch,
                "context": context,
                "buffered_positions": buffered[context],
                "numpy_attention_ms": round(attention[batch, context] * 1e3, 3),
                "step_ms_median": round(s * 1e3, 3),
                "rows_per_s": round(batch / s),
                "runs_ms": [round(t * 1e3, 3) for t in ts],
            }
        )
        print(rows[-1], file=sys.stderr)
    longest = max(r["context"] for r in rows)
    best8 = max(r["rows_per_s"] for r in rows if r["batch"] == 8 and r["context"] == longest)
    best8_short = max(r["rows_per_s"] for r in rows if r["batch"] == 8)
    write_json(
        args.out,
        {
            "benchmark": "onnx_ceiling",
            "machine": machine(),
            "contexts": [int(m) for m in args.contexts.split(",")],
            "steps": args.steps,
            "load_average_1min": [round(load0, 2), round(os.getloadavg()[0], 2)],
            "rows": rows,
            "best_batch8_rows_per_s": best8,
            "best_batch8_rows_per_s_any_context": best8_short,
            "note": "forward steps alone: the decode loop's tokens/s at batch 8 cannot exceed "
            "best_batch8_rows_per_s on this machine (at the longest cache timed); with the "
            "shortest cache, best_batch8_rows_per_s_any_context",
        },
        model=args.model or SHIPPED,
    )


if __name__ == "__main__":
    main()
