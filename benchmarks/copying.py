"""Does a model copy its training data? Verbatim note runs shared with the training split.

A model trained for many epochs on a small corpus can learn pieces by heart. Each piece is
read as its notes in token order, each note as (bar step, position, interval from the
previous note, duration): transposition-invariant, since training transposes every piece.
A window of `--window` consecutive notes (16 by default: two to four bars of a tune) is
"copied" when the same window occurs anywhere in the training split. Per model, over the
public prompt set (one piece per prompt, seed 1), it reports the share of windows copied
and the pieces whose longest copied run covers at least half the piece; the held-out test
pieces, measured the same way against the training split, are the reference for how much
folk and chorale music shares with itself.

It also splits the validation pieces by how much of each occurs in the training split
(none of its windows; at least half of the piece) and gives each model's loss on each group,
from the piece's first bar, one block: a model that learns pieces by heart gains most on
the leaked group, and the clean group is the honest held-out figure.

    python benchmarks/copying.py --models runs/v2_1/model,runs/v2_2/model --out benchmarks/results/copying.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_json  # noqa: E402


def note_codes(tok, ids) -> np.ndarray:
    """One integer per note: (new bar, position, interval to the previous pitch, duration)."""
    codes: list[int] = []
    bar, pos, prev = 0, 0, None
    pending: int | None = None
    for i in ids:
        name = tok.token(int(i))
        kind, _, value = name.partition("_")
        if kind == "Bar":
            bar = 1
        elif kind == "Position":
            pos = int(value)
        elif kind == "Pitch":
            p = int(value)
            pending = (p - prev) if prev is not None else 0
            prev = p
        elif kind == "Duration" and pending is not None:
            codes.append(((bar * 64 + pos) * 256 + (pending + 128)) * 1024 + int(i))
            bar, pending = 0, None
    return np.asarray(codes, dtype=np.int64)


def window_hashes(codes: np.ndarray, window: int) -> np.ndarray:
    if len(codes) < window:
        return np.zeros(0, dtype=np.uint64)
    h = np.zeros(len(codes) - window + 1, dtype=np.uint64)
    c = codes.astype(np.uint64)
    for k in range(window):
        h = h * np.uint64(1_000_003) + c[k : k + len(h)]
    return h


def copied(hashes: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Which windows occur in `train` (sorted, unique)."""
    if not len(hashes):
        return np.zeros(0, dtype=bool)
    at = np.minimum(np.searchsorted(train, hashes), len(train) - 1)
    return train[at] == hashes


def longest_run(flags: np.ndarray) -> int:
    best = run = 0
    for f in flags:
        run = run + 1 if f else 0
        best = max(best, run)
    return best


def summarize(pieces: list[np.ndarray], train: np.ndarray, window: int) -> dict:
    shares, halves, n_windows = [], 0, 0
    for codes in pieces:
        flags = copied(window_hashes(codes, window), train)
        if not len(flags):
            continue
        n_windows += len(flags)
        shares.append(float(flags.mean()))
        # a run of r >= 1 copied windows covers r + window - 1 notes
        run = longest_run(flags)
        if run and run + window - 1 >= len(codes) / 2:
            halves += 1
    return {
        "pieces": len(shares),
        "windows": n_windows,
        "mean_share_of_windows_copied": round(float(np.mean(shares)), 4) if shares else None,
        "pieces_half_copied": halves,
        "share_pieces_half_copied": round(halves / max(1, len(shares)), 4),
    }


def leak_groups(ds, tok, train: np.ndarray, window: int) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {"clean": [], "leaked": []}
    for i in ds.split_indexes("val"):
        codes = note_codes(tok, ds.piece_ids(int(i)))
        flags = copied(window_hashes(codes, window), train)
        if not len(flags):
            continue
        if not flags.any():
            groups["clean"].append(int(i))
        elif longest_run(flags) + window - 1 >= len(codes) / 2:
            groups["leaked"].append(int(i))
    return groups


def group_loss(model_dir: str, ds, pieces: list[int]) -> float:
    """Nats per token of each piece from its first bar (one block), like infill.py's."""
    from infill import controls_of, load, nll

    model, tok = load(model_dir)
    total, count = 0.0, 0
    for p in pieces:
        ids = ds.piece_ids(p).astype(int).tolist()
        prefix = tok.prefix_ids(controls_of(ds.pieces[p], len(ds.piece_bars(p))))
        seq = (prefix + ids)[: model.cfg.block_size + 1]
        a, n = nll(model, seq, len(prefix))
        total, count = total + a, count + n
    return total / max(1, count)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", required=True, help="comma-separated model folders")
    ap.add_argument("--tokens", default="data/music21/tokens/REMI-harmony-infill")
    ap.add_argument("--prompts", default="prompts/eval.jsonl")
    ap.add_argument("--window", type=int, default=16)
    ap.add_argument("--out", default="benchmarks/results/copying.json")
    args = ap.parse_args()
    from tunesmith import Composer
    from tunesmith.data.dataset import load_token_dataset
    from tunesmith.evaluate.prompts import load_prompts

    t0 = time.perf_counter()
    ds = load_token_dataset(args.tokens)
    tok = ds.tokenizer
    train_hashes = np.unique(
        np.concatenate(
            [
                window_hashes(note_codes(tok, ds.piece_ids(i)), args.window)
                for i in ds.split_indexes("train")
            ]
        )
    )
    test = [note_codes(tok, ds.piece_ids(i)) for i in ds.split_indexes("test")]
    results = {"test_pieces": summarize(test, train_hashes, args.window)}
    print("test", results["test_pieces"], file=sys.stderr)
    models = args.models.split(",")
    groups = leak_groups(ds, tok, train_hashes, args.window)
    results["val_loss_by_group"] = {
        "pieces": {g: len(v) for g, v in groups.items()},
        **{m: {g: round(group_loss(m, ds, v), 4) for g, v in groups.items()} for m in models},
    }
    print(results["val_loss_by_group"], file=sys.stderr)
    prompts = load_prompts(args.prompts)
    for model in models:
        composer = Composer.load(model)
        pieces = []
        for p in prompts:
            controls = composer.controls_for(p.prompt)
            res = composer.engine.generate(controls, p.prompt, 1, composer.sampling_for(seed=1))[0]
            pieces.append(note_codes(composer.tokenizer, res.ids[res.music_start :]))
        results[model] = summarize(pieces, train_hashes, args.window)
        print(model, results[model], file=sys.stderr)
    write_json(
        args.out,
        {
            "benchmark": "copying",
            "machine": machine(),
            "window_notes": args.window,
            "train_windows": int(len(train_hashes)),
            "prompts": len(prompts),
            "results": results,
            "wall_s": round(time.perf_counter() - t0, 1),
        },
        model={m: m for m in models},
    )


if __name__ == "__main__":
    main()
