"""Do the Section controls steer form? A/B continuations of real openings, two models.

For pieces of the test split whose repeat structure the labeller recognises
(data/sections.py), the model is given the piece's first phrase (4 or 8 bars, as the
labeller counts them) and asked for the next phrase under Section_A ("the theme again")
or Section_B ("the contrast"), with the piece's other controls. The new phrase is compared
with the given one bar by bar (mean Jaccard similarity of (voice, onset, pitch) sets, the
labeller's own measure): a model that follows the controls makes A-continuations more like
the opening than B-continuations. Run for the shipped model (which never saw A/B labels)
and for a fine-tuned one (configs/form_finetune.yaml).

    python benchmarks/form.py --finetuned runs/form --out benchmarks/results/form.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_json  # noqa: E402


def continuations(composer, ds, pieces, seeds, section):
    from tunesmith.controls import Controls
    from tunesmith.data.sections import MATCH, _similarity, bar_contents, phrase_length
    from tunesmith.generate.sampling import SamplingConfig

    tok = composer.tokenizer
    sims = []
    for i in pieces:
        ids, bars = ds.piece_ids(i), ds.piece_bars(i)
        length = phrase_length(len(bars))
        opening = [int(t) for t in ids[bars[0] : bars[length]]]
        c = ds.pieces[i]["controls"]
        controls = Controls(
            style=c.get("style"), key=c.get("key"), meter=c.get("meter"), tempo=c.get("tempo"),
            instruments=c.get("instruments") or None, bars=2 * length, section=section,
        )  # fmt: skip
        for seed in seeds:
            res = composer.engine.generate(
                controls, None, 1, SamplingConfig(seed=seed), prompt_music=opening
            )[0]
            music = np.asarray(res.ids[res.music_start :], dtype=np.int64)
            starts = np.flatnonzero(music == tok.bar_id)
            if len(starts) < 2 * length:
                continue
            contents = bar_contents(tok, music, starts)
            sims.append(_similarity(contents[length : 2 * length], contents[:length]))
    sims = np.asarray(sims)
    return {
        "n": int(len(sims)),
        "mean_similarity_to_opening": round(float(sims.mean()), 4),
        "share_heard_as_A": round(float((sims >= MATCH).mean()), 4),
    }


def sonata_key_plan(composer, seeds, chunk_bars: int = 8) -> dict:
    """--form sonata with the given model: is each section heard in its planned key?"""
    from tunesmith.api import Composer
    from tunesmith.evaluate.keys import estimate_key
    from tunesmith.generate.longform import LongFormSettings, apply_mode, compose_long

    rows, hits = [], 0
    for seed in seeds:
        prompt = "a string quartet movement in C major"
        controls = apply_mode(composer.controls_for(prompt), "quartet")
        settings = LongFormSettings(chunk_bars=chunk_bars, candidates=4, form="sonata")
        piece, reports = compose_long(
            composer, prompt, controls, Composer.sampling_for(seed=seed), settings
        )
        tpq = piece.score.ticks_per_quarter
        ts = piece.score.time_signatures[0] if len(piece.score.time_signatures) else None
        bar = int(tpq * 4 * (ts.numerator / ts.denominator if ts else 1))
        keys, first = [], 0
        for r in reports:
            lo, hi = first * bar, (first + r.new_bars) * bar
            hist = np.zeros(12)
            for t in piece.score.tracks:
                for n in t.notes:
                    if lo <= n.time < hi and not t.is_drum:
                        hist[n.pitch % 12] += n.duration
            est = estimate_key(hist)
            keys.append(est[0] if est else None)
            first += r.new_bars
        planned = ["C major", "G major", "A minor", "C major", "C major"]
        hits += sum(k == p for k, p in zip(keys, planned, strict=True))
        rows.append({"seed": seed, "planned": planned, "estimated": keys})
    return {"pieces": rows, "sections_in_planned_key": f"{hits}/{5 * len(seeds)}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--finetuned", required=True, help="fine-tuned model or run folder")
    ap.add_argument("--data", default="data/music21/tokens/REMI")
    ap.add_argument("--pieces", type=int, default=60)
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--out", default="benchmarks/results/form.json")
    args = ap.parse_args()

    from tunesmith.api import Composer
    from tunesmith.data.dataset import load_token_dataset
    from tunesmith.data.sections import section_of_bar

    ds = load_token_dataset(args.data)
    test = [int(i) for i in ds.split_indexes("test")]
    labelled = [i for i in test if section_of_bar(ds.tokenizer, ds.piece_ids(i), ds.piece_bars(i))]
    pieces = labelled[: args.pieces]
    seeds = [int(s) for s in args.seeds.split(",")]
    result = {
        "benchmark": "form",
        "machine": machine(),
        "command": "python benchmarks/form.py " + " ".join(sys.argv[1:]),
        "test_pieces_labelled": len(labelled),
        "pieces": len(pieces),
        "seeds": seeds,
        "models": {},
    }
    for name, path in (("shipped", None), ("finetuned", args.finetuned)):
        composer = Composer.load(path)
        rows = {s: continuations(composer, ds, pieces, seeds, s) for s in ("A", "B")}
        rows["A_minus_B_similarity"] = round(
            rows["A"]["mean_similarity_to_opening"] - rows["B"]["mean_similarity_to_opening"], 4
        )
        result["models"][name] = rows
    result["sonata_key_plan_shipped"] = sonata_key_plan(Composer.load(None), seeds)
    write_json(args.out, result)


if __name__ == "__main__":
    main()
