"""How often the generated music's estimated key (Krumhansl-Kessler) matches the request,
with and without the scale-aware key bias.

    python benchmarks/key_accuracy.py --n 48 --bars 8 --out benchmarks/results/key_accuracy.json
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_json  # noqa: E402

FORMS = [
    ("reel", "fiddle"),
    ("jig", "flute"),
    ("chorale", "choir"),
    ("air", "tin whistle"),
    ("waltz", "piano"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--biases", default="0,1.5,3")
    ap.add_argument("--out", default="benchmarks/results/key_accuracy.json")
    args = ap.parse_args()

    from tunesmith import Composer
    from tunesmith.controls import KEYS
    from tunesmith.evaluate.metrics import compute_metrics

    composer = Composer.load(args.model)
    rng = random.Random(0)
    requests = []
    for i in range(args.n):
        form, instrument = FORMS[i % len(FORMS)]
        requests.append((f"a {form} in {rng.choice(KEYS)} for {instrument}", i))
    result = {"benchmark": "key_accuracy", "machine": machine(), "n": args.n, "bars": args.bars}
    for bias in (float(b) for b in args.biases.split(",")):
        hits, misses = 0, []
        for prompt, seed in requests:
            controls = composer.controls_for(prompt, bars=args.bars)
            sampling = composer.sampling_for(seed=seed).with_(key_bias=bias)
            piece = composer.generate_with(controls, sampling, prompt)
            got = compute_metrics(piece.score).get("key")
            if got == controls.key:
                hits += 1
            else:
                misses.append({"prompt": prompt, "estimated": got})
        result[f"bias_{bias:g}"] = {"accuracy": hits / len(requests), "misses": misses[:10]}
    write_json(args.out, result)


if __name__ == "__main__":
    main()
