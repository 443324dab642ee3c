"""Can a single line's harmony be read from the line alone? (It decides model v2's data.)

Model v2 learns a chord token per bar (tokens/layouts.py). Pieces with two or more parts
get the texture's chord (music/chords.py `bar_harmony`). For single-line tunes the issue
asks for implied harmony "where it can be inferred reliably". This measures that where the
answer is known: on the prepared corpus's Bach chorales, the soprano alone is analysed bar
by bar (the same template analysis) and compared with the chord of the whole texture (same
root and triad family), for filters that keep only bars the line outlines clearly (at
least `tones` distinct pitch classes, chord tones at least `fit` of the note time).
Reported: coverage (bars kept) and agreement on them. The result (agreement about a fifth
at every useful coverage) is why single lines carry `Harmony_none`.

    python benchmarks/implied_harmony.py --corpus data/music21 --out benchmarks/results/implied_harmony.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import symusic

sys.path.insert(0, str(Path(__file__).parent))
from _common import NO_MODEL, write_json  # noqa: E402

from tunesmith.data.records import load_records  # noqa: E402
from tunesmith.music.chords import TRIAD_OF, analyse_chords  # noqa: E402
from tunesmith.music.metrics import as_tick_score  # noqa: E402


def soprano_rows(corpus: Path) -> tuple[int, np.ndarray]:
    """(chorales, rows of [distinct pitch classes, chord-tone share, agrees with texture])."""
    chorales, rows = 0, []
    for r in load_records(corpus):
        if r.source != "bach":
            continue
        score = as_tick_score(symusic.Score(str(corpus / r.midi_path)))
        tracks = [t for t in score.tracks if len(t.notes) and not t.is_drum]
        if len(tracks) < 3:
            continue
        chorales += 1
        full = [s.chord for s in analyse_chords(score, per="bar")]
        line = score.copy()
        line.tracks = type(score.tracks)()
        line.tracks.append(tracks[0].copy())
        notes = np.array([(n.time, n.time + n.duration, n.pitch % 12) for n in tracks[0].notes])
        for f, span in zip(full, analyse_chords(line, per="bar"), strict=False):
            if f is None or span.chord is None:
                continue
            overlap = np.minimum(notes[:, 1], span.end) - np.maximum(notes[:, 0], span.start)
            w = np.bincount(notes[:, 2][overlap > 0], weights=overlap[overlap > 0], minlength=12)
            inside = sum(w[p] for p in span.chord.pitch_classes) / w.sum()
            agrees = (
                span.chord.root == f.root and TRIAD_OF[span.chord.quality] == TRIAD_OF[f.quality]
            )
            rows.append((int((w > 0).sum()), float(inside), bool(agrees)))
    return chorales, np.array(rows, dtype=float)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="data/music21")
    ap.add_argument("--out", default="benchmarks/results/implied_harmony.json")
    args = ap.parse_args()
    chorales, rows = soprano_rows(Path(args.corpus))
    grid = []
    for tones in (1, 2, 3, 4):
        for fit in (0.0, 0.8, 0.9, 1.0):
            keep = (rows[:, 0] >= tones) & (rows[:, 1] >= fit - 1e-9)
            grid.append(
                {
                    "tones": tones,
                    "fit": fit,
                    "coverage": float(keep.mean()),
                    "agreement": float(rows[keep, 2].mean()) if keep.any() else None,
                }
            )
    result = {"chorales": chorales, "bars": len(rows), "filters": grid}
    write_json(Path(args.out), result, model=NO_MODEL)
    for g in grid:
        agreement = "-" if g["agreement"] is None else f"{g['agreement']:.1%}"
        print(
            f"tones >= {g['tones']}, fit >= {g['fit']:.1f}: "
            f"coverage {g['coverage']:.1%}, agreement {agreement}"
        )


if __name__ == "__main__":
    main()
