"""Would the server gain from decoding concurrent requests as one batch? Measured here.

The server runs each request's decode in its own thread (`serve/limits.py`, two at once by
default) on a model loaded with one intra-op thread. Merging concurrent requests into one
batched decode is the alternative. Its best case is K requests with the same conditions,
which is exactly one session of K rows: that is what this compares, for K requests of
`--tokens` tokens each:

- `threads`: K single-row decodes on a pool of `--slots` threads, the model loaded with
  one thread (the server's way; single rows also get speculative drafts, draft.py);
- `batched`: one decode of K rows, the model loaded with ONNX Runtime's default threads
  (one per core: the best setting for one big decode).

Total generated tokens per second of wall time, medians over `--runs` interleaved rounds.

    python benchmarks/server_batching.py --out benchmarks/results/server_batching.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import SHIPPED, machine, write_json  # noqa: E402

PROMPT = "A lively Irish reel in D major for fiddle"


def decode(composer, rows: int, tokens: int, seed: int) -> int:
    """Tokens sampled by one decode of `rows` rows of `tokens` tokens each."""
    from tunesmith.conditioning.controls import Controls
    from tunesmith.generate.sampling import SamplingConfig

    c = composer.controls_for(PROMPT)
    c = Controls(**{**c.to_dict(), "bars": 256})  # the token budget ends it, not the bars
    s = SamplingConfig(seed=seed, max_tokens=tokens)
    return sum(r.n_sampled for r in composer.engine.generate(c, PROMPT, rows, s))


def threads_way(composer, k: int, slots: int, tokens: int, seed: int) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=slots) as pool:
        done = list(pool.map(lambda i: decode(composer, 1, tokens, seed * 100 + i), range(k)))
    return sum(done) / (time.perf_counter() - t0)


def batched_way(composer, k: int, tokens: int, seed: int) -> float:
    t0 = time.perf_counter()
    n = decode(composer, k, tokens, seed)
    return n / (time.perf_counter() - t0)


def main() -> None:
    from tunesmith import Composer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--requests", default="2,4,8", help="concurrent requests K, comma-separated")
    ap.add_argument("--slots", type=int, default=2, help="the server's max_concurrent")
    ap.add_argument("--tokens", type=int, default=480, help="tokens per request")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/server_batching.json")
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    one_thread = Composer.load(args.model, backend="onnx", threads=1)
    default = Composer.load(args.model, backend="onnx")
    ks = [int(k) for k in args.requests.split(",")]
    decode(one_thread, 1, 64, 0)  # warm-up: both models, a cache's first growth
    decode(default, 2, 64, 0)
    got: dict = {k: {"threads": [], "batched": []} for k in ks}
    for r in range(args.runs):
        for k in ks:
            order = ["threads", "batched"] if r % 2 == 0 else ["batched", "threads"]
            for name in order:
                if name == "threads":
                    rate = threads_way(one_thread, k, args.slots, args.tokens, r)
                else:
                    rate = batched_way(default, k, args.tokens, r)
                got[k][name].append(rate)
            print(f"round {r} K={k}: " + ", ".join(f"{n} {v[-1]:.0f}" for n, v in got[k].items()),
                  file=sys.stderr, flush=True)  # fmt: skip
    rows = []
    for k in ks:
        t, b = (statistics.median(got[k][n]) for n in ("threads", "batched"))
        rows.append(
            {
                "requests": k,
                "threads_tokens_per_s": round(t),
                "batched_tokens_per_s": round(b),
                "batched_vs_threads": round(b / t, 3),
                "all": {n: [round(x) for x in v] for n, v in got[k].items()},
            }
        )
    write_json(
        args.out,
        {
            "benchmark": "server_batching",
            "machine": machine(),
            "prompt": PROMPT,
            "tokens_per_request": args.tokens,
            "slots": args.slots,
            "runs": args.runs,
            "load_average_1min": [round(load0, 2), round(os.getloadavg()[0], 2)],
            "rows": rows,
        },
        model=args.model or SHIPPED,
    )


if __name__ == "__main__":
    main()
