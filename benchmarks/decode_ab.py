"""Decode speed of this checkout against an earlier commit, alternating, in one run.

The machine is noisy (a single run varies by +-20 %), so the two versions take turns:
each round starts a fresh process per version that loads the shipped model and times
`Engine.generate` for 256 new tokens at batch 1 and 8 over a few seeds (medians). The
earlier commit is checked out into a temporary worktree. Used to show that a refactor
of the decode loop did not change its speed.

    python benchmarks/decode_ab.py --base 353cdb2 --rounds 3 --out benchmarks/results/decode_ab.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import checkout, machine, write_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TIMER = """
import json, statistics, sys, time
sys.path.insert(0, sys.argv[1])
from tunesmith import Composer
try:
    from tunesmith.conditioning.controls import Controls
except ImportError:  # before the conditioning/ package existed
    from tunesmith.controls import Controls
from tunesmith.generate.sampling import SamplingConfig
c = Composer.load()
P = "A lively Irish reel in D major for fiddle"
ctl = Controls(**{**c.controls_for(P).to_dict(), "bars": 256})
emb = c.engine.text_embedding(P)
c.engine.generate(ctl, P, 1, SamplingConfig(seed=99, max_tokens=64), text_emb=emb)
out = {}
for batch in (1, 8):
    rates = []
    for seed in range(int(sys.argv[2])):
        t0 = time.perf_counter()
        res = c.engine.generate(ctl, P, batch, SamplingConfig(seed=seed, max_tokens=256), text_emb=emb)
        rates.append(sum(r.n_sampled for r in res) / (time.perf_counter() - t0))
    out[str(batch)] = statistics.median(rates)
print(json.dumps(out))
"""


def time_version(src: Path, seeds: int) -> dict[str, float]:
    res = subprocess.run(
        [sys.executable, "-c", TIMER, str(src), str(seeds)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the earlier commit to compare with")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=4, help="seeds per batch size and round")
    ap.add_argument("--out", default="benchmarks/results/decode_ab.json")
    args = ap.parse_args()
    with checkout(args.base) as base:
        runs: dict[str, list[dict[str, float]]] = {"base": [], "this": []}
        for _ in range(args.rounds):
            runs["base"].append(time_version(base / "src", args.seeds))
            runs["this"].append(time_version(ROOT / "src", args.seeds))
    summary = {}
    for batch in ("1", "8"):
        b = statistics.median(r[batch] for r in runs["base"])
        t = statistics.median(r[batch] for r in runs["this"])
        summary[f"batch{batch}"] = {
            "base_tokens_per_s": round(b, 1),
            "this_tokens_per_s": round(t, 1),
            "this_over_base": round(t / b, 3),
        }
    write_json(
        args.out,
        {
            "benchmark": "decode_ab",
            "machine": machine(),
            "base_commit": args.base,
            "rounds": args.rounds,
            "seeds": args.seeds,
            "runs": runs,
            "summary": summary,
        },
    )


if __name__ == "__main__":
    main()
