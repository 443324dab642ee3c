"""Reference metric values of real music (a split of a prepared corpus), per form.

    python benchmarks/reference_metrics.py --corpus data/music21 --split test \
        --out benchmarks/results/reference_test.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import NO_MODEL, write_json  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="data/music21")
    ap.add_argument("--split", default="test")
    ap.add_argument("--out", default="benchmarks/results/reference_test.json")
    args = ap.parse_args()
    from tunesmith.evaluate.reference import markdown_table, reference_metrics

    ref = reference_metrics(args.corpus, args.split)
    write_json(args.out, ref, model=NO_MODEL)
    print(markdown_table(ref))


if __name__ == "__main__":
    main()
