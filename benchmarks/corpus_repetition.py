"""How much literal repetition does a token corpus hold? Form labels, piece length, copyable tokens.

For each tokenized corpus (e.g. data/music21 as notated and data/music21x with repeats
played out): training pieces, how many the section labeller finds a form in
(data/sections.py) and which, mean bars per piece, and over the first 512 tokens of each of
the first 400 training pieces the share of positions whose preceding 12 tokens occurred
earlier in the piece, with how often the token that followed them then is the same one (what
a model that copies from its context could get right).

    python benchmarks/corpus_repetition.py data/music21/tokens/REMI data/music21x/tokens/REMI
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import NO_MODEL, machine, write_json  # noqa: E402

CONTEXT = 12
WINDOW = 512


def copyable(ids: list[int]) -> tuple[int, int]:
    """(positions whose CONTEXT-token past occurred before, of those the same next token)."""
    seen: dict[tuple, int] = {}
    found = right = 0
    for t in range(CONTEXT, len(ids)):
        ctx = tuple(ids[t - CONTEXT : t])
        if ctx in seen:
            found += 1
            right += ids[seen[ctx]] == ids[t]
        seen[ctx] = t
    return found, right


def corpus_figures(root: str, sample: int) -> dict:
    from tunesmith.data.dataset import load_token_dataset
    from tunesmith.data.sections import bar_contents, phrase_labels

    ds = load_token_dataset(root)
    train = ds.split_indexes("train")
    forms: collections.Counter = collections.Counter()
    bars_total = 0
    for i in train:
        ids, bars = ds.piece_ids(i), ds.piece_bars(i)
        bars_total += len(bars)
        found = phrase_labels(bar_contents(ds.tokenizer, ids, bars))
        if found:
            forms["".join(found[1][:4])] += 1
    positions = found_n = right_n = 0
    for i in train[:sample]:
        ids = ds.piece_ids(i)[:WINDOW].tolist()
        positions += len(ids)
        f, r = copyable(ids)
        found_n += f
        right_n += r
    return {
        "train_pieces": int(len(train)),
        "pieces_with_form": int(sum(forms.values())),
        "forms_first_four_phrases": dict(forms.most_common(6)),
        "mean_bars": round(bars_total / len(train), 2),
        "sampled_pieces": int(min(sample, len(train))),
        "share_positions_context_seen_before": round(found_n / positions, 4),
        "share_copy_right": round(right_n / max(found_n, 1), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tokens", nargs="+", help="token folders (CORPUS/tokens/REMI)")
    ap.add_argument("--sample", type=int, default=400)
    ap.add_argument("--out", default="benchmarks/results/corpus_repetition.json")
    args = ap.parse_args()
    result = {
        "benchmark": "corpus_repetition",
        "machine": machine(),
        "command": "python benchmarks/corpus_repetition.py " + " ".join(sys.argv[1:]),
        "context_tokens": CONTEXT,
        "corpora": {root: corpus_figures(root, args.sample) for root in args.tokens},
    }
    write_json(args.out, result, model=NO_MODEL)
    for root, fig in result["corpora"].items():
        print(root, fig)


if __name__ == "__main__":
    main()
