"""A token dataset with one collection held out: the base for the fine-tuning study.

The fine-tuning study (benchmarks/finetune.py) needs a style the base model never heard.
The shipped model trained on the whole bundled corpus, so the study's base is trained on
the same corpus with one collection's pieces moved out of every split (their `split`
becomes "heldout"; the token arrays are shared through symbolic links, so this costs a
new index.json and nothing else):

    python benchmarks/hold_out.py --source bach --out data/study_no_bach \
        --export-midi data/style_bach --limit 150
    tunesmith train --config configs/study_no_bach.yaml --out-dir runs/study_no_bach

`--export-midi DIR` also copies the held-out collection's MIDI files (the first `--limit`
by piece id) into DIR: the style folder the study fine-tunes on and tests against.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import sys
from pathlib import Path

ARRAYS = ("tokens.npy", "offsets.npy", "bars.npy", "bar_offsets.npy", "text_emb.npy")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="data/music21", help="the prepared corpus")
    ap.add_argument("--tokens", default="REMI-harmony-infill", help="its tokenization folder")
    ap.add_argument("--source", required=True, help="the collection held out (an id prefix)")
    ap.add_argument("--out", required=True, help="the new corpus folder")
    ap.add_argument("--export-midi", type=Path, default=None, help="copy its MIDI files here")
    ap.add_argument("--limit", type=int, default=None, help="at most this many files")
    args = ap.parse_args()
    src = Path(args.corpus) / "tokens" / args.tokens
    dst = Path(args.out) / "tokens" / args.tokens
    index = json.loads((src / "index.json").read_text(encoding="utf-8"))
    moved: collections.Counter = collections.Counter()
    for piece in index["pieces"]:
        if piece["id"].split("_")[0] == args.source:
            moved[piece["split"]] += 1
            piece["split"] = "heldout"
    if not moved:
        print(f"no piece of {args.source!r} in {str(src)!r}", file=sys.stderr)
        return 2
    dst.mkdir(parents=True, exist_ok=True)
    for name in (*ARRAYS, "tokenizer.json", "text"):
        link = dst / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to((src / name).resolve())
    (dst / "index.json").write_text(json.dumps(index), encoding="utf-8")
    kept = collections.Counter(p["split"] for p in index["pieces"])
    report = {"held_out": dict(moved), "splits": dict(kept)}
    if args.export_midi is not None:
        ids = sorted(p["id"] for p in index["pieces"] if p["split"] == "heldout")
        args.export_midi.mkdir(parents=True, exist_ok=True)
        for pid in ids[: args.limit]:
            shutil.copy2(Path(args.corpus) / "midi" / f"{pid}.mid", args.export_midi)
        report["midi_files"] = len(ids[: args.limit])
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
