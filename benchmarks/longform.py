"""Long-form composition: one chained piece per mode, timed and examined across its seams.

For each mode: compose `--chunks` chunks of `--chunk-bars` new bars with `--candidates`
candidates each (the shipped model, CPU), then report the time, the seam scores beside the
same score measured at in-chunk bar boundaries (the middle bar of every chunk), H4/GS of
every chunk (drift across the piece), the key estimate of every chunk (stability), and a
piano roll with the seams marked (docs/images/longform_MODE.png).

    python benchmarks/longform.py --modes chorale --chunks 8 --chunk-bars 18 --candidates 16
    python benchmarks/longform.py --modes chorale,quartet,invention,fugue,folk --candidates 4
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, peak_rss_mb, provenance, write_json  # noqa: E402

PROMPTS = {
    "chorale": "a four-part chorale in G major",
    "quartet": "a string quartet movement in D major",
    "invention": "a two-part invention in C major",
    "fugue": "a fugue in D minor for organ",
    "folk": "a set of Irish reels in D major for fiddle",
}


def piano_roll(piece, seams_bars, bar_ticks, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(14, 4))
    for i, t in enumerate(piece.score.tracks):
        for n in t.notes:
            ax.plot(
                [n.time / bar_ticks, n.end / bar_ticks], [n.pitch, n.pitch], lw=2, color=f"C{i}"
            )
    for s in seams_bars:
        ax.axvline(s, color="k", ls="--", lw=0.7)
    ax.set_xlabel("bar (dashed: seams between chunks)")
    ax.set_ylabel("MIDI pitch")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", default="chorale")
    ap.add_argument("--chunks", type=int, default=8)
    ap.add_argument("--chunk-bars", type=int, default=18)
    ap.add_argument("--candidates", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/longform.json")
    args = ap.parse_args()

    import numpy as np

    from tunesmith import Composer
    from tunesmith.generate.longform import LongFormSettings, apply_mode, compose_long, seam_fit
    from tunesmith.music.cadence import ends_on_tonic
    from tunesmith.music.metrics import compute_metrics
    from tunesmith.render.piece import Piece

    composer = Composer.load()
    tok = composer.tokenizer
    # Modes run separately are merged into one file (each keeps its own settings).
    previous = Path(args.out)
    result = json.loads(previous.read_text()) if previous.is_file() else {"modes": {}}
    result.update({"benchmark": "longform", "machine": machine()})
    for mode in args.modes.split(","):
        prompt = PROMPTS[mode]
        controls = apply_mode(composer.controls_for(prompt), mode)
        settings = LongFormSettings(args.chunks, args.chunk_bars, None, args.candidates)
        t0 = time.perf_counter()
        piece, reports = compose_long(
            composer, prompt, controls, composer.sampling_for(seed=args.seed), settings
        )
        seconds = time.perf_counter() - t0
        # Chunk boundaries in bars, and a per-chunk look at the stitched piece.
        starts = np.cumsum([0] + [r.new_bars for r in reports])
        music = piece.tokens[len(tok.prefix_ids(controls)) : -1]
        bar_pos = [i for i, t in enumerate(music) if t == tok.bar_id] + [len(music)]
        chunks = []
        for a, b in zip(starts[:-1], starts[1:], strict=True):
            part = Piece.from_tokens(tok, tok.prefix_ids(controls) + music[bar_pos[a] : bar_pos[b]]
                                     + [tok.eos_id], controls)  # fmt: skip
            m = compute_metrics(part.score) if part.num_notes else {}
            chunks.append({k: m.get(k) for k in ("H4", "GS", "notes_per_bar", "key")})
        key = controls.key
        seam_scores = [seam_fit(piece, int(s), key) for s in starts[1:-1]]
        inner = [
            seam_fit(piece, int(a + (b - a) // 2), key)
            for a, b in zip(starts[:-1], starts[1:], strict=True)
        ]
        keys = [c["key"] for c in chunks]
        cadences = [c["cadence"] for c in reports[-1].candidates if c.get("cadence") is not None]
        ts = piece.score.time_signatures[0]
        bar_ticks = int(ts.numerator * 4 / ts.denominator * piece.score.ticks_per_quarter)
        piano_roll(piece, starts[1:-1], bar_ticks, f"docs/images/longform_{mode}.png")
        result["modes"][mode] = {
            # modes are merged from separate runs: each keeps the run that made it
            "provenance": provenance(),
            "settings": vars(args),
            "prompt": prompt,
            "seconds": seconds,
            "bars": int(starts[-1]),
            "voices": sum(1 for t in piece.score.tracks if t.note_num()),
            "notes": piece.num_notes,
            "seam_fit_mean": float(np.mean(seam_scores)) if seam_scores else None,
            "in_chunk_fit_mean": float(np.mean(inner)),
            "per_chunk": chunks,
            "H4_drift": [c["H4"] for c in chunks],
            "GS_drift": [c["GS"] for c in chunks],
            "key_requested": key,
            "key_stability": float(np.mean([k == key for k in keys])) if key else None,
            "chosen_totals": [r.candidates[r.chosen]["total"] for r in reports],
            # the close: the last chunk's candidates scored on ending on the tonic
            "ends_on_tonic": ends_on_tonic(piece.score, key) if key else None,
            "last_chunk_cadence": {
                "candidates_mean": float(np.mean(cadences)) if cadences else None,
                "chosen": reports[-1].candidates[reports[-1].chosen].get("cadence"),
            },
            "chunk_seconds": [r.seconds for r in reports],
        }
        print(mode, f"{seconds:.1f} s", flush=True)
    result["peak_rss_mb"] = peak_rss_mb()
    result["target"] = "~140-bar 4-voice piece, 8 chunks x 16 candidates, <= 600 s"
    write_json(args.out, result)


if __name__ == "__main__":
    main()
