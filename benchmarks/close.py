"""Do generated pieces close on the tonic, alone and as the best of N by the scorer?

The model, stopped after the requested bars, rarely ends with the tonic in the bass
(benchmarks/form.py); the best-of-N scorer counts the close (music/cadence.py). Same
requests and seeds for every N, so the candidates=1 row is the baseline of the same run.

    python benchmarks/close.py --n 48 --bars 8 --candidates 1,4,8 --out benchmarks/results/close.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_json  # noqa: E402
from key_accuracy import key_requests  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--candidates", default="1,4,8")
    ap.add_argument("--out", default="benchmarks/results/close.json")
    args = ap.parse_args()

    import numpy as np

    from tunesmith import Composer
    from tunesmith.music.cadence import cadence_fit, ends_on_tonic

    composer = Composer.load(args.model)
    requests = key_requests(args.n)
    result = {
        "benchmark": "close",
        "machine": machine(),
        "command": "python benchmarks/close.py " + " ".join(sys.argv[1:]),
        "n": args.n,
        "bars": args.bars,
        "by_candidates": {},
    }
    for n in (int(x) for x in args.candidates.split(",")):
        tonic, fit, t0 = [], [], time.perf_counter()
        for prompt, seed in requests:
            controls = composer.controls_for(prompt, bars=args.bars)
            piece = composer.generate_with(controls, composer.sampling_for(seed=seed), prompt, n)
            tonic.append(bool(ends_on_tonic(piece.score, controls.key)))
            fit.append(cadence_fit(piece.score, controls.key))
        result["by_candidates"][str(n)] = {
            "ends_on_tonic": round(float(np.mean(tonic)), 4),
            "cadence_fit_mean": round(float(np.mean(fit)), 4),
            "seconds_per_piece": round((time.perf_counter() - t0) / len(requests), 3),
        }
        print(n, result["by_candidates"][str(n)], flush=True)
    write_json(args.out, result, model=args.model)


if __name__ == "__main__":
    main()
