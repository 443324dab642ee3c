"""Model v2 against v1 on the same held-out music: plain modelling, bar infill, and what
bar infill writes.

1. Plain generation loss (the validation split, each piece from its first bar, one block):
   nats per music token. v2's sequences carry a Harmony token per bar, which v2 must also
   predict; its cost is counted in v2's total and the total is divided by the same number
   of non-Harmony tokens as v1's, so the two figures are per the same music.
2. Bar infill (test-split pieces with at least hole + 2 bars; a hole of `--hole` bars at a
   random place with at least one bar on each side): the loss of the hole's tokens given
   the bars before and after it (v2's infill layout) against the same bars given only the
   bars before (plain continuation) with v2 and with v1. The bars before are the same in
   every condition.
3. Generation: `infill_bars` on test pieces written to MIDI: the kept bars identical
   token for token, the bar count kept, notes hanging from the new bars into the kept ones
   before `close_seams` cut them, and doubled notes at the seams (a new note starting on a
   pitch that a kept note of the same part still sounds).

    python benchmarks/infill.py --model runs/v2/model --baseline shipped --out benchmarks/results/infill.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_json  # noqa: E402


def load(path: str | None):
    from tunesmith.model.folder import resolve_model_dir
    from tunesmith.model.transformer import MusicTransformer
    from tunesmith.tokens.tokenizer import MusicTokenizer

    folder = resolve_model_dir(None if path in (None, "shipped") else path)
    return MusicTransformer.load(folder).eval(), MusicTokenizer.load(folder)


def nll(model, seq: list[int], score_from: int, count=None) -> tuple[float, int]:
    """Summed negative log-likelihood of seq[score_from:] given what precedes it, and the
    number of tokens counted (`count(token)` decides which count; all by default)."""
    import torch

    idx = torch.tensor([seq[:-1]])
    with torch.inference_mode():
        logits = model(idx, None, None)[0].float()
    lp = torch.log_softmax(logits, -1)
    targets = torch.tensor(seq[1:])
    rows = torch.arange(len(targets))
    token_lp = lp[rows, targets][score_from - 1 :]
    n = len(token_lp) if count is None else sum(count(t) for t in seq[score_from:])
    return float(-token_lp.sum()), n


def controls_of(info: dict, bars: int):
    from tunesmith.conditioning.controls import Controls

    c = info["controls"]
    return Controls(
        style=c.get("style"), key=c.get("key"), meter=c.get("meter"), tempo=c.get("tempo"),
        bars=min(bars, 64), instruments=c.get("instruments") or None,
    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="runs/v2/model")
    ap.add_argument("--baseline", default="shipped")
    ap.add_argument("--corpus", default="data/music21")
    ap.add_argument("--hole", type=int, default=2)
    ap.add_argument("--pieces", type=int, default=300, help="pieces per measurement")
    ap.add_argument("--generate", type=int, default=24, help="pieces to infill for real")
    ap.add_argument("--out", default="benchmarks/results/infill.json")
    args = ap.parse_args()
    import torch

    from tunesmith.data.dataset import load_token_dataset
    from tunesmith.tokens.layouts import bar_infill_context, split_bars, strip_extensions

    torch.manual_seed(0)
    v2, tok = load(args.model)
    v1, tok1 = load(args.baseline)
    assert tok.has_infill and not tok1.has_infill
    ds = load_token_dataset(Path(args.corpus) / "tokens" / tok.dir_name)
    harmony = set(tok.ids_with_prefix("Harmony_"))
    is_music = lambda t: t not in harmony  # noqa: E731
    block = v2.cfg.block_size
    t0 = time.perf_counter()

    # 1. plain loss on the validation split
    plain = {"v2": [0.0, 0], "v1": [0.0, 0]}
    for p in ds.split_indexes("val")[: args.pieces]:
        info = ds.pieces[int(p)]
        ids = ds.piece_ids(int(p)).astype(int).tolist()
        prefix = tok.prefix_ids(controls_of(info, len(ds.piece_bars(int(p)))))
        seq2 = (prefix + ids)[: block + 1]
        music_v2 = [t for t in seq2[len(prefix) :]]
        seq1 = prefix + strip_extensions(tok, music_v2)
        a, _ = nll(v2, seq2, len(prefix))
        b, n = nll(v1, seq1, len(prefix))
        plain["v2"][0] += a
        plain["v1"][0] += b
        plain["v2"][1] += n
        plain["v1"][1] += n
    # 2. bar infill losses on the test split
    rng = np.random.default_rng(0)
    hole = args.hole
    sums = {"v2_both_sides": [0.0, 0], "v2_left_only": [0.0, 0], "v1_left_only": [0.0, 0]}
    done = 0
    for p in ds.split_indexes("test"):
        if done >= args.pieces:
            break
        info = ds.pieces[int(p)]
        bars = split_bars(ds.piece_ids(int(p)).astype(int).tolist(), tok.bar_id)
        if len(bars) < hole + 2:
            continue
        i = int(rng.integers(1, len(bars) - hole))
        middle = [t for b in bars[i : i + hole] for t in b]
        prefix = tok.prefix_ids(controls_of(info, hole))
        room = block - len(prefix) - 4 - len(middle)
        if room < 40:
            continue
        before: list[int] = []
        for b in reversed(bars[:i]):
            if len(before) + len(b) > 0.6 * room:
                break
            before = b + before
        if not before:
            continue
        after: list[int] = []
        for b in bars[i + hole :]:
            if len(before) + len(after) + len(b) > room:
                break
            after += b
        both = prefix + bar_infill_context(tok, before, after) + middle
        a, n = nll(v2, both, len(both) - len(middle), is_music)
        left_prefix = tok.prefix_ids(
            controls_of(info, len(bars) - i + len(split_bars(before, tok.bar_id)))
        )
        left = left_prefix + before + middle
        b_, _ = nll(v2, left, len(left) - len(middle))
        left1 = left_prefix + strip_extensions(tok, before + middle)
        c, n1 = nll(v1, left1, len(left1) - len(strip_extensions(tok, middle)))
        assert n == n1
        for key, value in (("v2_both_sides", a), ("v2_left_only", b_), ("v1_left_only", c)):
            sums[key][0] += value
            sums[key][1] += n
        done += 1
    losses = {k: v[0] / max(v[1], 1) for k, v in sums.items()}
    print(
        f"plain: v2 {plain['v2'][0] / plain['v2'][1]:.4f} v1 {plain['v1'][0] / plain['v1'][1]:.4f}"
    )
    print("infill:", {k: round(v, 4) for k, v in losses.items()}, f"({done} holes)")

    # 3. bar infill for real, through the API
    from tunesmith.api import Composer
    from tunesmith.generate import parts

    composer = Composer.load(args.model)
    gen = {"pieces": 0, "kept_identical": 0, "bar_count_kept": 0, "hanging_cut": 0,
           "doubled_at_seams": 0, "seconds": []}  # fmt: skip

    import symusic

    from tunesmith.music.metrics import as_tick_score, bar_grid

    records = {r["id"]: r for r in ds.pieces}
    corpus = Path(args.corpus)
    from tunesmith.data.records import load_records

    paths = {r.id: corpus / r.midi_path for r in load_records(corpus)}
    tested = [ds.pieces[int(p)]["id"] for p in ds.split_indexes("test")]
    rng = np.random.default_rng(1)
    for rid in tested:
        if gen["pieces"] >= args.generate:
            break
        n_bars = int(records[rid].get("bars") or 0)
        if not 6 <= n_bars <= 40:
            continue
        score = symusic.Score(str(paths[rid]))
        i = int(rng.integers(2, n_bars - hole))
        t1 = time.perf_counter()
        piece = composer.infill(score, bars=(i, i + hole - 1), seed=int(rng.integers(1 << 30)))
        gen["seconds"].append(round(time.perf_counter() - t1, 2))
        original = composer.tokenizer.encode_music(score).ids.tolist()
        out_ids = strip_extensions(tok, piece.tokens[piece.tokens.index(tok.controls_end_id) + 1 :])
        out_ids = [t for t in out_ids if t != tok.eos_id]
        ob, nb = split_bars(original, tok.bar_id), split_bars(out_ids, tok.bar_id)
        gen["pieces"] += 1
        gen["bar_count_kept"] += len(ob) == len(nb)
        keep = [k for k in range(len(ob)) if not i - 1 <= k <= i + hole - 2]
        gen["kept_identical"] += len(ob) == len(nb) and all(ob[k] == nb[k] for k in keep)
        # the piece as written, before seams were closed: re-decode the tokens
        from tunesmith.render.piece import Piece

        raw = Piece.from_tokens(tok, piece.tokens, piece.controls).score
        gen["hanging_cut"] += parts.close_seams(raw, i, i + hole - 1)
        s = as_tick_score(piece.score)
        starts, lengths = bar_grid(s, max(1, int(s.end())))
        lo, hi = int(starts[i - 1]), int(starts[i + hole - 2] + lengths[i + hole - 2])
        for t in s.tracks:
            notes = sorted(t.notes, key=lambda n: n.time)
            for a_ in notes:
                for b2 in notes:
                    if b2 is a_ or b2.pitch != a_.pitch:
                        continue
                    new_a = lo <= a_.time < hi
                    new_b = lo <= b2.time < hi
                    if new_a != new_b and a_.time < b2.time < a_.time + a_.duration:
                        gen["doubled_at_seams"] += 1
    result = {
        "benchmark": "infill",
        "machine": machine(),
        "model": args.model,
        "baseline": args.baseline,
        "hole_bars": hole,
        "plain_val_loss": {
            "pieces": min(args.pieces, len(ds.split_indexes("val"))),
            "tokens": plain["v1"][1],
            "v2_nats_per_music_token_incl_harmony_cost": plain["v2"][0] / plain["v2"][1],
            "v1_nats_per_music_token": plain["v1"][0] / plain["v1"][1],
        },
        "bar_infill_loss": {"holes": done, "tokens": sums["v2_both_sides"][1], **losses},
        "generation": {
            **gen,
            "mean_seconds": float(np.mean(gen["seconds"])) if gen["seconds"] else None,
        },
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    write_json(args.out, result, model={"model": args.model, "baseline": args.baseline})
    print(result["generation"])


if __name__ == "__main__":
    main()
