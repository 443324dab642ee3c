"""Validation loss of a model with full conditions vs text dropped vs everything dropped.

    python benchmarks/conditioning.py --model src/tunesmith/checkpoints/default \
        --tokens data/music21/tokens/REMI --out benchmarks/results/conditioning.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_json  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", default="data/music21/tokens/REMI")
    ap.add_argument("--split", default="val")
    ap.add_argument("--batches", type=int, default=16)
    ap.add_argument("--out", default="benchmarks/results/conditioning.json")
    args = ap.parse_args()
    from tunesmith.evaluate.conditioning import conditioning_losses

    res = conditioning_losses(args.model, args.tokens, args.split, batches=args.batches)
    write_json(
        args.out, {"benchmark": "conditioning", "machine": machine(), **res}, model=args.model
    )


if __name__ == "__main__":
    main()
